//! CB-001 (`missing-circuit-breaker`): a dependency fails for minutes and the caller keeps
//! calling at full rate with no fast failures — with no breaker (CB-001), or with one that never
//! opened (CB-001b). CB-002 is in `flapping`.
//!
//! A fast-fail is a call the store classified as short-circuited (the reference's CB_OPEN_RE:
//! CallNotPermitted, BrokenCircuit, short-circuit, "circuit breaker is open", ErrOpenState,
//! pybreaker's CircuitBreakerError, Envoy flag UO) that is fast (< 5 % of the edge's baseline
//! p50). The breaker itself is the dependency view's (`rules::dep::breaker`): a breaker metric,
//! one inferred from rejections in the traces, or none.

use std::collections::BTreeMap;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars, median, quantile_sorted};
use super::super::dep::{self, Breaker};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};

pub use super::flapping::FLAPPING;

/// `missing-circuit-breaker` (CB-001).
pub const MISSING: DetectorDef = DetectorDef {
    name: "missing-circuit-breaker",
    implements: "CB-001",
    summary: "a failure episode during which the caller neither sheds load nor fails fast",
    params: &[
        ParamDef {
            name: "bin",
            kind: ParamKind::Duration,
            default: "\"1m\"",
            doc: "time bin of the episode analysis",
        },
        ParamDef {
            name: "min_calls_per_bin",
            kind: ParamKind::Count,
            default: "20",
            doc: "calls per bin for a bin to count",
        },
        ParamDef {
            name: "error_ratio",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "failure ratio (5xx, timeouts, connect errors; not 4xx) of an episode bin",
        },
        ParamDef {
            name: "latency_factor",
            kind: ParamKind::Number,
            default: "5.0",
            doc: "or p99 at this multiple of the pre-episode p99",
        },
        ParamDef {
            name: "min_episode",
            kind: ParamKind::Duration,
            default: "\"3m\"",
            doc: "episode length that flags",
        },
        ParamDef {
            name: "shed_ratio",
            kind: ParamKind::Ratio,
            default: "0.8",
            doc: "attempt rate at or above this share of the baseline means no shedding",
        },
        ParamDef {
            name: "fast_fail_share",
            kind: ParamKind::Ratio,
            default: "0.05",
            doc: "fast breaker rejections below this share of failures means no fast-fail",
        },
    ],
    build: build_missing,
};

#[derive(Debug)]
struct Missing {
    bin: u64,
    min_calls: u64,
    error_ratio: f64,
    latency_factor: f64,
    min_bins: usize,
    shed: f64,
    fast_share: f64,
}

fn build_missing(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    let bin = p.duration_ns("bin").max(1_000_000_000);
    Ok(Box::new(Missing {
        bin,
        min_calls: p.count("min_calls_per_bin").max(1),
        error_ratio: p.number("error_ratio"),
        latency_factor: p.number("latency_factor"),
        min_bins: (p.duration_ns("min_episode").div_ceil(bin)).max(1) as usize,
        shed: p.number("shed_ratio"),
        fast_share: p.number("fast_fail_share"),
    }))
}

/// Whether a breaker rejected the call, as the store classified it (the one definition:
/// [`crate::model::classify`], `Outcome::short_circuit`).
pub fn breaker_rejection(c: &Call) -> bool {
    c.outcome.short_circuit
}

/// A failure of the dependency: 5xx, timeout, or an error without HTTP status (connect errors).
fn dep_failure(c: &Call) -> bool {
    match c.http_status {
        Some(s) => s >= 500 || c.timeout,
        None => c.error || c.timeout,
    }
}

struct Bin {
    calls: Vec<u32>,
    failures: usize,
    p99: f64,
}

fn bins(cx: &Context<'_>, idx: &[u32], width: u64) -> BTreeMap<u64, Bin> {
    let mut out: BTreeMap<u64, Bin> = BTreeMap::new();
    for &i in idx {
        let c = &cx.calls[i as usize];
        let b = out.entry(c.start / width).or_insert(Bin {
            calls: Vec::new(),
            failures: 0,
            p99: 0.0,
        });
        b.calls.push(i);
        b.failures += usize::from(dep_failure(c));
    }
    for b in out.values_mut() {
        let mut d: Vec<f64> = b.calls.iter().map(|&i| cx.calls[i as usize].ms()).collect();
        d.sort_by(f64::total_cmp);
        b.p99 = quantile_sorted(&d, 0.99).unwrap_or(0.0);
    }
    out
}

impl Detector for Missing {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&f) = idx.first() else { continue };
            if !rule.edge(caller, dep, cx.calls[f as usize].kind) {
                continue;
            }
            let idx: Vec<u32> = idx
                .iter()
                .copied()
                .filter(|&i| rule.op(&cx.calls[i as usize].op))
                .collect();
            let subject = Subject::edge(caller, dep);
            let bins = bins(cx, &idx, self.bin);
            let busy = bins
                .values()
                .any(|b| b.calls.len() as u64 >= self.min_calls);
            let failing = bins.values().any(|b| {
                b.failures as f64 >= self.error_ratio * b.calls.len() as f64 && b.failures > 0
            });
            if !busy {
                if failing {
                    out.undecided.push(Undecided {
                        subject,
                        missing: format!(
                            "failures seen, but no {}-wide bin has {} calls",
                            fmt_ms(self.bin as f64 / 1e6),
                            self.min_calls
                        ),
                        samples: idx.len() as u64,
                    });
                }
                continue;
            }
            out.checked += 1;
            // Episodes: runs of consecutive busy bins that fail or are slow.
            let keys: Vec<u64> = bins.keys().copied().collect();
            let mut best: Option<(usize, usize)> = None; // (start index, len)
            let mut i = 0;
            while i < keys.len() {
                let pre: Vec<&Bin> = keys[..i].iter().map(|k| &bins[k]).collect();
                let mut pre_p99: Vec<f64> = pre.iter().map(|b| b.p99).collect();
                let base_p99 = median(&mut pre_p99);
                let bad = |k: u64| {
                    let b = &bins[&k];
                    b.calls.len() as u64 >= self.min_calls
                        && (b.failures as f64 >= self.error_ratio * b.calls.len() as f64
                            || base_p99.is_some_and(|p| b.p99 >= self.latency_factor * p))
                };
                let mut j = i;
                while j < keys.len() && bad(keys[j]) && (j == i || keys[j] == keys[j - 1] + 1) {
                    j += 1;
                }
                if j - i >= self.min_bins.clamp(1, 2) && best.is_none_or(|b| j - i > b.1) {
                    best = Some((i, j - i));
                }
                i = j.max(i + 1);
            }
            let Some((start, len)) = best else { continue };
            if len < self.min_bins {
                continue;
            }
            let pre: Vec<&Bin> = keys[..start].iter().map(|k| &bins[k]).collect();
            let episode: Vec<&Bin> = keys[start..start + len].iter().map(|k| &bins[k]).collect();
            let ep_rate = episode.iter().map(|b| b.calls.len()).sum::<usize>() as f64 / len as f64;
            let base_rate = (!pre.is_empty()).then(|| {
                pre.iter().map(|b| b.calls.len()).sum::<usize>() as f64 / pre.len() as f64
            });
            let mut pre_d: Vec<f64> = pre
                .iter()
                .flat_map(|b| b.calls.iter().map(|&i| cx.calls[i as usize].ms()))
                .collect();
            let base_p50 = median(&mut pre_d);
            let failures: Vec<&Call> = episode
                .iter()
                .flat_map(|b| b.calls.iter().map(|&i| &cx.calls[i as usize]))
                .filter(|c| c.error)
                .collect();
            let fast = failures
                .iter()
                .filter(|c| base_p50.is_none_or(|p| c.ms() < 0.05 * p) && breaker_rejection(c))
                .count();
            let fast_share = fast as f64 / failures.len().max(1) as f64;
            let no_shed = base_rate.is_none_or(|b| ep_rate >= self.shed * b);
            // 2c: breaker telemetry bound to the edge, from its view (metric or inferred).
            let (ep_from, ep_to) = (
                keys[start] * self.bin,
                (keys[start + len - 1] + 1) * self.bin,
            );
            let view = cx.dep(caller, dep);
            let kind = view.map_or(Breaker::None, |v| dep::breaker(&v.breaker));
            let metric_opened = matches!(kind, Breaker::Metric(_))
                && view.is_some_and(|v| dep::opened_during(&v.breaker, ep_from, ep_to));
            if fast_share >= self.fast_share || !no_shed || metric_opened {
                continue;
            }
            let ep_calls: usize = episode.iter().map(|b| b.calls.len()).sum();
            let ep_fail: usize = episode.iter().map(|b| b.failures).sum();
            let mut ev = Evidence::default();
            ev.add("episode_minutes", len as f64 * self.bin as f64 / 60e9);
            ev.add("episode_calls", ep_calls);
            ev.add(
                "episode_failure_ratio",
                ep_fail as f64 / ep_calls.max(1) as f64,
            );
            ev.add("episode_calls_per_bin", ep_rate);
            if let Some(b) = base_rate {
                ev.add("baseline_calls_per_bin", b);
            }
            ev.add("fast_fail_share", fast_share);
            let (variant, telemetry) = match &kind {
                Breaker::Metric(s) => (
                    "CB-001b circuit breaker present but never opened",
                    format!("present: {s}, never opened during the episode"),
                ),
                Breaker::Inferred => (
                    "CB-001b circuit breaker present but never opened",
                    "present: inferred from breaker rejections in the traces, none during the episode".to_string(),
                ),
                Breaker::Admission(s) => (
                    "CB-001 no circuit breaker",
                    format!("none: only an admission limit ({s}), not an error breaker"),
                ),
                Breaker::None => (
                    "CB-001 no circuit breaker",
                    "none: no breaker metric maps this edge and no breaker rejections in the traces".to_string(),
                ),
            };
            ev.add("class", variant);
            ev.add("breaker_telemetry", telemetry);
            ev.add("episode_from_ns", ep_from);
            if let Some(v) = view {
                dep::cite(&mut ev, v);
            }
            out.hits.push(Hit {
                subject,
                adjust: Adjust::Keep,
                message: format!(
                    "{variant}: {:.0}% of {} calls failed over {:.0} min while the caller kept calling at {:.0}/bin ({}) and none failed fast",
                    ep_fail as f64 * 100.0 / ep_calls.max(1) as f64,
                    ep_calls,
                    len as f64 * self.bin as f64 / 60e9,
                    ep_rate,
                    base_rate.map_or("no pre-episode baseline".to_string(), |b| format!("baseline {b:.0}/bin"))
                ),
                evidence: ev,
                trace_ids: exemplars(cx, failures.iter().map(|c| c.trace), 5),
                samples: ep_calls as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(format!(
                "no edge in scope with {} calls in a bin",
                self.min_calls
            ));
        }
        out
    }
}
