//! RTY-001 (`unjittered-retry`): retries without jitter, or without backoff.
//!
//! Chains come from [`crate::rules::chains`]. Gaps g_k = start(attempt k+1) − end(attempt k) are
//! grouped by (caller, dependency, operation, k); per k with enough samples: median m_k, robust
//! spread s_k = 1.4826·MAD_k, robust CV r_k = s_k/m_k, growth ρ_k = m_{k+1}/m_k. Classes:
//! no backoff (m_1 < 5 ms or < 1 % of the attempt duration); unjittered fixed (all r_k ≤
//! max(0.05, 2 ms/m_k), ρ ∈ [0.9, 1.1]); unjittered exponential (same bound, ρ stable ±10 % in
//! [1.3, 3]); other unjittered schedules; weak jitter (r < 0.10, info); jittered (pass). Every
//! standard jitter scheme has r ≥ 0.115 (gRPC ±20 %), so the cut-offs leave a 2× margin.
//!
//! Inferred chains (failed siblings with one route, no resend count or gRPC attempt ordinal) are
//! cut where the item changes (`model::retry::ITEM_ATTRIBUTES`): a loop posting successive items
//! during an outage sends different ids, bodies or statements, and those are not retries of one
//! item. The store counts retries on the same chains.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars, median, robust_spread};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};
use crate::rules::chains::{Chain, ChainSource};

/// `unjittered-retry` (RTY-001).
pub const UNJITTERED: DetectorDef = DetectorDef {
    name: "unjittered-retry",
    implements: "RTY-001",
    summary: "retry chains whose backoff gaps have no jitter, or no backoff at all",
    params: &[
        ParamDef {
            name: "min_first_gaps",
            kind: ParamKind::Count,
            default: "20",
            doc: "chains needed to judge the first gap (k = 1)",
        },
        ParamDef {
            name: "min_later_gaps",
            kind: ParamKind::Count,
            default: "10",
            doc: "chains needed to use a later gap (k ≥ 2)",
        },
        ParamDef {
            name: "no_backoff_ms",
            kind: ParamKind::Number,
            default: "5.0",
            doc: "median first gap below this is an immediate retry",
        },
        ParamDef {
            name: "unjittered_cv",
            kind: ParamKind::Number,
            default: "0.05",
            doc: "robust CV at or below this (or 2 ms / m_k) is no jitter",
        },
        ParamDef {
            name: "weak_jitter_cv",
            kind: ParamKind::Number,
            default: "0.10",
            doc: "robust CV below this is weak jitter (info)",
        },
        ParamDef {
            name: "noise_ms",
            kind: ParamKind::Number,
            default: "2.0",
            doc: "scheduler noise allowed in the spread, ms",
        },
    ],
    build,
};

#[derive(Debug)]
struct Unjittered {
    min_first: u64,
    min_later: u64,
    no_backoff_ms: f64,
    cv: f64,
    weak_cv: f64,
    noise_ms: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Unjittered {
        min_first: p.count("min_first_gaps").max(2),
        min_later: p.count("min_later_gaps").max(2),
        no_backoff_ms: p.number("no_backoff_ms"),
        cv: p.number("unjittered_cv"),
        weak_cv: p.number("weak_jitter_cv"),
        noise_ms: p.number("noise_ms"),
    }))
}

/// Gap statistics of one attempt number.
#[derive(Clone, Debug)]
pub struct Level {
    /// k (1-based).
    pub k: usize,
    /// Samples.
    pub n: usize,
    /// Median gap, ms.
    pub m: f64,
    /// Robust CV.
    pub r: f64,
}

/// The class of a retry schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Class {
    /// RTY-001a.
    NoBackoff,
    /// RTY-001b.
    Fixed,
    /// RTY-001c, with the growth ratio.
    Exponential(f64),
    /// Unjittered, with a schedule fitting neither.
    OtherUnjittered,
    /// Unjittered with only the first gap measurable.
    UnjitteredSingleLevel,
    /// Weak jitter.
    WeakJitter,
    /// Jittered.
    Jittered,
}

impl Class {
    /// Label for evidence.
    pub fn label(&self) -> String {
        match self {
            Class::NoBackoff => "RTY-001a no backoff (immediate retry)".into(),
            Class::Fixed => "RTY-001b fixed backoff without jitter".into(),
            Class::Exponential(r) => {
                format!("RTY-001c exponential backoff (×{r:.2}) without jitter")
            }
            Class::OtherUnjittered => "unjittered backoff (irregular schedule)".into(),
            Class::UnjitteredSingleLevel => "unjittered backoff (one retry level measured)".into(),
            Class::WeakJitter => "weak jitter".into(),
            Class::Jittered => "jittered".into(),
        }
    }
}

/// Per-level statistics from gap lists (level k at index k-1).
pub fn levels(gaps: &[Vec<f64>], min_first: u64, min_later: u64) -> Vec<Level> {
    let mut out = Vec::new();
    for (i, g) in gaps.iter().enumerate() {
        let need = if i == 0 { min_first } else { min_later } as usize;
        if g.len() < need {
            break;
        }
        let mut v = g.clone();
        let m = median(&mut v).unwrap_or(0.0);
        let s = robust_spread(g).unwrap_or(0.0);
        out.push(Level {
            k: i + 1,
            n: g.len(),
            m,
            r: if m > 0.0 { s / m } else { f64::INFINITY },
        });
    }
    out
}

impl Unjittered {
    /// Classifies measured levels; `attempt_ms` is the median attempt duration.
    pub fn classify(&self, lv: &[Level], attempt_ms: f64) -> Class {
        let m1 = lv[0].m;
        if m1 < self.no_backoff_ms || m1 < 0.01 * attempt_ms {
            return Class::NoBackoff;
        }
        let bound = |l: &Level| self.cv.max(self.noise_ms / l.m);
        if lv.iter().any(|l| l.r >= self.weak_cv && l.r > bound(l)) {
            return Class::Jittered;
        }
        if !lv.iter().all(|l| l.r <= bound(l)) {
            return Class::WeakJitter;
        }
        if lv.len() < 2 {
            return Class::UnjitteredSingleLevel;
        }
        let rho: Vec<f64> = lv.windows(2).map(|w| w[1].m / w[0].m).collect();
        if rho.iter().all(|r| (0.9..=1.1).contains(r)) {
            return Class::Fixed;
        }
        let mut sorted = rho.clone();
        let mid = median(&mut sorted).unwrap_or(0.0);
        if (1.3..=3.0).contains(&mid) && rho.iter().all(|r| (r - mid).abs() <= 0.1 * mid) {
            return Class::Exponential(mid);
        }
        Class::OtherUnjittered
    }
}

/// Known library defaults (reference §1.7) matched by (attempts, m_1, ρ).
fn signature(class: &Class, max_attempts: usize, m1: f64) -> Option<&'static str> {
    let near = |v: f64, t: f64| (v - t).abs() <= 0.05 * t;
    match class {
        Class::Fixed | Class::UnjitteredSingleLevel if near(m1, 500.0) && max_attempts <= 3 => {
            Some("resilience4j Retry default: 3 attempts, fixed 500 ms, no jitter")
        }
        Class::Fixed | Class::UnjitteredSingleLevel if near(m1, 2000.0) && max_attempts <= 4 => {
            Some("Polly v8 retry default: 3 retries, 2 s constant, UseJitter=false")
        }
        Class::Exponential(r) if near(*r, 1.5) => {
            Some("resilience4j IntervalFunction.ofExponentialBackoff default multiplier 1.5")
        }
        Class::Exponential(r) if near(*r, 2.0) => Some(
            "multiplier 2: Polly v8 exponential backoff with UseJitter=false, or a hand-written doubling",
        ),
        _ => None,
    }
}

type OpKey = (Arc<str>, Arc<str>, Arc<str>);

impl Detector for Unjittered {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut by_op: BTreeMap<OpKey, Vec<&Chain>> = BTreeMap::new();
        for ch in cx.chains() {
            let c = &cx.calls[ch.attempts[0] as usize];
            if rule.edge(&c.caller, &c.dep, c.kind) && rule.op(&c.op) {
                by_op
                    .entry((c.caller.clone(), c.dep.clone(), c.op.clone()))
                    .or_default()
                    .push(ch);
            }
        }
        for ((caller, dep, op), chains) in by_op {
            let subject = Subject::edge(&caller, &dep).with_op(&op);
            let mut gaps: Vec<Vec<f64>> = Vec::new();
            let mut durations = Vec::new();
            for ch in &chains {
                for (i, g) in ch.gaps_ms(cx).into_iter().enumerate() {
                    if gaps.len() <= i {
                        gaps.push(Vec::new());
                    }
                    gaps[i].push(g);
                }
                durations.extend(ch.attempts.iter().map(|&a| cx.calls[a as usize].ms()));
            }
            let lv = levels(&gaps, self.min_first, self.min_later);
            if lv.is_empty() {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!("{} retry chains, needs {}", chains.len(), self.min_first),
                    samples: chains.len() as u64,
                });
                continue;
            }
            out.checked += 1;
            let attempt_ms = median(&mut durations).unwrap_or(0.0);
            let class = self.classify(&lv, attempt_ms);
            if class == Class::Jittered {
                continue;
            }
            let max_attempts = chains.iter().map(|c| c.attempts.len()).max().unwrap_or(0);
            let failed: Vec<_> = chains
                .iter()
                .flat_map(|ch| ch.attempts[..ch.attempts.len() - 1].iter())
                .map(|&a| &cx.calls[a as usize])
                .collect();
            let overload = failed
                .iter()
                .filter(|c| matches!(c.http_status, Some(429 | 503)) || c.timeout)
                .count();
            let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
            for c in &failed {
                let k = match (c.http_status, c.timeout) {
                    (_, true) => "timeout".to_string(),
                    (Some(s), _) => s.to_string(),
                    (None, _) => cx
                        .span(c)
                        .attributes
                        .first_str(&["error.type"])
                        .unwrap_or("error")
                        .to_string(),
                };
                *by_key(&mut statuses, k) += 1;
            }
            let mut sources: Vec<ChainSource> = chains.iter().map(|c| c.source).collect();
            sources.sort();
            sources.dedup();
            let sig = signature(&class, max_attempts, lv[0].m);
            let mut ev = Evidence::default();
            ev.add("class", class.label());
            ev.add("chains", chains.len());
            ev.add("max_attempts", max_attempts);
            for l in &lv {
                ev.add(
                    &format!("gap_k{}", l.k),
                    format!("median {} robust_cv {:.3} n {}", fmt_ms(l.m), l.r, l.n),
                );
            }
            if lv.len() >= 2 {
                let rho: Vec<String> = lv
                    .windows(2)
                    .map(|w| format!("{:.2}", w[1].m / w[0].m))
                    .collect();
                ev.add("growth_ratios", rho.join(", "));
            }
            ev.add("median_attempt_ms", attempt_ms);
            ev.add(
                "chain_source",
                sources
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            ev.add(
                "failed_attempts",
                statuses
                    .iter()
                    .map(|(k, v)| format!("{k}×{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if let Some(s) = sig {
                ev.add("signature", s);
            }
            if let Some(v) = cx.dep(&caller, &dep) {
                dep::cite(&mut ev, v);
            }
            let overloaded = overload * 2 >= failed.len().max(1);
            let adjust = match class {
                Class::WeakJitter => Adjust::Info,
                Class::NoBackoff if overloaded => Adjust::Raise,
                _ => Adjust::Keep,
            };
            if overloaded && class == Class::NoBackoff {
                ev.add(
                    "escalated",
                    "immediate retries of overload errors (429/503/timeouts)",
                );
            }
            let schedule: Vec<String> = lv.iter().map(|l| fmt_ms(l.m)).collect();
            let mut longest: Vec<&&Chain> = chains.iter().collect();
            longest.sort_by(|a, b| {
                b.attempts.len().cmp(&a.attempts.len()).then_with(|| {
                    // Not by index: indices follow arrival order, exemplars must not.
                    let (x, y) = (
                        &cx.calls[a.attempts[0] as usize],
                        &cx.calls[b.attempts[0] as usize],
                    );
                    x.start
                        .cmp(&y.start)
                        .then(cx.trace_id(x.trace).cmp(&cx.trace_id(y.trace)))
                })
            });
            out.hits.push(Hit {
                subject,
                adjust,
                message: format!(
                    "{}: gaps {} with robust CV {} over {} chains{}",
                    class.label(),
                    schedule.join(" → "),
                    lv.iter()
                        .map(|l| format!("{:.3}", l.r))
                        .collect::<Vec<_>>()
                        .join("/"),
                    chains.len(),
                    sig.map(|s| format!(" ({s})")).unwrap_or_default()
                ),
                evidence: ev,
                trace_ids: exemplars(
                    cx,
                    longest
                        .iter()
                        .map(|c| cx.calls[c.attempts[0] as usize].trace),
                    5,
                ),
                samples: lv[0].n as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(
                "no retry chains in scope (no resend_count/gRPC attempt spans, and no failed call followed by a sibling re-attempt)".into(),
            );
        }
        out
    }
}

fn by_key(m: &mut BTreeMap<String, usize>, k: String) -> &mut usize {
    m.entry(k).or_insert(0)
}
