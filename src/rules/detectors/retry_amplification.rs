//! RTY-003 (`retry-amplification`): retries at two layers of one request path (A retries B
//! and, inside each A → B attempt, B retries C), the attempts they put on the inner dependency,
//! and the static multiplier Π(max attempts per layer).
//!
//! Chains are the item-aware ones of RTY-001 ([`crate::rules::chains`]). The observed
//! amplification counts the nested attempts themselves: per outer chain, the sum over its
//! attempts of the longest inner chain under that attempt (1 when the attempt reached the inner
//! dependency without retrying it). Other calls to the inner dependency — a fan-out that calls it
//! several times per request for different items — are not attempts and do not count; their
//! usual number per request is cited as `inner_calls_per_request_median`.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars, median};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject};

/// `retry-amplification` (RTY-003).
pub const AMPLIFICATION: DetectorDef = DetectorDef {
    name: "retry-amplification",
    implements: "RTY-003",
    summary: "retries nested across layers of one request path, and their multiplier",
    params: &[
        ParamDef {
            name: "min_traces",
            kind: ParamKind::Count,
            default: "5",
            doc: "traces with nested retries that flag",
        },
        ParamDef {
            name: "max_observed",
            kind: ParamKind::Count,
            default: "4",
            doc: "leaf attempts of one request that flag",
        },
        ParamDef {
            name: "max_static",
            kind: ParamKind::Count,
            default: "8",
            doc: "worst-case multiplier Π(1 + r_i) that flags",
        },
        ParamDef {
            name: "critical_static",
            kind: ParamKind::Count,
            default: "27",
            doc: "multiplier that raises the severity",
        },
    ],
    build: build_amp,
};

#[derive(Debug)]
struct Amp {
    min_traces: usize,
    max_observed: usize,
    max_static: usize,
    critical_static: usize,
}

fn build_amp(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Amp {
        min_traces: p.count("min_traces").max(1) as usize,
        max_observed: p.count("max_observed").max(2) as usize,
        max_static: p.count("max_static").max(2) as usize,
        critical_static: p.count("critical_static").max(2) as usize,
    }))
}

impl Detector for Amp {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let chains = cx.chains();
        if chains.is_empty() {
            out.missing = Some("no retry chains observed, so no layer retries".into());
            return out;
        }
        // Map (trace, span idx) of every attempt to its chain.
        let mut attempt_of: HashMap<(u32, u32), usize> = HashMap::new();
        for (ci, ch) in chains.iter().enumerate() {
            for &a in &ch.attempts {
                let c = &cx.calls[a as usize];
                attempt_of.insert((c.trace, c.span), ci);
            }
        }
        // Max attempts per edge (for the static multiplier).
        let mut max_attempts: BTreeMap<(Arc<str>, Arc<str>), usize> = BTreeMap::new();
        for ch in chains {
            let c = &cx.calls[ch.attempts[0] as usize];
            let e = max_attempts
                .entry((c.caller.clone(), c.dep.clone()))
                .or_insert(1);
            *e = (*e).max(ch.attempts.len());
        }
        // Nested pairs: an inner chain under an attempt of an outer chain.
        type Pair = ((Arc<str>, Arc<str>), (Arc<str>, Arc<str>));
        let mut nested: BTreeMap<Pair, (BTreeSet<u32>, usize)> = BTreeMap::new();
        // (pair, outer chain) → longest inner chain under each outer attempt (by call index).
        let mut under: BTreeMap<(Pair, usize), BTreeMap<u32, usize>> = BTreeMap::new();
        for inner in chains {
            let c = &cx.calls[inner.attempts[0] as usize];
            let t = cx.trace(c.trace);
            let mut parent = c.parent;
            let mut hops = 0;
            while parent != [0; 8] && hops < 256 {
                hops += 1;
                let Some(pi) = t.position(&parent) else { break };
                if let Some(&oi) = attempt_of.get(&(c.trace, pi as u32)) {
                    let o = &cx.calls[chains[oi].attempts[0] as usize];
                    let key = (
                        (o.caller.clone(), o.dep.clone()),
                        (c.caller.clone(), c.dep.clone()),
                    );
                    let e = nested.entry(key.clone()).or_default();
                    e.0.insert(c.trace);
                    e.1 = e.1.max(inner.attempts.len());
                    let slot = under
                        .entry((key, oi))
                        .or_default()
                        .entry(pi as u32)
                        .or_default();
                    *slot = (*slot).max(inner.attempts.len());
                    break;
                }
                parent = t.spans[pi].parent_span_id;
            }
        }
        out.checked = max_attempts.len();
        for (((oc, od), (ic, id)), (traces, _inner_max)) in nested {
            let outer_kind = cx
                .by_edge
                .get(&(oc.clone(), od.clone()))
                .and_then(|v| v.first())
                .map_or(crate::model::dependency::DepKind::Other, |&i| {
                    cx.calls[i as usize].kind
                });
            if !rule.edge(&oc, &od, outer_kind) {
                continue;
            }
            // Observed amplification: the nested attempts of one outer logical call.
            let pair = ((oc.clone(), od.clone()), (ic.clone(), id.clone()));
            let inner_calls = cx.by_edge.get(&(ic.clone(), id.clone()));
            let observed = under
                .range((pair.clone(), 0)..=(pair.clone(), usize::MAX))
                .map(|((_, oi), longest)| {
                    chains[*oi]
                        .attempts
                        .iter()
                        .map(|&a| {
                            let o = &cx.calls[a as usize];
                            longest.get(&o.span).copied().unwrap_or_else(|| {
                                usize::from(reaches(cx, o, inner_calls.map_or(&[][..], |v| v)))
                            })
                        })
                        .sum::<usize>()
                })
                .max()
                .unwrap_or(0);
            let per_request = calls_per_request(cx, inner_calls.map_or(&[][..], |v| v));
            let a_out = max_attempts
                .get(&(oc.clone(), od.clone()))
                .copied()
                .unwrap_or(1);
            let a_in = max_attempts
                .get(&(ic.clone(), id.clone()))
                .copied()
                .unwrap_or(1);
            let product = a_out * a_in;
            if traces.len() < self.min_traces
                && observed < self.max_observed
                && product < self.max_static
            {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add(
                "layers",
                format!("{oc} → {od} (max {a_out} attempts); {ic} → {id} (max {a_in} attempts)"),
            );
            ev.add("traces_with_nested_retries", traces.len());
            ev.add("observed_leaf_attempts_max", observed);
            if let Some(m) = per_request {
                ev.add("inner_calls_per_request_median", m);
            }
            ev.add("static_multiplier", product);
            out.hits.push(Hit {
                subject: Subject::edge(&oc, &id),
                adjust: if product >= self.critical_static { Adjust::Raise } else { Adjust::Keep },
                message: format!(
                    "retries at two layers multiply: {oc} retries {od} (≤ {a_out} attempts) and {ic} retries {id} (≤ {a_in}); up to {product}× load on {id}, {observed} attempts seen in one request, nested in {} trace(s)",
                    traces.len()
                ),
                evidence: ev,
                trace_ids: exemplars(cx, traces.iter().copied(), 5),
                samples: traces.len() as u64,
            });
        }
        out
    }
}

/// Whether some call of `inner` (calls of one edge) runs under the outer attempt `o`.
fn reaches(cx: &Context<'_>, o: &Call, inner: &[u32]) -> bool {
    let t = cx.trace(o.trace);
    let id = t.spans[o.span as usize].span_id;
    inner
        .iter()
        .map(|&i| &cx.calls[i as usize])
        .filter(|c| c.trace == o.trace)
        .any(|c| {
            let mut parent = c.parent;
            let mut hops = 0;
            while parent != [0; 8] && hops < 256 {
                if parent == id {
                    return true;
                }
                hops += 1;
                let Some(p) = t.get(&parent) else { break };
                parent = p.parent_span_id;
            }
            false
        })
}

/// Median calls of one edge per parent span that makes them (its usual per-request count).
fn calls_per_request(cx: &Context<'_>, calls: &[u32]) -> Option<f64> {
    let mut per: HashMap<(u32, [u8; 8]), usize> = HashMap::new();
    for &i in calls {
        let c = &cx.calls[i as usize];
        *per.entry((c.trace, c.parent)).or_default() += 1;
    }
    let mut v: Vec<f64> = per.values().map(|&n| n as f64).collect();
    median(&mut v)
}
