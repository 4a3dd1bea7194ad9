//! RTY-003 (`retry-amplification`): retries at two layers of one request path (A retries B
//! and, inside each A → B attempt, B retries C), the attempts they put on the inner dependency,
//! and the static multiplier Π(max attempts per layer).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
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
                    let e = nested.entry(key).or_default();
                    e.0.insert(c.trace);
                    e.1 = e.1.max(inner.attempts.len());
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
            // Observed amplification: calls to the inner dependency per trace.
            let observed = traces
                .iter()
                .map(|&t| {
                    cx.by_edge.get(&(ic.clone(), id.clone())).map_or(0, |v| {
                        v.iter()
                            .filter(|&&i| cx.calls[i as usize].trace == t)
                            .count()
                    })
                })
                .max()
                .unwrap_or(0);
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
