//! FAN-002 (`fan-out`): requests that fan out to many downstream calls or dependencies, and
//! hub-like services in the graph.
//!
//! Per request: the CLIENT/PRODUCER calls a SERVER span makes itself (its nearest inbound
//! ancestor, through INTERNAL spans), counted and by distinct dependency; flag when the p95
//! over the service's requests reaches `max_calls` or `max_dependencies` (tail amplification:
//! P(all n fast) = qⁿ). Graph: normalized degree centrality ≥ 0.5 with ≥ 8 services marks a
//! hub-like candidate (info: hub detection methods disagree).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, quantile_sorted};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `fan-out` (FAN-002).
pub const FAN_OUT: DetectorDef = DetectorDef {
    name: "fan-out",
    implements: "FAN-002",
    summary: "requests with many downstream calls or dependencies; hub-like services",
    params: &[
        ParamDef {
            name: "max_calls",
            kind: ParamKind::Count,
            default: "50",
            doc: "p95 downstream calls per request that flags",
        },
        ParamDef {
            name: "max_dependencies",
            kind: ParamKind::Count,
            default: "10",
            doc: "p95 distinct dependencies per request that flags",
        },
        ParamDef {
            name: "min_requests",
            kind: ParamKind::Count,
            default: "20",
            doc: "requests of a service needed",
        },
        ParamDef {
            name: "hub_centrality",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "normalized degree centrality of a hub-like service",
        },
        ParamDef {
            name: "hub_min_services",
            kind: ParamKind::Count,
            default: "8",
            doc: "services in the graph before hubs are judged",
        },
    ],
    build,
};

#[derive(Debug)]
struct FanOut {
    max_calls: f64,
    max_deps: f64,
    min_requests: usize,
    hub: f64,
    hub_min: usize,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(FanOut {
        max_calls: p.count("max_calls") as f64,
        max_deps: p.count("max_dependencies") as f64,
        min_requests: p.count("min_requests").max(1) as usize,
        hub: p.number("hub_centrality"),
        hub_min: p.count("hub_min_services").max(2) as usize,
    }))
}

impl Detector for FanOut {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        // The calls of each request: the context's shared per-request index (each call's
        // nearest inbound ancestor of its own service).
        let req = cx.requests();
        for (svc, idx) in &cx.by_service {
            if !rule.service(svc) {
                continue;
            }
            // Distinct dependencies of a request, counted in one reused list (a request makes a
            // few calls: a linear search beats a set per request).
            let mut deps: Vec<&str> = Vec::new();
            let reqs: Vec<(u32, usize, usize)> = idx
                .iter()
                .map(|&i| {
                    let ib = &cx.inbound[i as usize];
                    let calls = req.calls_of(i);
                    deps.clear();
                    for &c in calls {
                        let d = &*cx.calls[c as usize].dep;
                        if !deps.contains(&d) {
                            deps.push(d);
                        }
                    }
                    (ib.trace, calls.len(), deps.len())
                })
                .collect();
            if reqs.len() < self.min_requests {
                if reqs
                    .iter()
                    .any(|r| r.1 as f64 >= self.max_calls || r.2 as f64 >= self.max_deps)
                {
                    out.undecided.push(Undecided {
                        subject: Subject::service(svc),
                        missing: format!("{} requests, needs {}", reqs.len(), self.min_requests),
                        samples: reqs.len() as u64,
                    });
                }
                continue;
            }
            out.checked += 1;
            let mut calls: Vec<f64> = reqs.iter().map(|r| r.1 as f64).collect();
            let mut deps: Vec<f64> = reqs.iter().map(|r| r.2 as f64).collect();
            calls.sort_by(f64::total_cmp);
            deps.sort_by(f64::total_cmp);
            let p95c = quantile_sorted(&calls, 0.95).unwrap_or(0.0);
            let p95d = quantile_sorted(&deps, 0.95).unwrap_or(0.0);
            if p95c < self.max_calls && p95d < self.max_deps {
                continue;
            }
            let mut widest = reqs.clone();
            widest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut ev = Evidence::default();
            ev.add("requests", reqs.len());
            ev.add("p95_calls_per_request", p95c);
            ev.add("p95_dependencies_per_request", p95d);
            ev.add("max_calls_per_request", widest[0].1);
            ev.add("p_all_fast_if_each_p99", 0.99f64.powf(p95c));
            out.hits.push(Hit {
                subject: Subject::service(svc),
                adjust: Adjust::Keep,
                message: format!(
                    "excessive fan-out: p95 {p95c:.0} downstream calls to {p95d:.0} dependencies per request; if each is fast 99% of the time, only {:.0}% of requests avoid every tail",
                    0.99f64.powf(p95c) * 100.0
                ),
                evidence: ev,
                trace_ids: exemplars(cx, widest.iter().map(|r| r.0), 5),
                samples: reqs.len() as u64,
            });
        }
        // Graph hubs.
        let mut nbrs: BTreeMap<Arc<str>, BTreeSet<Arc<str>>> = BTreeMap::new();
        for (caller, dep) in cx.by_edge.keys() {
            if cx.is_service(dep) && caller != dep {
                nbrs.entry(caller.clone()).or_default().insert(dep.clone());
                nbrs.entry(dep.clone()).or_default().insert(caller.clone());
            }
        }
        let n = nbrs.len();
        if n >= self.hub_min {
            for (svc, set) in &nbrs {
                let c = set.len() as f64 / (n - 1) as f64;
                if c >= self.hub && rule.service(svc) {
                    let mut ev = Evidence::default();
                    ev.add("degree_centrality", c);
                    ev.add("neighbours", set.len());
                    ev.add("services", n);
                    out.hits.push(Hit {
                        subject: Subject::service(svc),
                        adjust: Adjust::Info,
                        message: format!("hub-like service: connected to {} of {} other services (normalized degree {c:.2})", set.len(), n - 1),
                        evidence: ev,
                        trace_ids: Vec::new(),
                        samples: set.len() as u64,
                    });
                }
            }
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(format!(
                "no service in scope with {} requests (SERVER spans)",
                self.min_requests
            ));
        }
        out
    }
}
