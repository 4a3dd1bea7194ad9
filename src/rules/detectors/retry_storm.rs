//! RTY-002 (`retry-storm`): retries from many caller instances phase-locked after a failure
//! onset (a thundering herd), found by the index of dispersion of binned retry arrivals and their
//! autocorrelation at the backoff period; and the recovery herd (`herd.rs`): the requests of
//! many callers arriving in the same instant when the dependency comes back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, median};
use super::super::params::{ParamDef, ParamKind, Params};
use super::herd::{Herd, HerdResult};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};
use crate::rules::chains::{attempt_numbers, retryable_failure};

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
        ParamDef {
            name: "herd_factor",
            kind: ParamKind::Number,
            default: "3.0",
            doc: "arrivals in the first herd_window after recovery / the pre-incident rate that flags",
        },
        ParamDef {
            name: "herd_window",
            kind: ParamKind::Duration,
            default: "\"1s\"",
            doc: "how soon after recovery the herd is measured (also the outage bin width)",
        },
    ],
    build: build_storm,
};

#[derive(Debug)]
struct Storm {
    min_instances: usize,
    min_retries: usize,
    dispersion: f64,
    autocorr: f64,
    horizon_ns: u64,
    herd: Herd,
}

fn build_storm(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Storm {
        min_instances: p.count("min_instances").max(2) as usize,
        min_retries: p.count("min_retries").max(2) as usize,
        dispersion: p.number("dispersion"),
        autocorr: p.number("autocorrelation"),
        horizon_ns: p.duration_ns("horizon").max(1),
        herd: Herd {
            factor: p.number("herd_factor").max(1.0),
            window_ns: p.duration_ns("herd_window").max(1_000_000),
            min_instances: p.count("min_instances").max(2) as usize,
        },
    }))
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
            match self.herd.run(cx, &dep, &idx) {
                HerdResult::Found(h) => out.hits.push(*h),
                HerdResult::Undecided(u) => out.undecided.push(u),
                HerdResult::Passed => out.checked += 1,
                HerdResult::NoOutage => {}
            }
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
