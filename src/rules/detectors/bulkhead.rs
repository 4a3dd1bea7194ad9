//! BLK-002 (`missing-bulkhead`): when one dependency of a caller slows down, the caller's other
//! dependencies and endpoints slow down with it — they share a pool or thread budget.
//!
//! Per caller, time is cut into `bin`-wide bins. A dependency D is *slow* in the bins where its
//! mean call duration is ≥ `slow_factor` × its usual level (the 25th percentile of its bin
//! means) and ≥ `min_slowdown` above it; ≥ `min_slow_bins` such bins form the slow window. When
//! SERVER spans answer D's calls, D's own server time must have risen too (a call that only waited
//! at the caller is a victim, not the cause). Every other path of the caller — its other edges
//! and the endpoints (SERVER span routes) of requests that did not call D — is compared inside
//! and outside the slow window: ≥ `collateral_factor` × slower and ≥ `min_slowdown`, with a
//! per-bin Pearson correlation to D's latency ≥ `min_correlation`, is collateral, unless its own
//! server time rose as much (then its dependency slowed too: a common cause, not the caller's
//! shared budget; for an endpoint, the time its calls spent in their servers). A slow dependency with collateral paths flags; pool and queue gauges of the
//! caller's view are cited when scraped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::dependency::operation;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, quantile_sorted};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};

/// `missing-bulkhead` (BLK-002).
pub const MISSING_BULKHEAD: DetectorDef = DetectorDef {
    name: "missing-bulkhead",
    implements: "BLK-002",
    summary: "a slow dependency that slows the caller's other dependencies and endpoints",
    params: &[
        ParamDef {
            name: "bin",
            kind: ParamKind::Duration,
            default: "\"1s\"",
            doc: "width of the time bins latencies are averaged in",
        },
        ParamDef {
            name: "slow_factor",
            kind: ParamKind::Number,
            default: "3.0",
            doc: "bin mean / usual level of the dependency that counts as slow",
        },
        ParamDef {
            name: "min_slowdown",
            kind: ParamKind::Duration,
            default: "\"50ms\"",
            doc: "absolute rise needed, for the slow dependency and for a collateral path",
        },
        ParamDef {
            name: "min_slow_bins",
            kind: ParamKind::Count,
            default: "3",
            doc: "slow bins that make a slow window",
        },
        ParamDef {
            name: "collateral_factor",
            kind: ParamKind::Number,
            default: "2.0",
            doc: "mean inside / outside the slow window of a collateral path",
        },
        ParamDef {
            name: "min_correlation",
            kind: ParamKind::Number,
            default: "0.5",
            doc: "per-bin correlation of a collateral path's latency with the slow dependency's",
        },
        ParamDef {
            name: "min_samples",
            kind: ParamKind::Count,
            default: "5",
            doc: "spans of a path needed inside and outside the slow window",
        },
    ],
    build,
};

#[derive(Debug)]
struct Bulkhead {
    bin_ns: u64,
    slow_factor: f64,
    min_slowdown_ms: f64,
    min_slow_bins: usize,
    collateral: f64,
    min_corr: f64,
    min_samples: usize,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Bulkhead {
        bin_ns: p.duration_ns("bin").max(1_000_000),
        slow_factor: p.number("slow_factor").max(1.0),
        min_slowdown_ms: p.duration_ns("min_slowdown") as f64 / 1e6,
        min_slow_bins: p.count("min_slow_bins").max(1) as usize,
        collateral: p.number("collateral_factor").max(1.0),
        min_corr: p.number("min_correlation"),
        min_samples: p.count("min_samples").max(1) as usize,
    }))
}

/// One span of a path: start, client-side ms, server-side ms (when answered), trace.
#[derive(Clone, Copy)]
struct Obs {
    start: u64,
    ms: f64,
    server_ms: Option<f64>,
    trace: u32,
}

/// A path of the caller: an edge or an endpoint.
struct Path {
    label: String,
    edge: Option<Arc<str>>,
    obs: Vec<Obs>,
}

/// A collateral path, as cited.
struct Collateral {
    label: String,
    before_ms: f64,
    during_ms: f64,
    correlation: f64,
    traces: Vec<u32>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |a, x| (a.0 + x, a.1 + 1));
    (n > 0).then(|| s / n as f64)
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    if pairs.len() < 3 {
        return 0.0;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    if vx == 0.0 || vy == 0.0 {
        0.0
    } else {
        cov / (vx * vy).sqrt()
    }
}

impl Bulkhead {
    fn bins(&self, obs: &[Obs], t0: u64) -> BTreeMap<u64, f64> {
        let mut acc: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
        for o in obs {
            let e = acc.entry((o.start - t0) / self.bin_ns).or_default();
            e.0 += o.ms;
            e.1 += 1;
        }
        acc.into_iter()
            .map(|(b, (s, n))| (b, s / n as f64))
            .collect()
    }

    /// The slow bins of a path, with its usual level; `None` when it never slowed.
    fn slow_window(&self, bins: &BTreeMap<u64, f64>) -> Option<(BTreeSet<u64>, f64)> {
        let mut means: Vec<f64> = bins.values().copied().collect();
        means.sort_by(f64::total_cmp);
        let usual = quantile_sorted(&means, 0.25)?;
        let slow: BTreeSet<u64> = bins
            .iter()
            .filter(|(_, m)| **m >= self.slow_factor * usual && **m - usual >= self.min_slowdown_ms)
            .map(|(b, _)| *b)
            .collect();
        (slow.len() >= self.min_slow_bins && bins.len() >= slow.len() + 3).then_some((slow, usual))
    }
}

impl Detector for Bulkhead {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let req = cx.requests();
        let mut callers: BTreeMap<Arc<str>, Vec<Path>> = BTreeMap::new();
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&f) = idx.first() else { continue };
            if !rule.edge(caller, dep, cx.calls[f as usize].kind) || caller == dep {
                continue;
            }
            let obs = idx
                .iter()
                .map(|&i| {
                    let c = &cx.calls[i as usize];
                    Obs {
                        start: c.start,
                        ms: c.ms(),
                        server_ms: c.answered_by.map(|a| {
                            let ib = &cx.inbound[a as usize];
                            ib.end.saturating_sub(ib.start) as f64 / 1e6
                        }),
                        trace: c.trace,
                    }
                })
                .collect();
            callers.entry(caller.clone()).or_default().push(Path {
                label: dep.to_string(),
                edge: Some(dep.clone()),
                obs,
            });
        }
        for (caller, paths) in &callers {
            if paths.len() < 2 && !cx.by_service.contains_key(caller) {
                continue;
            }
            let t0 = paths
                .iter()
                .flat_map(|p| p.obs.iter().map(|o| o.start))
                .chain(
                    cx.by_service
                        .get(caller)
                        .into_iter()
                        .flatten()
                        .map(|&i| cx.inbound[i as usize].start),
                )
                .min()
                .unwrap_or(0);
            let mut judged = false;
            for slow in paths {
                let Some(dep) = &slow.edge else { continue };
                let sbins = self.bins(&slow.obs, t0);
                let Some((window, usual)) = self.slow_window(&sbins) else {
                    continue;
                };
                let inside = |o: &Obs| window.contains(&((o.start - t0) / self.bin_ns));
                // The dependency itself must be slow (server side), not only waited for.
                if let (Some(si), Some(so)) = (
                    mean(
                        slow.obs
                            .iter()
                            .filter(|o| inside(o))
                            .filter_map(|o| o.server_ms),
                    ),
                    mean(
                        slow.obs
                            .iter()
                            .filter(|o| !inside(o))
                            .filter_map(|o| o.server_ms),
                    ),
                ) && si < self.slow_factor * so
                {
                    continue;
                }
                // The other paths: other edges, and endpoints of requests that did not call D.
                let mut others: Vec<Path> = paths
                    .iter()
                    .filter(|p| p.edge.as_ref() != Some(dep))
                    .map(|p| Path {
                        label: p.label.clone(),
                        edge: p.edge.clone(),
                        obs: p.obs.clone(),
                    })
                    .collect();
                let mut endpoints: BTreeMap<String, Vec<Obs>> = BTreeMap::new();
                for &i in cx.by_service.get(caller).into_iter().flatten() {
                    if req
                        .calls_of(i)
                        .iter()
                        .any(|&c| cx.calls[c as usize].dep == *dep)
                    {
                        continue;
                    }
                    let ib = &cx.inbound[i as usize];
                    let s = cx.inbound_span(ib);
                    // Time the request spent in its dependencies' servers (common-cause check).
                    let served: Vec<f64> = req
                        .calls_of(i)
                        .iter()
                        .filter_map(|&c| cx.calls[c as usize].answered_by)
                        .map(|a| {
                            let a = &cx.inbound[a as usize];
                            a.end.saturating_sub(a.start) as f64 / 1e6
                        })
                        .collect();
                    endpoints
                        .entry(operation(&s.attributes, &s.name))
                        .or_default()
                        .push(Obs {
                            start: ib.start,
                            ms: ib.end.saturating_sub(ib.start) as f64 / 1e6,
                            server_ms: (!served.is_empty()).then(|| served.iter().sum()),
                            trace: ib.trace,
                        });
                }
                others.extend(endpoints.into_iter().map(|(route, obs)| Path {
                    label: format!("endpoint {route}"),
                    edge: None,
                    obs,
                }));
                let mut collateral = Vec::new();
                let mut comparable = 0;
                for p in &others {
                    let (inn, outn): (Vec<&Obs>, Vec<&Obs>) = p.obs.iter().partition(|o| inside(o));
                    if inn.len() < self.min_samples || outn.len() < self.min_samples {
                        continue;
                    }
                    comparable += 1;
                    let during = mean(inn.iter().map(|o| o.ms)).unwrap_or(0.0);
                    let before = mean(outn.iter().map(|o| o.ms)).unwrap_or(0.0);
                    if during < self.collateral * before || during - before < self.min_slowdown_ms {
                        continue;
                    }
                    // Its own dependency slowed as much: a common cause.
                    if let (Some(si), Some(so)) = (
                        mean(inn.iter().filter_map(|o| o.server_ms)),
                        mean(outn.iter().filter_map(|o| o.server_ms)),
                    ) && si >= self.collateral * so
                        && si - so >= self.min_slowdown_ms
                    {
                        continue;
                    }
                    let pb = self.bins(&p.obs, t0);
                    let pairs: Vec<(f64, f64)> = sbins
                        .iter()
                        .filter_map(|(b, m)| pb.get(b).map(|x| (*m, *x)))
                        .collect();
                    let r = pearson(&pairs);
                    if r < self.min_corr {
                        continue;
                    }
                    let mut slowest: Vec<&&Obs> = inn.iter().collect();
                    slowest.sort_by(|a, b| b.ms.total_cmp(&a.ms));
                    collateral.push(Collateral {
                        label: p.label.clone(),
                        before_ms: before,
                        during_ms: during,
                        correlation: r,
                        traces: slowest.iter().map(|o| o.trace).collect(),
                    });
                }
                if comparable == 0 {
                    out.undecided.push(Undecided {
                        subject: Subject::edge(caller, dep),
                        missing: format!(
                            "{dep} slowed, but no other path of {caller} has {} spans inside and outside the slow window",
                            self.min_samples
                        ),
                        samples: slow.obs.len() as u64,
                    });
                    continue;
                }
                judged = true;
                if collateral.is_empty() {
                    continue;
                }
                let during =
                    mean(slow.obs.iter().filter(|o| inside(o)).map(|o| o.ms)).unwrap_or(0.0);
                let from = t0 + window.first().copied().unwrap_or(0) * self.bin_ns;
                let to = t0 + (window.last().copied().unwrap_or(0) + 1) * self.bin_ns;
                let list = collateral
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} → {} (×{:.1}, r={:.2})",
                            c.label,
                            fmt_ms(c.before_ms),
                            fmt_ms(c.during_ms),
                            c.during_ms / c.before_ms.max(1e-3),
                            c.correlation
                        )
                    })
                    .collect::<Vec<_>>();
                let mut ev = Evidence::default();
                ev.add("slow_edge", format!("{caller} → {dep}"));
                ev.add("slow_edge_usual_ms", usual);
                ev.add("slow_edge_during_ms", during);
                ev.add("slow_bins", window.len());
                ev.add("window_from_ns", from);
                ev.add("window_to_ns", to);
                ev.add("collateral", list.join("; "));
                ev.add(
                    "max_correlation",
                    collateral
                        .iter()
                        .map(|c| c.correlation)
                        .fold(f64::MIN, f64::max),
                );
                if let Some(v) = cx.dep(caller, dep) {
                    if let Some(u) = v.pool_utilisation {
                        ev.add("pool_utilisation", u);
                    }
                    if let Some(q) = &v.queue {
                        ev.add("queue_depth", q.depth);
                    }
                }
                let mut traces: Vec<u32> = Vec::new();
                for c in &collateral {
                    traces.extend(c.traces.iter().take(3));
                }
                out.hits.push(Hit {
                    subject: Subject::edge(caller, dep),
                    adjust: Adjust::Keep,
                    message: format!(
                        "missing bulkhead: while {dep} slowed ({} → {} for {} s), {caller}'s other paths slowed with it: {}",
                        fmt_ms(usual),
                        fmt_ms(during),
                        (to - from) / 1_000_000_000,
                        list.join(", ")
                    ),
                    evidence: ev,
                    trace_ids: exemplars(cx, traces, 5),
                    samples: slow.obs.len() as u64,
                });
            }
            if judged {
                out.checked += 1;
            }
        }
        if out.checked == 0 && out.undecided.is_empty() && out.hits.is_empty() {
            out.missing = Some(
                "no dependency slowed down while its caller had other paths to compare, so isolation could not be judged"
                    .into(),
            );
        }
        out
    }
}
