//! STA-001 (`stateful-handler`): a service that only works because each session keeps landing
//! on the same instance.
//!
//! Per service with ≥ 2 instances, SERVER spans are grouped by session key (the first of
//! `keys` present). A key counts when it has ≥ `min_requests` requests over ≥ `min_key_span`
//! served while ≥ 2 instances were active (served something in the same `activity_bin`), and
//! came from ≥ 2 caller instances or connections — so HTTP/2 and gRPC connection pinning (one
//! connection, one backend) is not mistaken for stickiness; on HTTP/2 and gRPC only distinct
//! caller instances count. Affinity a_k = (p_k − 1/m_k)/(1 − 1/m_k) with p_k the largest share on
//! one instance and m_k the mean active instances; sticky when the median A ≥ 0.8 over ≥ 20 keys.
//! Switch events (consecutive requests of a key on different instances) that are followed by
//! auth/conflict/5xx errors at ≥ 3× the baseline rate and +5 points, over ≥ 10 switches, show
//! dependence on in-instance state.
//!
//! Apps that set no session attribute: with `client_fallback`, a request without any of `keys`
//! is keyed by `client.address` + `user_agent.original` (one browser or app install), the way
//! an L7 balancer's source affinity sees it. Restarts and scale-in: a switch forced because the
//! key's previous instance served nothing after it (it vanished; an instance with the same
//! `service.instance.id` but another `process.pid` is a restarted one) is counted apart; state
//! errors after ≥ `min_vanished_switches` such switches at the same factor and points over the
//! baseline show in-instance state as well, even when routing is not sticky.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, Inbound, exemplars, median};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};
use crate::model::attrs::Indexed;
use crate::model::dependency::operation_parts;
use crate::model::span::{Resource, Span, SpanKind};
use crate::rules::compile::{Globs, globs};

/// `stateful-handler` (STA-001).
pub const STATEFUL: DetectorDef = DetectorDef {
    name: "stateful-handler",
    implements: "STA-001",
    summary: "per-session instance affinity, and errors or re-logins after a session moves instance",
    params: &[
        ParamDef {
            name: "keys",
            kind: ParamKind::TextList,
            default: "[\"session.id\", \"user.id\", \"enduser.id\"]",
            doc: "session-key attributes on SERVER spans, first present wins",
        },
        ParamDef {
            name: "min_requests",
            kind: ParamKind::Count,
            default: "5",
            doc: "requests a key needs",
        },
        ParamDef {
            name: "min_key_span",
            kind: ParamKind::Duration,
            default: "\"30s\"",
            doc: "time between a key's first and last request",
        },
        ParamDef {
            name: "min_keys",
            kind: ParamKind::Count,
            default: "20",
            doc: "keys needed to judge affinity",
        },
        ParamDef {
            name: "sticky_affinity",
            kind: ParamKind::Ratio,
            default: "0.8",
            doc: "median affinity A that means sticky",
        },
        ParamDef {
            name: "activity_bin",
            kind: ParamKind::Duration,
            default: "\"1m\"",
            doc: "an instance is active if it served a request in the same bin",
        },
        ParamDef {
            name: "min_switches",
            kind: ParamKind::Count,
            default: "10",
            doc: "instance switches needed to judge state dependence",
        },
        ParamDef {
            name: "switch_error_factor",
            kind: ParamKind::Number,
            default: "3.0",
            doc: "error rate after a switch vs the baseline",
        },
        ParamDef {
            name: "switch_error_points",
            kind: ParamKind::Ratio,
            default: "0.05",
            doc: "... and at least this many points above it",
        },
        ParamDef {
            name: "client_fallback",
            kind: ParamKind::Flag,
            default: "true",
            doc: "key requests without `keys` by client.address + user_agent.original",
        },
        ParamDef {
            name: "min_vanished_switches",
            kind: ParamKind::Count,
            default: "5",
            doc: "switches forced by a vanished (restarted, scaled-in) instance needed",
        },
        ParamDef {
            name: "reinit_operations",
            kind: ParamKind::TextList,
            default: "[\"*login*\", \"*signin*\", \"*auth*\", \"*session*\"]",
            doc: "operations that re-initialize a session (globs)",
        },
    ],
    build,
};

#[derive(Debug)]
struct Stateful {
    keys: Vec<String>,
    min_requests: usize,
    min_key_span: u64,
    min_keys: usize,
    sticky: f64,
    bin: u64,
    min_switches: usize,
    factor: f64,
    points: f64,
    client_fallback: bool,
    min_vanished: usize,
    reinit: Globs,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    if p.list("keys").is_empty() {
        return Err(vec![(
            "params.keys".into(),
            "needs at least one attribute name".into(),
        )]);
    }
    Ok(Box::new(Stateful {
        keys: p.list("keys").to_vec(),
        min_requests: p.count("min_requests").max(2) as usize,
        min_key_span: p.duration_ns("min_key_span"),
        min_keys: p.count("min_keys").max(1) as usize,
        sticky: p.number("sticky_affinity"),
        bin: p.duration_ns("activity_bin").max(1_000_000_000),
        min_switches: p.count("min_switches").max(1) as usize,
        factor: p.number("switch_error_factor"),
        points: p.number("switch_error_points"),
        client_fallback: p.flag("client_fallback"),
        min_vanished: p.count("min_vanished_switches").max(1) as usize,
        reinit: globs("params.reinit_operations", p.list("reinit_operations"))?,
    }))
}

/// Statuses that show lost session state: auth, not found, conflict, gone, precondition,
/// session expired (419, 440); plus any 5xx.
fn state_error(status: Option<i64>, error: bool) -> bool {
    match status {
        Some(s) => matches!(s, 401 | 403 | 404 | 409 | 410 | 412 | 419 | 440) || s >= 500,
        None => error,
    }
}

/// Who sent a request: the calling instance, else (HTTP/1) the client connection. Two callers
/// are the same when both kind and name are.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    /// The client span's instance.
    Instance(Arc<str>),
    /// `host:port` of the client connection.
    Connection(String),
}

struct Req<'a> {
    ib: &'a Inbound,
    instance: Arc<str>,
    /// The instance's life: its id and, when the resource says, its `process.pid`.
    life: Arc<str>,
    caller: Option<Caller>,
    status: Option<i64>,
}

impl Detector for Stateful {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut reinit_memo = ReinitMemo::default();
        for (svc, idx) in &cx.by_service {
            if !rule.service(svc) {
                continue;
            }
            let mut by_key: BTreeMap<String, Vec<Req<'_>>> = BTreeMap::new();
            let mut active: BTreeMap<u64, BTreeSet<Arc<str>>> = BTreeMap::new();
            let mut load: BTreeMap<Arc<str>, u64> = BTreeMap::new();
            let mut last_seen: BTreeMap<Arc<str>, u64> = BTreeMap::new();
            let mut lives: HashMap<*const Resource, Arc<str>> = HashMap::new();
            for &i in idx {
                let ib = &cx.inbound[i as usize];
                let span = cx.inbound_span(ib);
                if span.kind != SpanKind::Server {
                    continue;
                }
                let Some(inst) = ib.instance.clone() else {
                    continue;
                };
                active
                    .entry(ib.start / self.bin)
                    .or_default()
                    .insert(inst.clone());
                *load.entry(inst.clone()).or_default() += 1;
                let a = &span.attributes;
                // The life is the resource's (its instance and pid): named once per resource.
                let life = lives
                    .entry(Arc::as_ptr(&span.resource))
                    .or_insert_with(|| {
                        Arc::from(match span.resource.attributes.get("process.pid") {
                            Some(pid) => format!("{inst}#{}", pid.to_display()),
                            None => inst.to_string(),
                        })
                    })
                    .clone();
                let seen = last_seen.entry(life.clone()).or_default();
                *seen = (*seen).max(ib.start);
                let Some(key) = self
                    .keys
                    .iter()
                    .find_map(|k| a.get(k).map(|v| format!("{k}={}", v.to_display())))
                    .or_else(|| self.client_key(a))
                else {
                    continue;
                };
                let caller = ib.caller_call.and_then(|c| {
                    cx.calls[c as usize]
                        .caller_instance
                        .clone()
                        .map(Caller::Instance)
                });
                let conn = match (
                    a.first_str(&[
                        "client.address",
                        "network.peer.address",
                        "net.sock.peer.addr",
                        "net.peer.ip",
                    ]),
                    a.first_i64(&[
                        "client.port",
                        "network.peer.port",
                        "net.sock.peer.port",
                        "net.peer.port",
                    ]),
                ) {
                    (Some(h), Some(p)) => Some(Caller::Connection(format!("{h}:{p}"))),
                    _ => None,
                };
                let h2 = a
                    .first_str(&["network.protocol.version", "http.flavor"])
                    .is_some_and(|v| v.starts_with('2') || v.starts_with('3'))
                    || a.first_str(&["rpc.system", "rpc.system.name"]).is_some();
                by_key.entry(key).or_default().push(Req {
                    ib,
                    instance: inst,
                    life,
                    caller: caller.or(if h2 { None } else { conn }),
                    status: a.first_i64(&["http.response.status_code", "http.status_code"]),
                });
            }
            if load.len() < 2 || by_key.is_empty() {
                continue;
            }
            let subject = Subject::service(svc);
            // Affinity over qualifying keys.
            let mut affinities = Vec::new();
            let mut pinned_only = 0usize;
            let mut heat: Vec<(usize, String)> = Vec::new();
            for (key, reqs) in &by_key {
                let multi: Vec<&Req<'_>> = reqs
                    .iter()
                    .filter(|r| {
                        active
                            .get(&(r.ib.start / self.bin))
                            .is_some_and(|s| s.len() >= 2)
                    })
                    .collect();
                if multi.len() < self.min_requests {
                    continue;
                }
                let span = multi[multi.len() - 1].ib.start - multi[0].ib.start;
                if span < self.min_key_span {
                    continue;
                }
                let callers: BTreeSet<&Caller> =
                    multi.iter().filter_map(|r| r.caller.as_ref()).collect();
                if callers.len() < 2 {
                    pinned_only += 1;
                    continue;
                }
                let mut per: BTreeMap<&str, usize> = BTreeMap::new();
                for r in &multi {
                    *per.entry(&r.instance).or_default() += 1;
                }
                let p = per.values().copied().max().unwrap_or(0) as f64 / multi.len() as f64;
                let m = multi
                    .iter()
                    .map(|r| active.get(&(r.ib.start / self.bin)).map_or(1, |s| s.len()) as f64)
                    .sum::<f64>()
                    / multi.len() as f64;
                let a = if m > 1.0 {
                    ((p - 1.0 / m) / (1.0 - 1.0 / m)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                affinities.push(a);
                heat.push((
                    multi.len(),
                    format!(
                        "{key}: {}",
                        per.iter()
                            .map(|(i, n)| format!("{i}×{n}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            }
            let svc_last = last_seen.values().copied().max().unwrap_or(0);
            // Switch events over all keys.
            let mut switches = 0usize;
            let mut switch_err = 0usize;
            let mut base = 0usize;
            let mut base_err = 0usize;
            let mut reinit = 0usize;
            let mut vanished = 0usize;
            let mut vanished_err = 0usize;
            let mut err_traces = Vec::new();
            for reqs in by_key.values() {
                for (j, r) in reqs.iter().enumerate() {
                    let e = state_error(r.status, r.ib.error);
                    let switched = j > 0 && reqs[j - 1].life != r.life;
                    // Vanished: served nothing after this request, and was gone for at least an
                    // activity bin before the service's last request (not just the window's end).
                    if switched
                        && last_seen.get(&reqs[j - 1].life).is_some_and(|&t| {
                            t < r.ib.start && t.saturating_add(self.bin) <= svc_last
                        })
                    {
                        vanished += 1;
                        if e {
                            vanished_err += 1;
                            err_traces.push(r.ib.trace);
                        }
                    }
                    if switched {
                        switches += 1;
                        if e {
                            switch_err += 1;
                            err_traces.push(r.ib.trace);
                        }
                        if self.reinit_follows(
                            cx,
                            r.ib,
                            reqs.get(j + 1).map(|n| n.ib),
                            &mut reinit_memo,
                        ) {
                            reinit += 1;
                        }
                    } else if j > 0 {
                        base += 1;
                        base_err += usize::from(e);
                    }
                }
            }
            let switch_rate = if switches > 0 {
                switch_err as f64 / switches as f64
            } else {
                0.0
            };
            let base_rate = if base > 0 {
                base_err as f64 / base as f64
            } else {
                0.0
            };
            let vanished_rate = if vanished > 0 {
                vanished_err as f64 / vanished as f64
            } else {
                0.0
            };
            let after_vanish = vanished >= self.min_vanished
                && vanished_rate >= self.factor * base_rate
                && vanished_rate >= base_rate + self.points;
            let stateful = (switches >= self.min_switches
                && switch_rate >= self.factor * base_rate
                && switch_rate >= base_rate + self.points)
                || after_vanish;
            let judged_affinity = affinities.len() >= self.min_keys;
            let mut aff_sorted = affinities.clone();
            let a_med = median(&mut aff_sorted);
            let sticky = judged_affinity && a_med.is_some_and(|a| a >= self.sticky);
            if !judged_affinity && switches < self.min_switches && vanished < self.min_vanished {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{} qualifying session keys (needs {}; {} keys came from a single caller connection), {} instance switches (needs {})",
                        affinities.len(), self.min_keys, pinned_only, switches, self.min_switches
                    ),
                    samples: by_key.len() as u64,
                });
                continue;
            }
            out.checked += 1;
            if !stateful && !sticky {
                continue;
            }
            heat.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let loads: Vec<f64> = load.values().map(|&v| v as f64).collect();
            let mean_load = loads.iter().sum::<f64>() / loads.len() as f64;
            let skew = loads.iter().copied().fold(0.0, f64::max) / mean_load.max(1.0);
            let mut ev = Evidence::default();
            ev.add(
                "class",
                if stateful {
                    "stateful handler (errors after instance switch)"
                } else {
                    "sticky sessions (affinity only)"
                },
            );
            ev.add("instances", load.len());
            ev.add("keys_judged", affinities.len());
            if let Some(a) = a_med {
                ev.add("affinity_median", a);
            }
            ev.add("switches", switches);
            ev.add("switch_error_rate", switch_rate);
            ev.add("baseline_error_rate", base_rate);
            ev.add("reinit_after_switch", reinit);
            ev.add("switches_from_vanished_instance", vanished);
            ev.add("error_rate_after_vanished_instance", vanished_rate);
            ev.add("keys_single_connection", pinned_only);
            ev.add("instance_load_skew", skew);
            for (i, (_, h)) in heat.iter().take(3).enumerate() {
                ev.add(&format!("key_{}", i + 1), h.as_str());
            }
            let msg = if after_vanish {
                format!(
                    "sessions depend on in-instance state: {vanished} requests moved off an instance that vanished (restart or scale-in) and {:.0}% of them failed (baseline {:.1}%), {reinit} re-initializations followed",
                    vanished_rate * 100.0,
                    base_rate * 100.0,
                )
            } else if stateful {
                format!(
                    "sessions depend on in-instance state: after {switches} instance switches {:.0}% of requests failed (baseline {:.1}%), {reinit} re-initializations followed{}",
                    switch_rate * 100.0,
                    base_rate * 100.0,
                    a_med
                        .filter(|_| judged_affinity)
                        .map(|a| format!("; affinity A={a:.2} over {} keys", affinities.len()))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "sticky sessions: median affinity A={:.2} over {} keys on {} instances; no state dependence shown ({} switches)",
                    a_med.unwrap_or(0.0),
                    affinities.len(),
                    load.len(),
                    switches
                )
            };
            let traces: Vec<u32> = if err_traces.is_empty() {
                idx.iter()
                    .take(5)
                    .map(|&i| cx.inbound[i as usize].trace)
                    .collect()
            } else {
                err_traces
            };
            out.hits.push(Hit {
                subject,
                adjust: if stateful { Adjust::Keep } else { Adjust::Info },
                message: msg,
                evidence: ev,
                trace_ids: exemplars(cx, traces, 5),
                samples: (affinities.len() + switches) as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(format!(
                "no service in scope with ≥ 2 instances (service.instance.id) and SERVER spans carrying a session key ({})",
                self.keys.join(", ")
            ));
        }
        out
    }
}

impl Stateful {
    /// The fallback key: the client's address and user agent, both needed.
    fn client_key(&self, a: &crate::model::attrs::Attributes) -> Option<String> {
        if !self.client_fallback {
            return None;
        }
        let addr = a.first_str(&["client.address", "http.client_ip"])?;
        let ua = a.first_str(&["user_agent.original", "http.user_agent"])?;
        Some(format!("client={addr} ua={ua}"))
    }

    /// Whether a session re-initialization followed a switched request: a span after it in the
    /// same trace (or the key's next request) whose operation matches `reinit_operations`, or
    /// a `session.start` event.
    fn reinit_follows(
        &self,
        cx: &Context<'_>,
        r: &Inbound,
        next: Option<&Inbound>,
        memo: &mut ReinitMemo,
    ) -> bool {
        let t = cx.trace(r.trace);
        let later = t.spans.iter().filter(|s| s.start_ns >= r.end).any(|s| {
            memo.operation_matches(&self.reinit, s)
                || memo.matches(&self.reinit, &s.name)
                || s.events().iter().any(|e| &*e.name == "session.start")
        });
        later || next.is_some_and(|n| memo.operation_matches(&self.reinit, cx.inbound_span(n)))
    }
}

/// `reinit_operations` asked of operations and span names, once per distinct text: a switched
/// request asks it of every later span of its trace, and traces repeat a few names.
#[derive(Default)]
struct ReinitMemo {
    seen: HashMap<Box<str>, bool>,
    op: String,
}

impl ReinitMemo {
    /// Whether `text` matches a non-empty `globs`.
    fn matches(&mut self, globs: &Globs, text: &str) -> bool {
        if let Some(&v) = self.seen.get(text) {
            return v;
        }
        let v = globs.matches_some(text);
        self.seen.insert(text.into(), v);
        v
    }

    /// Whether the span's operation (`model::dependency::operation`) matches.
    fn operation_matches(&mut self, globs: &Globs, s: &Span) -> bool {
        let mut op = std::mem::take(&mut self.op);
        op.clear();
        for part in operation_parts(&Indexed::new(&s.attributes), &s.name) {
            op.push_str(part);
        }
        let v = self.matches(globs, &op);
        self.op = op;
        v
    }
}
