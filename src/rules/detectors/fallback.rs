//! DEP-001 (`no-fallback`): a dependency on a critical path whose failures propagate to the
//! caller's request instead of a degraded answer.
//!
//! Per edge caller → dependency: the caller's requests (its SERVER/CONSUMER spans) in which the
//! last call to the dependency failed or was short-circuited (a failure a retry recovered is not
//! counted; a 4xx other than 408/429 is the caller's own bug and is left out). P(request failed |
//! its dependency call failed) ≥ `min_propagation` with ≥ `min_failures` such requests flags;
//! requests that succeeded despite the failure are the degraded answers (the fallback) that
//! clear it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `no-fallback` (DEP-001).
pub const NO_FALLBACK: DetectorDef = DetectorDef {
    name: "no-fallback",
    implements: "DEP-001",
    summary: "dependency failures that fail the caller's request (no degraded answer)",
    params: &[
        ParamDef {
            name: "min_failures",
            kind: ParamKind::Count,
            default: "20",
            doc: "requests with a failed dependency call needed to judge the edge",
        },
        ParamDef {
            name: "min_propagation",
            kind: ParamKind::Ratio,
            default: "0.9",
            doc: "P(request failed | its dependency call failed) that flags",
        },
    ],
    build,
};

#[derive(Debug)]
struct NoFallback {
    min_failures: usize,
    min_propagation: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(NoFallback {
        min_failures: p.count("min_failures").max(1) as usize,
        min_propagation: p.number("min_propagation"),
    }))
}

/// A failure the caller should degrade around: an error or a short-circuit that is not the
/// caller's own mistake (4xx other than 408 and 429).
fn dependency_failure(c: &Call) -> bool {
    let caller_bug = c
        .http_status
        .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
    (c.error || c.outcome.short_circuit) && !caller_bug
}

/// Per edge: (requests whose last call failed, of which the request failed: their traces,
/// of which it succeeded: their traces).
#[derive(Default)]
struct Tally {
    failed: usize,
    propagated: Vec<u32>,
    degraded: Vec<u32>,
    short_circuits: usize,
}

impl Detector for NoFallback {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let req = cx.requests();
        let mut edges: BTreeMap<(Arc<str>, Arc<str>), Tally> = BTreeMap::new();
        let mut requests: Vec<&u32> = req.calls.keys().collect();
        requests.sort();
        for &r in requests {
            // The last call to each dependency within the request.
            let mut last: BTreeMap<&Arc<str>, &Call> = BTreeMap::new();
            for &ci in req.calls_of(r) {
                let c = &cx.calls[ci as usize];
                if rule.edge(&c.caller, &c.dep, c.kind) {
                    last.insert(&c.dep, c);
                }
            }
            let ib = &cx.inbound[r as usize];
            for (dep, c) in last {
                if !dependency_failure(c) {
                    continue;
                }
                let t = edges.entry((c.caller.clone(), dep.clone())).or_default();
                t.failed += 1;
                if c.outcome.short_circuit {
                    t.short_circuits += 1;
                }
                if ib.error {
                    t.propagated.push(ib.trace);
                } else {
                    t.degraded.push(ib.trace);
                }
            }
        }
        for ((caller, dep), t) in edges {
            let subject = Subject::edge(&caller, &dep);
            if t.failed < self.min_failures {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{} requests saw this dependency fail, needs {}",
                        t.failed, self.min_failures
                    ),
                    samples: t.failed as u64,
                });
                continue;
            }
            out.checked += 1;
            let share = t.propagated.len() as f64 / t.failed as f64;
            if share < self.min_propagation {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add("requests_with_failed_call", t.failed);
            ev.add("requests_failed", t.propagated.len());
            ev.add("requests_degraded", t.degraded.len());
            ev.add("propagation", share);
            ev.add("short_circuited_calls", t.short_circuits);
            out.hits.push(Hit {
                subject,
                adjust: Adjust::Keep,
                message: format!(
                    "no fallback: {} of {} requests of {caller} failed when their call to {dep} failed ({:.0}%); {} answered degraded",
                    t.propagated.len(),
                    t.failed,
                    share * 100.0,
                    t.degraded.len()
                ),
                evidence: ev,
                trace_ids: exemplars(cx, t.propagated.iter().copied(), 5),
                samples: t.failed as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(
                "no dependency call failed inside a request (SERVER span) of its caller, so no fallback could be observed"
                    .into(),
            );
        }
        out
    }
}
