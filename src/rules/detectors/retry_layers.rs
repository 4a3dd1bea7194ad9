//! Retries beyond one client: RTY-002 (`retry-storm`, synchronized retries across caller
//! instances after a failure onset), RTY-003 (`retry-amplification`, nested retries across
//! layers and their multiplier), RTY-004 (`retry-budget`, retry ratio over budget).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, median};
use super::super::params::{ParamDef, ParamKind, Params};
use super::retry_chains::retryable_failure;
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};
use crate::rules::compile::{Globs, globs};

/// `retry-storm` (RTY-002).
pub const STORM: DetectorDef = DetectorDef {
    name: "retry-storm",
    implements: "RTY-002",
    summary: "retries from many caller instances phase-locked after a failure onset",
    params: &[
        ParamDef {
            name: "min_instances",
            kind: ParamKind::Count,
            default: "3",
            doc: "distinct caller instances in the peak bins",
        },
        ParamDef {
            name: "min_retries",
            kind: ParamKind::Count,
            default: "20",
            doc: "retry attempts needed after the onset",
        },
        ParamDef {
            name: "dispersion",
            kind: ParamKind::Number,
            default: "10.0",
            doc: "index of dispersion (var/mean of binned retry arrivals) that flags",
        },
        ParamDef {
            name: "autocorrelation",
            kind: ParamKind::Number,
            default: "0.5",
            doc: "autocorrelation at lag m_1 that confirms periodic peaks",
        },
        ParamDef {
            name: "horizon",
            kind: ParamKind::Duration,
            default: "\"5m\"",
            doc: "how long after the onset retries are collected",
        },
    ],
    build: build_storm,
};

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

/// `retry-budget` (RTY-004).
pub const BUDGET: DetectorDef = DetectorDef {
    name: "retry-budget",
    implements: "RTY-004",
    summary: "retry attempts over the per-client retry budget (10 %), or a retry storm",
    params: &[
        ParamDef {
            name: "max_ratio",
            kind: ParamKind::Ratio,
            default: "0.10",
            doc: "retries ÷ logical calls that flags (SRE book budget)",
        },
        ParamDef {
            name: "critical_ratio",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "ratio that raises the severity: a storm",
        },
        ParamDef {
            name: "sustain",
            kind: ParamKind::Duration,
            default: "\"5m\"",
            doc: "the ratio must hold over a window this long (the whole capture when shorter)",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "50",
            doc: "logical calls needed in that window",
        },
        ParamDef {
            name: "exclude_operations",
            kind: ParamKind::TextList,
            default: "[\"*health*\", \"*ready*\", \"*live*\"]",
            doc: "operations not counted (health checks)",
        },
    ],
    build: build_budget,
};

#[derive(Debug)]
struct Storm {
    min_instances: usize,
    min_retries: usize,
    dispersion: f64,
    autocorr: f64,
    horizon_ns: u64,
}

#[derive(Debug)]
struct Amp {
    min_traces: usize,
    max_observed: usize,
    max_static: usize,
    critical_static: usize,
}

#[derive(Debug)]
struct Budget {
    max_ratio: f64,
    critical_ratio: f64,
    sustain_ns: u64,
    min_calls: u64,
    exclude: Globs,
}

fn build_storm(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Storm {
        min_instances: p.count("min_instances").max(2) as usize,
        min_retries: p.count("min_retries").max(2) as usize,
        dispersion: p.number("dispersion"),
        autocorr: p.number("autocorrelation"),
        horizon_ns: p.duration_ns("horizon").max(1),
    }))
}

fn build_amp(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Amp {
        min_traces: p.count("min_traces").max(1) as usize,
        max_observed: p.count("max_observed").max(2) as usize,
        max_static: p.count("max_static").max(2) as usize,
        critical_static: p.count("critical_static").max(2) as usize,
    }))
}

fn build_budget(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Budget {
        max_ratio: p.number("max_ratio"),
        critical_ratio: p.number("critical_ratio"),
        sustain_ns: p.duration_ns("sustain").max(1_000_000_000),
        min_calls: p.count("min_calls").max(1),
        exclude: globs("params.exclude_operations", p.list("exclude_operations"))?,
    }))
}

/// For every call: its attempt number (1 = first) within its chain, or 1 when not in one.
fn attempt_numbers(cx: &Context<'_>) -> Vec<u16> {
    let mut k = vec![1u16; cx.calls.len()];
    for ch in cx.chains() {
        for (i, &a) in ch.attempts.iter().enumerate() {
            k[a as usize] = (i + 1).min(u16::MAX as usize) as u16;
        }
    }
    k
}

impl Detector for Budget {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let k = attempt_numbers(cx);
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&first) = idx.first() else { continue };
            if !rule.edge(caller, dep, cx.calls[first as usize].kind) {
                continue;
            }
            // (start, is_retry) of the counted calls, in start order.
            let calls: Vec<(u64, bool, u32)> = idx
                .iter()
                .map(|&i| (&cx.calls[i as usize], i))
                .filter(|(c, _)| rule.op(&c.op) && !self.exclude.matches_some(&c.op))
                .map(|(c, i)| (c.start, k[i as usize] > 1, c.trace))
                .collect();
            if calls.is_empty() {
                continue;
            }
            let subject = Subject::edge(caller, dep);
            // Worst window of `sustain` (sliding by a tenth of it), or the whole span when shorter.
            let span = calls[calls.len() - 1].0 - calls[0].0;
            let w = self.sustain_ns.min(span.max(1));
            let step = (w / 10).max(1);
            let mut best: Option<(f64, u64, u64, u64)> = None; // (ratio, logical, retries, from)
            let mut lo = 0usize;
            let mut hi = 0usize;
            let mut t = calls[0].0;
            loop {
                while lo < calls.len() && calls[lo].0 < t {
                    lo += 1;
                }
                while hi < calls.len() && calls[hi].0 <= t + w {
                    hi += 1;
                }
                let retries = calls[lo..hi].iter().filter(|c| c.1).count() as u64;
                let logical = (hi - lo) as u64 - retries;
                if logical >= self.min_calls {
                    let r = retries as f64 / logical as f64;
                    if best.is_none_or(|b| r > b.0) {
                        best = Some((r, logical, retries, t));
                    }
                }
                if t + w >= calls[calls.len() - 1].0 {
                    break;
                }
                t += step;
            }
            let Some((ratio, logical, retries, from)) = best else {
                let retries = calls.iter().filter(|c| c.1).count();
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{} logical calls in the busiest window, needs {}",
                        calls.len() - retries,
                        self.min_calls
                    ),
                    samples: calls.len() as u64,
                });
                continue;
            };
            out.checked += 1;
            if ratio <= self.max_ratio {
                continue;
            }
            let critical = ratio > self.critical_ratio;
            let mut ev = Evidence::default();
            ev.add("retry_ratio", ratio);
            ev.add("retries", retries);
            ev.add("logical_calls", logical);
            ev.add("window_s", w as f64 / 1e9);
            ev.add("window_start_ns", from);
            ev.add("budget", self.max_ratio);
            ev.add("retry_budget_metrics", "none seen");
            let msg = format!(
                "retry ratio {:.0}% ({} retries for {} logical calls) exceeds the {:.0}% budget{}",
                ratio * 100.0,
                retries,
                logical,
                self.max_ratio * 100.0,
                if critical {
                    "; a retry storm with no retry budget evident"
                } else {
                    ""
                }
            );
            let traces: Vec<u32> = calls.iter().filter(|c| c.1).map(|c| c.2).collect();
            out.hits.push(Hit {
                subject,
                adjust: if critical {
                    Adjust::Raise
                } else {
                    Adjust::Keep
                },
                message: msg,
                evidence: ev,
                trace_ids: exemplars(cx, traces, 5),
                samples: logical + retries,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no client calls in scope".into());
        }
        out
    }
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

impl Detector for Storm {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let k = attempt_numbers(cx);
        // Calls per dependency, in start order.
        let mut by_dep: BTreeMap<Arc<str>, Vec<u32>> = BTreeMap::new();
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&f) = idx.first() else { continue };
            if rule.edge(caller, dep, cx.calls[f as usize].kind) {
                by_dep
                    .entry(dep.clone())
                    .or_default()
                    .extend(idx.iter().copied());
            }
        }
        // m_1 per dependency: median first gap of its chains.
        let mut first_gaps: BTreeMap<Arc<str>, Vec<f64>> = BTreeMap::new();
        for ch in cx.chains() {
            let c = &cx.calls[ch.attempts[0] as usize];
            if let Some(g) = ch.gaps_ms(cx).first() {
                first_gaps.entry(c.dep.clone()).or_default().push(*g);
            }
        }
        for (dep, mut idx) in by_dep {
            idx.sort_by_key(|&i| (cx.calls[i as usize].start, i));
            let Some(t0) = onset(cx, &idx) else {
                out.checked += 1;
                continue;
            };
            let subject = Subject::service(&dep);
            let retries: Vec<u32> = idx
                .iter()
                .copied()
                .filter(|&i| k[i as usize] > 1)
                .filter(|&i| {
                    let s = cx.calls[i as usize].start;
                    s >= t0 && s < t0 + self.horizon_ns
                })
                .collect();
            let instances: BTreeSet<Arc<str>> = retries
                .iter()
                .filter_map(|&i| cx.calls[i as usize].caller_instance.clone())
                .collect();
            if retries.len() < self.min_retries || instances.len() < self.min_instances {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "failure onset found, but {} retries from {} caller instances (needs {} from {})",
                        retries.len(),
                        instances.len(),
                        self.min_retries,
                        self.min_instances
                    ),
                    samples: retries.len() as u64,
                });
                continue;
            }
            out.checked += 1;
            let mut g = first_gaps.get(&dep).cloned().unwrap_or_default();
            let m1 = median(&mut g).unwrap_or(0.0);
            let w = (m1 * 1e6 / 10.0).max(20e6) as u64;
            let last = retries
                .iter()
                .map(|&i| cx.calls[i as usize].start)
                .max()
                .unwrap_or(t0);
            let nbins = ((last - t0) / w + 1) as usize;
            let mut counts = vec![0f64; nbins];
            let mut bin_inst: Vec<BTreeSet<Arc<str>>> = vec![BTreeSet::new(); nbins];
            for &i in &retries {
                let c = &cx.calls[i as usize];
                let b = ((c.start - t0) / w) as usize;
                counts[b] += 1.0;
                if let Some(inst) = &c.caller_instance {
                    bin_inst[b].insert(inst.clone());
                }
            }
            let mean = counts.iter().sum::<f64>() / nbins as f64;
            let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / nbins as f64;
            let id = if mean > 0.0 { var / mean } else { 0.0 };
            let mut top: Vec<usize> = (0..nbins).collect();
            top.sort_by(|&a, &b| counts[b].total_cmp(&counts[a]).then(a.cmp(&b)));
            top.truncate(5);
            let top_inst: BTreeSet<&Arc<str>> =
                top.iter().flat_map(|&b| bin_inst[b].iter()).collect();
            let lag = if w > 0 {
                ((m1 * 1e6) / w as f64).round() as usize
            } else {
                0
            };
            let ac = autocorrelation(&counts, lag);
            if id >= self.dispersion && top_inst.len() >= self.min_instances && ac >= self.autocorr
            {
                let mut ev = Evidence::default();
                ev.add("onset_ns", t0);
                ev.add("retries_after_onset", retries.len());
                ev.add("caller_instances", instances.len());
                ev.add("index_of_dispersion", id);
                ev.add("bin_ms", w as f64 / 1e6);
                ev.add("first_gap_median_ms", m1);
                ev.add("autocorrelation_at_m1", ac);
                ev.add(
                    "instances_in_peaks",
                    top_inst
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                out.hits.push(Hit {
                    subject,
                    adjust: Adjust::Keep,
                    message: format!(
                        "synchronized retries after a failure onset: {} retries from {} instances arrive in periodic spikes (dispersion {:.0}, autocorrelation {:.2} at the {:.0} ms backoff)",
                        retries.len(), instances.len(), id, ac, m1
                    ),
                    evidence: ev,
                    trace_ids: exemplars(cx, top.iter().flat_map(|&b| retries.iter().filter(move |&&i| ((cx.calls[i as usize].start - t0) / w) as usize == b).map(|&i| cx.calls[i as usize].trace)), 5),
                    samples: retries.len() as u64,
                });
            }
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no dependency in scope".into());
        }
        out
    }
}

/// The first time the error ratio steps from < 5 % (over the 30 s before) to ≥ 50 % (in a 10-s
/// bin with ≥ 10 calls); the start of the first failed call in that bin.
fn onset(cx: &Context<'_>, idx: &[u32]) -> Option<u64> {
    const BIN: u64 = 10_000_000_000;
    let start = cx.calls[*idx.first()? as usize].start;
    let mut bins: BTreeMap<u64, (u32, u32, u64)> = BTreeMap::new();
    for &i in idx {
        let c = &cx.calls[i as usize];
        let b = (c.start - start) / BIN;
        let e = bins.entry(b).or_insert((0, 0, u64::MAX));
        e.0 += 1;
        if retryable_failure(c) {
            e.1 += 1;
            e.2 = e.2.min(c.start);
        }
    }
    for (&b, &(n, err, first_err)) in &bins {
        if n < 10 || (err as f64) < 0.5 * n as f64 || b < 3 {
            continue;
        }
        let (pn, perr) = bins
            .range(b - 3..b)
            .fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1));
        if pn >= 10 && (perr as f64) < 0.05 * pn as f64 {
            return Some(first_err);
        }
    }
    None
}

fn autocorrelation(x: &[f64], lag: usize) -> f64 {
    if lag == 0 || lag >= x.len() {
        return 0.0;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    if var == 0.0 {
        return 0.0;
    }
    let cov: f64 = (0..x.len() - lag)
        .map(|i| (x[i] - mean) * (x[i + lag] - mean))
        .sum();
    cov / var
}
