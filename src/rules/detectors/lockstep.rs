//! ARC-001 (`lockstep-services`): pairs of services that always travel together — a
//! distributed monolith.
//!
//! Per edge A → B between two services: over A's requests (SERVER/CONSUMER spans) on the routes that ever call B, the
//! share that call B (`min_together`), the calls to B per request (median ≥ `min_calls`, a chatty
//! request-response), the share of requests whose sequence of B's operations is the most common
//! one (`min_fixed_order`, the fixed protocol), at least two distinct operations in it (one
//! repeated operation is an N+1, N1-002's case), calls that do not overlap (request-response in
//! lockstep, not a parallel fan-out), and fine grain (median call ≤ `max_call`). All together
//! flag the pair: merge the two, or give B an aggregate API.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::model::dependency::operation;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, median};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `lockstep-services` (ARC-001).
pub const LOCKSTEP: DetectorDef = DetectorDef {
    name: "lockstep-services",
    implements: "ARC-001",
    summary: "service pairs whose fine-grained calls always travel together in fixed order",
    params: &[
        ParamDef {
            name: "min_requests",
            kind: ParamKind::Count,
            default: "20",
            doc: "requests of the calling service needed",
        },
        ParamDef {
            name: "min_together",
            kind: ParamKind::Ratio,
            default: "0.95",
            doc: "share of the caller's requests that call the other service",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "3",
            doc: "median calls to the other service per request",
        },
        ParamDef {
            name: "min_fixed_order",
            kind: ParamKind::Ratio,
            default: "0.9",
            doc: "share of requests with the most common operation sequence",
        },
        ParamDef {
            name: "max_call",
            kind: ParamKind::Duration,
            default: "\"100ms\"",
            doc: "median call duration of a fine-grained call",
        },
    ],
    build,
};

#[derive(Debug)]
struct Lockstep {
    min_requests: usize,
    min_together: f64,
    min_calls: f64,
    min_fixed: f64,
    max_call_ms: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Lockstep {
        min_requests: p.count("min_requests").max(1) as usize,
        min_together: p.number("min_together"),
        min_calls: p.count("min_calls").max(2) as f64,
        min_fixed: p.number("min_fixed_order"),
        max_call_ms: p.duration_ns("max_call") as f64 / 1e6,
    }))
}

/// One request's calls to the dependency: operation sequence, whether any overlapped.
/// One request's calls to one dependency. The request's route is looked up only for edges
/// that pass the cheap tests (most do not), and operations are borrowed from the context.
struct PerRequest<'c> {
    trace: u32,
    inbound: u32,
    ops: Vec<&'c Arc<str>>,
    overlap: bool,
}

/// The operation (route) of an inbound span.
fn route_of(cx: &Context<'_>, inbound: u32) -> String {
    let s = cx.inbound_span(&cx.inbound[inbound as usize]);
    operation(&s.attributes, &s.name)
}

/// Routes of inbound spans, each computed once (the share of requests reads every request of
/// the caller for every edge it has).
struct Routes(Vec<Option<String>>);

impl Routes {
    fn get<'r>(&'r mut self, cx: &Context<'_>, inbound: u32) -> &'r str {
        self.0[inbound as usize].get_or_insert_with(|| route_of(cx, inbound))
    }
}

impl Detector for Lockstep {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let req = cx.requests();
        let mut route_cache = Routes(vec![None; cx.inbound.len()]);
        // (caller, dep) → per request.
        let mut edges: BTreeMap<(&Arc<str>, &Arc<str>), Vec<PerRequest<'_>>> = BTreeMap::new();
        let mut durations: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
        let mut requests: Vec<&u32> = req.calls.keys().collect();
        requests.sort();
        for &r in requests {
            let mut per: BTreeMap<&Arc<str>, PerRequest> = BTreeMap::new();
            let mut end: BTreeMap<&Arc<str>, u64> = BTreeMap::new();
            for &ci in req.calls_of(r) {
                let c = &cx.calls[ci as usize];
                if !cx.is_service(&c.dep)
                    || c.dep == c.caller
                    || !rule.edge(&c.caller, &c.dep, c.kind)
                {
                    continue;
                }
                let p = per.entry(&c.dep).or_insert_with(|| PerRequest {
                    trace: c.trace,
                    inbound: r,
                    ops: Vec::new(),
                    overlap: false,
                });
                p.ops.push(&c.op);
                let e = end.entry(&c.dep).or_insert(0);
                if c.start < *e {
                    p.overlap = true;
                }
                *e = (*e).max(c.end);
                durations
                    .entry((&*c.caller, &*c.dep))
                    .or_default()
                    .push(c.ms());
            }
            let caller = &cx.inbound[r as usize].service;
            for (dep, p) in per {
                edges.entry((caller, dep)).or_default().push(p);
            }
        }
        for ((caller, dep), per) in edges {
            let subject = Subject::edge(caller, dep);
            let mut counts: Vec<f64> = per.iter().map(|p| p.ops.len() as f64).collect();
            let calls_median = median(&mut counts).unwrap_or(0.0);
            if calls_median < self.min_calls {
                out.checked += 1;
                continue;
            }
            // The caller's requests on the routes that call the dependency at all (asked only
            // here: working out every request's route was most of this rule's time).
            let routes: BTreeSet<String> = per
                .iter()
                .map(|p| route_cache.get(cx, p.inbound).to_owned())
                .collect();
            let total = cx.by_service.get(caller).map_or(0, |idx| {
                idx.iter()
                    .filter(|&&i| routes.contains(route_cache.get(cx, i)))
                    .count()
            });
            if total < self.min_requests {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!("{total} requests of {caller}, needs {}", self.min_requests),
                    samples: total as u64,
                });
                continue;
            }
            out.checked += 1;
            let together = per.len() as f64 / total as f64;
            let mut seqs: BTreeMap<&[&Arc<str>], usize> = BTreeMap::new();
            for p in &per {
                *seqs.entry(p.ops.as_slice()).or_default() += 1;
            }
            let Some((&top, &top_n)) = seqs
                .iter()
                .max_by_key(|(s, n)| (**n, std::cmp::Reverse(*s)))
            else {
                continue;
            };
            let fixed = top_n as f64 / per.len() as f64;
            let distinct: BTreeSet<&Arc<str>> = top.iter().copied().collect();
            let overlapping = per.iter().filter(|p| p.overlap).count() as f64 / per.len() as f64;
            let mut d = durations.remove(&(&**caller, &**dep)).unwrap_or_default();
            let call_ms = median(&mut d).unwrap_or(f64::MAX);
            if together < self.min_together
                || fixed < self.min_fixed
                || distinct.len() < 2
                || overlapping > 0.5
                || call_ms > self.max_call_ms
            {
                continue;
            }
            let sequence = top
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" → ");
            let mut ev = Evidence::default();
            ev.add("requests", total);
            ev.add("together_share", together);
            ev.add("median_calls_per_request", calls_median);
            ev.add("fixed_order_share", fixed);
            ev.add("sequence", sequence.clone());
            ev.add("median_call_ms", call_ms);
            out.hits.push(Hit {
                subject,
                adjust: Adjust::Keep,
                message: format!(
                    "lockstep services: {:.0}% of {caller}'s requests call {dep} {calls_median:.0} times in the same order ({sequence}; {:.0}% of them), median {call_ms:.1} ms per call — merge them or give {dep} an aggregate API",
                    together * 100.0,
                    fixed * 100.0
                ),
                evidence: ev,
                trace_ids: exemplars(
                    cx,
                    per.iter().filter(|p| p.ops.as_slice() == top).map(|p| p.trace),
                    5,
                ),
                samples: per.len() as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no request (SERVER span) calls another service".into());
        }
        out
    }
}
