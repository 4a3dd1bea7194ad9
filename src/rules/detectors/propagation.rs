//! CTX-001 (`broken-propagation`): client calls to a service that does emit SERVER spans, but
//! whose SERVER spans never join the caller's trace.
//!
//! A service is known by its own name and by the addresses its SERVER spans report
//! (`server.address`/`net.host.name` with `server.port`/`net.host.port`), so a call that no
//! server span answered, and that the store could therefore only name by its peer address, is
//! still tied to its service. Each such unanswered call is matched to a SERVER span of that
//! service that starts a new trace (no parent) within the call's interval (± `slack`) and, when
//! both record it, on the same path: the request arrived, the context did not. The share of
//! orphaned calls per edge flags at `min_share` with ≥ `min_calls` calls.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::model::attrs::Attributes;
use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `broken-propagation` (CTX-001).
pub const BROKEN: DetectorDef = DetectorDef {
    name: "broken-propagation",
    implements: "CTX-001",
    summary: "calls whose server spans start new traces instead of joining the caller's",
    params: &[
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "20",
            doc: "calls on the edge needed to judge it",
        },
        ParamDef {
            name: "min_share",
            kind: ParamKind::Ratio,
            default: "0.2",
            doc: "share of the edge's calls answered by a new root that flags",
        },
        ParamDef {
            name: "slack",
            kind: ParamKind::Duration,
            default: "\"5ms\"",
            doc: "clock tolerance when a root span is matched to a call's interval",
        },
    ],
    build,
};

#[derive(Debug)]
struct Broken {
    min_calls: usize,
    min_share: f64,
    slack_ns: u64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Broken {
        min_calls: p.count("min_calls").max(1) as usize,
        min_share: p.number("min_share"),
        slack_ns: p.duration_ns("slack"),
    }))
}

/// The address a SERVER span says it was reached at, joined as the store joins a client's
/// peer (`host:port`, default ports dropped).
fn served_at(a: &Attributes) -> Option<String> {
    let host = a.first_str(&["server.address", "net.host.name"])?;
    Some(match a.first_i64(&["server.port", "net.host.port"]) {
        Some(p) if p > 0 && p != 80 && p != 443 => format!("{host}:{p}"),
        _ => host.to_string(),
    })
}

/// The path of a request: the client's URL path, the server's `url.path`/`http.target`.
fn client_path(a: &Attributes) -> Option<&str> {
    let url = a.first_str(&["url.full", "http.url"])?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = &rest[rest.find('/')?..];
    Some(path.split(['?', '#']).next().unwrap_or(path))
}

fn server_path(a: &Attributes) -> Option<&str> {
    let p = a.first_str(&["url.path", "http.target"])?;
    Some(p.split(['?', '#']).next().unwrap_or(p))
}

/// Per edge: calls, orphaned calls (their traces, and the orphan roots' traces).
#[derive(Default)]
struct Tally {
    calls: usize,
    answered: usize,
    orphaned: Vec<(u32, u32)>,
}

impl Detector for Broken {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        // Addresses → service, from SERVER spans (an address two services claim is dropped).
        let mut addr: HashMap<String, Option<Arc<str>>> = HashMap::new();
        // Root SERVER spans per service, in start order.
        let mut roots: BTreeMap<Arc<str>, Vec<u32>> = BTreeMap::new();
        for (i, ib) in cx.inbound.iter().enumerate() {
            let s = cx.inbound_span(ib);
            if let Some(a) = served_at(&s.attributes) {
                let e = addr.entry(a).or_insert_with(|| Some(ib.service.clone()));
                if e.as_ref().is_some_and(|x| *x != ib.service) {
                    *e = None;
                }
            }
            if !s.has_parent() {
                roots.entry(ib.service.clone()).or_default().push(i as u32);
            }
        }
        let mut used = vec![false; cx.inbound.len()];
        let mut edges: BTreeMap<(Arc<str>, Arc<str>), Tally> = BTreeMap::new();
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&f) = idx.first() else { continue };
            let kind = cx.calls[f as usize].kind;
            if !matches!(kind, DepKind::Http | DepKind::Rpc) || !rule.edge(caller, dep, kind) {
                continue;
            }
            let service: Arc<str> = if cx.is_service(dep) {
                dep.clone()
            } else {
                match addr.get(dep.as_ref()) {
                    Some(Some(s)) => s.clone(),
                    _ => continue,
                }
            };
            if *caller == service {
                continue;
            }
            let t = edges.entry((caller.clone(), service.clone())).or_default();
            let candidates = roots.get(&service).map_or(&[][..], Vec::as_slice);
            for &ci in idx {
                let c = &cx.calls[ci as usize];
                t.calls += 1;
                if c.answered_by.is_some() {
                    t.answered += 1;
                    continue;
                }
                let path = client_path(&cx.span(c).attributes);
                let lo = c.start.saturating_sub(self.slack_ns);
                let hi = c.end.saturating_add(self.slack_ns);
                let first = candidates.partition_point(|&r| cx.inbound[r as usize].start < lo);
                let hit = candidates[first..]
                    .iter()
                    .take_while(|&&r| cx.inbound[r as usize].start <= hi)
                    .find(|&&r| {
                        let ib = &cx.inbound[r as usize];
                        !used[r as usize]
                            && ib.trace != c.trace
                            && match (path, server_path(&cx.inbound_span(ib).attributes)) {
                                (Some(a), Some(b)) => a == b,
                                _ => true,
                            }
                    });
                if let Some(&r) = hit {
                    used[r as usize] = true;
                    t.orphaned.push((c.trace, cx.inbound[r as usize].trace));
                }
            }
        }
        for ((caller, service), t) in edges {
            if t.orphaned.is_empty() && t.calls >= self.min_calls {
                out.checked += 1;
                continue;
            }
            let subject = Subject::edge(&caller, &service);
            if t.calls < self.min_calls {
                if !t.orphaned.is_empty() {
                    out.undecided.push(Undecided {
                        subject,
                        missing: format!("{} calls, needs {}", t.calls, self.min_calls),
                        samples: t.calls as u64,
                    });
                }
                continue;
            }
            out.checked += 1;
            let share = t.orphaned.len() as f64 / t.calls as f64;
            if share < self.min_share {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add("calls", t.calls);
            ev.add("answered_in_trace", t.answered);
            ev.add("answered_by_new_root", t.orphaned.len());
            ev.add("broken_share", share);
            ev.add(
                "orphan_root_traces",
                exemplars(cx, t.orphaned.iter().map(|o| o.1), 3).join(", "),
            );
            out.hits.push(Hit {
                subject,
                adjust: if share >= 0.99 {
                    Adjust::Keep
                } else {
                    Adjust::Lower
                },
                message: format!(
                    "broken context propagation: {} of {} calls from {caller} were answered by {service} in a new trace ({:.0}%); the caller does not send, or {service} does not accept, the trace context",
                    t.orphaned.len(),
                    t.calls,
                    share * 100.0
                ),
                evidence: ev,
                trace_ids: exemplars(cx, t.orphaned.iter().map(|o| o.0), 5),
                samples: t.calls as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(format!(
                "no HTTP/RPC edge to a service that emits SERVER spans with {} calls",
                self.min_calls
            ));
        }
        out
    }
}
