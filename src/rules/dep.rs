//! What the rules read of a dependency: its view (`model::view::DependencyView`, built by the
//! store for the snapshot's window), so a finding cites the numbers the dashboard and `report`
//! show — calls, errors, retries and the retry ratio counted once by the store, the breaker
//! state as of the window's end — and judges "sustained" on the view's gauge history.

use crate::model::breaker::{BreakerSource, BreakerState, BreakerView};
use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::profile::{Encoding, ProfileSet};
use crate::model::view::{DependencyView, GaugeSample, QueueSource, STALE_NS};

/// What a finding's `counted_by` evidence says about the figures it cites.
pub const COUNTED_BY: &str = "dependency view of the window (as the dashboard and report): calls classified once by the store, retries = attempts ≥ 2 of attempt chains, retry_ratio = retries ÷ calls";

/// Adds the view's figures for the edge to a finding's evidence: `calls`, `errors`,
/// `error_ratio`, `retries`, `retry_ratio`, `breaker`, `breaker_source`, and `counted_by`.
pub fn cite(ev: &mut Evidence, v: &DependencyView) {
    let t = &v.traffic;
    ev.add("calls", t.stats.calls);
    ev.add("errors", t.stats.errors);
    ev.add("error_ratio", t.error_ratio());
    ev.add("retries", t.stats.retries);
    ev.add("retry_ratio", t.retry_ratio());
    ev.add("breaker", v.breaker.state.to_string());
    ev.add("breaker_source", v.breaker.source.name().unwrap_or("none"));
    ev.add("counted_by", COUNTED_BY);
}

/// The traces' average concurrency by Little's law, L = λ·W (calls ÷ window × mean latency):
/// the view's estimate when no queue gauge maps the edge, computed the same way otherwise.
pub fn little(v: &DependencyView) -> Option<f64> {
    if let Some(q) = v
        .queue
        .as_ref()
        .filter(|q| q.source == QueueSource::Estimated)
    {
        return Some(q.depth);
    }
    let t = &v.traffic;
    let secs = t.to_ns.saturating_sub(t.from_ns) as f64 / 1e9;
    (t.stats.calls > 0 && secs > 0.0).then(|| t.stats.latency.sum() / secs)
}

/// What the view says of a dependency's breaker, for the breaker rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breaker {
    /// No breaker signal: no breaker metric maps the edge, and no call was rejected by one.
    None,
    /// Only an admission limit maps the edge (Envoy `*_open`: `at_capacity`): not an error
    /// breaker (reference CB-001 false positives).
    Admission(String),
    /// A breaker metric maps the edge: `profile:series`.
    Metric(String),
    /// Inferred from breaker rejections in the traces (short-circuited calls).
    Inferred,
}

impl Breaker {
    /// Whether an error breaker exists on the edge (a metric one, or one seen rejecting calls).
    pub fn present(&self) -> bool {
        matches!(self, Breaker::Metric(_) | Breaker::Inferred)
    }

    /// `profile:series`, `inferred:traces` or `none`, for evidence.
    pub fn source(&self) -> &str {
        match self {
            Breaker::None => "none",
            Breaker::Admission(s) | Breaker::Metric(s) => s,
            Breaker::Inferred => crate::model::breaker::INFERRED,
        }
    }
}

/// The kind of breaker the view shows (one definition of breaker state: `model::breaker`).
pub fn breaker(b: &BreakerView) -> Breaker {
    match &b.source {
        BreakerSource::None => Breaker::None,
        BreakerSource::Traces => Breaker::Inferred,
        BreakerSource::Metric(name) => {
            let admission = b.state == BreakerState::AtCapacity
                || b.transitions.iter().any(|t| {
                    t.to == BreakerState::AtCapacity || t.from == BreakerState::AtCapacity
                })
                || ProfileSet::builtin()
                    .breakers
                    .iter()
                    .any(|d| *d.source == **name && d.encoding == Encoding::Admission);
            if admission {
                Breaker::Admission(name.to_string())
            } else {
                Breaker::Metric(name.to_string())
            }
        }
    }
}

/// Whether the breaker was open (open, forced open, or hosts ejected) at some moment of
/// `[from, to)`: a transition into such a state inside, or such a state holding into it.
pub fn opened_during(b: &BreakerView, from: u64, to: u64) -> bool {
    let opened = |s: &BreakerState| s.is_open() || matches!(s, BreakerState::Ejected { .. });
    if b.transitions
        .iter()
        .any(|t| t.at_ns >= from && t.at_ns < to && opened(&t.to))
    {
        return true;
    }
    // The state holding at `from`: the last transition before it, else the state before the
    // first transition, else the state now.
    let at_from = match b.transitions.iter().rev().find(|t| t.at_ns < from) {
        Some(t) => t.to,
        None => b.transitions.first().map_or(b.state, |t| t.from),
    };
    opened(&at_from)
}

/// A stretch of the gauge history during which a condition held.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Run {
    /// First sample time it held, Unix ns.
    pub from_ns: u64,
    /// When it stopped holding (the next sample, or how long the last sample stays valid).
    pub to_ns: u64,
    /// Index of its first sample in the history.
    pub first: usize,
    /// Index of its last sample.
    pub last: usize,
}

impl Run {
    /// Its length, ns.
    pub fn len_ns(&self) -> u64 {
        self.to_ns.saturating_sub(self.from_ns)
    }
}

/// Every maximal run of samples for which `held` is true. A sample holds until the next one;
/// the last holds until the window's end, or until it goes stale (the staleness bound).
pub fn runs(g: &[GaugeSample], end_ns: u64, held: impl Fn(&GaugeSample) -> bool) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut open: Option<usize> = None;
    for (i, s) in g.iter().enumerate() {
        let until = match g.get(i + 1) {
            Some(next) => next.t_ns,
            None => end_ns.min(s.t_ns.saturating_add(STALE_NS)).max(s.t_ns),
        };
        if held(s) {
            let first = *open.get_or_insert(i);
            match out.last_mut().filter(|r| r.first == first) {
                Some(r) => {
                    r.to_ns = until;
                    r.last = i;
                }
                None => out.push(Run {
                    from_ns: s.t_ns,
                    to_ns: until,
                    first,
                    last: i,
                }),
            }
        } else {
            open = None;
        }
    }
    out
}

/// The longest run of `held` (the first of equal ones).
pub fn longest(g: &[GaugeSample], end_ns: u64, held: impl Fn(&GaugeSample) -> bool) -> Option<Run> {
    runs(g, end_ns, held)
        .into_iter()
        .fold(None, |best: Option<Run>, r| match best {
            Some(b) if b.len_ns() >= r.len_ns() => Some(b),
            _ => Some(r),
        })
}

/// How long the gauge history covers: from its first sample to the window's end (or until the
/// last sample goes stale).
pub fn covered_ns(g: &[GaugeSample], end_ns: u64) -> u64 {
    match (g.first(), g.last()) {
        (Some(a), Some(b)) => end_ns
            .min(b.t_ns.saturating_add(STALE_NS))
            .max(b.t_ns)
            .saturating_sub(a.t_ns),
        _ => 0,
    }
}

/// Seconds, for evidence.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn u(t: u64, u: f64) -> GaugeSample {
        GaugeSample {
            t_ns: t * S,
            pool_utilisation: Some(u),
            ..GaugeSample::default()
        }
    }

    #[test]
    fn runs_hold_until_the_next_sample_and_the_last_until_the_end() {
        let g = [u(0, 0.5), u(10, 0.9), u(20, 0.95), u(30, 0.1), u(40, 0.85)];
        let high = |s: &GaugeSample| s.pool_utilisation.is_some_and(|u| u >= 0.8);
        let r = runs(&g, 100 * S, high);
        assert_eq!(
            r.iter()
                .map(|r| (r.from_ns / S, r.to_ns / S))
                .collect::<Vec<_>>(),
            vec![(10, 30), (40, 100)]
        );
        assert_eq!(longest(&g, 100 * S, high).map(|r| r.len_ns() / S), Some(60));
        assert_eq!(covered_ns(&g, 100 * S) / S, 100);
        // A last sample older than the staleness bound stops holding then.
        let far = 40 * S + STALE_NS + 100 * S;
        assert_eq!(
            longest(&g, far, high).map(|r| r.to_ns),
            Some(40 * S + STALE_NS)
        );
    }
}
