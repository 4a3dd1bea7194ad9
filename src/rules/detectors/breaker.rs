//! CB-001 (`missing-circuit-breaker`): a dependency fails for minutes and the caller keeps
//! calling at full rate with no fast failures. CB-002 (`breaker-flapping`): a breaker that
//! opens and closes over and over, or stays open.
//!
//! Without breaker metrics, breaker state is inferred from traces: a failed call that is fast
//! (< 5 % of the edge's baseline p50) and says so (the reference's CB_OPEN_RE: CallNotPermitted,
//! BrokenCircuit, short-circuit, "circuit breaker is open", ErrOpenState, pybreaker's
//! CircuitBreakerError, Envoy flag UO) is a breaker rejection. Findings say `inferred`.

use std::collections::BTreeMap;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars, median, quantile_sorted};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};

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

/// `breaker-flapping` (CB-002).
pub const FLAPPING: DetectorDef = DetectorDef {
    name: "breaker-flapping",
    implements: "CB-002",
    summary: "breaker open/closed cycles, or a breaker stuck open",
    params: &[
        ParamDef {
            name: "bin",
            kind: ParamKind::Duration,
            default: "\"10s\"",
            doc: "state resolution",
        },
        ParamDef {
            name: "cycles",
            kind: ParamKind::Count,
            default: "3",
            doc: "open→closed→open cycles within `period` that flag",
        },
        ParamDef {
            name: "period",
            kind: ParamKind::Duration,
            default: "\"10m\"",
            doc: "window of the cycle count",
        },
        ParamDef {
            name: "stuck",
            kind: ParamKind::Duration,
            default: "\"10m\"",
            doc: "open this long is stuck",
        },
    ],
    build: build_flapping,
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

#[derive(Debug)]
struct Flapping {
    bin: u64,
    cycles: usize,
    period: u64,
    stuck: u64,
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

fn build_flapping(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Flapping {
        bin: p.duration_ns("bin").max(1_000_000),
        cycles: p.count("cycles").max(1) as usize,
        period: p.duration_ns("period").max(1),
        stuck: p.duration_ns("stuck").max(1),
    }))
}

/// Whether a failed call says a breaker rejected it (the one definition:
/// [`crate::model::classify::is_short_circuit`]).
pub fn breaker_rejection(cx: &Context<'_>, c: &Call) -> bool {
    c.error && crate::model::classify::is_short_circuit(cx.span(c))
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
                .filter(|c| base_p50.is_none_or(|p| c.ms() < 0.05 * p) && breaker_rejection(cx, c))
                .count();
            let fast_share = fast as f64 / failures.len().max(1) as f64;
            let no_shed = base_rate.is_none_or(|b| ep_rate >= self.shed * b);
            if fast_share >= self.fast_share || !no_shed {
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
            ev.add(
                "breaker_telemetry",
                "none: no breaker metrics loaded; no breaker rejections in traces (inferred)",
            );
            out.hits.push(Hit {
                subject,
                adjust: Adjust::Keep,
                message: format!(
                    "no circuit breaker acted: {:.0}% of {} calls failed over {:.0} min while the caller kept calling at {:.0}/bin ({}) and none failed fast",
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

impl Detector for Flapping {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&f) = idx.first() else { continue };
            if !rule.edge(caller, dep, cx.calls[f as usize].kind) {
                continue;
            }
            // Inferred state per bin: open when most calls are breaker rejections.
            let mut state: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
            let mut any = false;
            for &i in idx {
                let c = &cx.calls[i as usize];
                let rej = breaker_rejection(cx, c);
                any |= rej;
                let e = state.entry(c.start / self.bin).or_default();
                e.0 += 1;
                e.1 += usize::from(rej);
            }
            if !any {
                continue;
            }
            out.checked += 1;
            let seq: Vec<(u64, bool)> = state.iter().map(|(&b, &(n, r))| (b, r * 2 >= n)).collect();
            // Transitions to open, and the longest open run.
            let opens: Vec<u64> = seq
                .windows(2)
                .filter(|w| !w[0].1 && w[1].1)
                .map(|w| w[1].0 * self.bin)
                .collect();
            let mut longest = 0u64;
            let mut run_start: Option<u64> = None;
            for &(b, open) in &seq {
                match (open, run_start) {
                    (true, None) => run_start = Some(b),
                    (false, Some(s)) => {
                        longest = longest.max((b - s) * self.bin);
                        run_start = None;
                    }
                    _ => {}
                }
            }
            if let (Some(s), Some(&(last, _))) = (run_start, seq.last()) {
                longest = longest.max((last + 1 - s) * self.bin);
            }
            let max_cycles = opens
                .iter()
                .map(|&t| {
                    opens
                        .iter()
                        .filter(|&&u| u >= t && u < t + self.period)
                        .count()
                })
                .max()
                .unwrap_or(0);
            // Cycles = re-openings after a close: openings − 1 within the period, plus the first.
            let flapping = max_cycles >= self.cycles;
            let stuck = longest >= self.stuck;
            if !flapping && !stuck {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add("state_source", "inferred from breaker rejections in traces");
            ev.add("openings_in_period", max_cycles);
            ev.add("longest_open_s", longest as f64 / 1e9);
            ev.add("bins", seq.len());
            let rej: Vec<u32> = idx
                .iter()
                .copied()
                .filter(|&i| breaker_rejection(cx, &cx.calls[i as usize]))
                .map(|i| cx.calls[i as usize].trace)
                .collect();
            out.hits.push(Hit {
                subject: Subject::edge(caller, dep),
                adjust: Adjust::Keep,
                message: if flapping {
                    format!(
                        "breaker flapping (inferred): opened {max_cycles} times within {}",
                        fmt_ms(self.period as f64 / 1e6)
                    )
                } else {
                    format!(
                        "breaker stuck open (inferred) for {}",
                        fmt_ms(longest as f64 / 1e6)
                    )
                },
                evidence: ev,
                trace_ids: exemplars(cx, rej, 5),
                samples: idx.len() as u64,
            });
        }
        if out.checked == 0 {
            out.missing = Some("no breaker state: no breaker metrics loaded and no breaker rejections (short-circuit errors) in traces".into());
        }
        out
    }
}
