//! The incident timeline of a whole capture: error % across all dependencies per bucket, the
//! worst breaker state per bucket, and every breaker transition (the review screen's strip); and
//! the per-bucket breaker states of one dependency (the detail's strip). Everything comes from
//! the dependency views (`Snapshot::deps`): metric states where a breaker metric maps a
//! dependency, states inferred from traces elsewhere.

use std::collections::BTreeMap;

use crate::model::breaker::{self, BreakerSource, BreakerState, Transition};
use crate::model::edge::{BUCKET_NS, EdgeKey, bucket_of};
use crate::model::view::DependencyView;
use crate::store::Snapshot;

/// One bucket of the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Bucket start, Unix nanoseconds.
    pub at_ns: u64,
    /// Calls on all edges.
    pub calls: u64,
    /// Failed calls on all edges.
    pub errors: u64,
    /// Worst breaker state of any edge in the bucket.
    pub worst: BreakerState,
}

impl Point {
    /// errors ÷ calls.
    pub fn error_ratio(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }
}

/// The timeline of a capture.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Data range, [first, last] Unix nanoseconds.
    pub range: (u64, u64),
    /// Buckets with calls or breaker states, oldest first.
    pub points: Vec<Point>,
    /// Breaker transitions of every dependency, oldest first.
    pub transitions: Vec<(EdgeKey, Transition)>,
}

impl Timeline {
    /// Builds the timeline from a snapshot covering the whole capture.
    pub fn build(snap: &Snapshot) -> Self {
        let (from, to) = (snap.range.0, snap.range.1.saturating_add(1));
        let mut points: BTreeMap<u64, Point> = BTreeMap::new();
        let mut transitions = Vec::new();
        let empty = |at| Point {
            at_ns: at,
            calls: 0,
            errors: 0,
            worst: BreakerState::Unknown,
        };
        for d in snap.deps.iter() {
            for (&at, b) in d.series.buckets.range(bucket_of(from)..to) {
                let p = points.entry(at).or_insert_with(|| empty(at));
                p.calls += b.calls;
                p.errors += b.errors;
            }
            for (at, s) in bucket_states(d, from, to) {
                let p = points.entry(at).or_insert_with(|| empty(at));
                if s.severity() > p.worst.severity() {
                    p.worst = s;
                }
            }
            transitions.extend(d.breaker.transitions.iter().map(|t| (d.key.clone(), *t)));
        }
        transitions.sort_by(|a, b| (a.1.at_ns, &a.0).cmp(&(b.1.at_ns, &b.0)));
        Timeline {
            range: snap.range,
            points: points.into_values().collect(),
            transitions,
        }
    }
}

/// The breaker state of a dependency per bucket of `[from, to)` (the worst one seen in the
/// bucket): per bucket from the traces when the state is inferred, else from the metric's
/// transitions (a bucket before anything was known is left out). `(bucket start, state)`,
/// oldest first; empty when no breaker is seen.
pub fn bucket_states(d: &DependencyView, from: u64, to: u64) -> Vec<(u64, BreakerState)> {
    match d.breaker.source {
        BreakerSource::None => Vec::new(),
        BreakerSource::Traces => breaker::inferred_states(&d.series, from, to).unwrap_or_default(),
        BreakerSource::Metric(_) => {
            let b = &d.breaker;
            let known_from = b
                .transitions
                .first()
                .map_or(b.since_ns.unwrap_or(from), |_| from)
                .max(from);
            let mut state = b.transitions.first().map_or(b.state, |t| t.from);
            let mut next = b.transitions.iter().peekable();
            let mut out = Vec::new();
            let mut at = bucket_of(from);
            while at < to {
                let end = at.saturating_add(BUCKET_NS);
                while let Some(t) = next.next_if(|t| t.at_ns <= at) {
                    state = t.to;
                }
                let mut worst = state;
                while let Some(t) = next.next_if(|t| t.at_ns < end) {
                    state = t.to;
                    if state.severity() > worst.severity() {
                        worst = state;
                    }
                }
                if end > known_from {
                    out.push((at, worst));
                }
                at = end;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn fixture_timeline_shows_the_payments_incident() {
        let snap = testkit::fixture_snapshot();
        let tl = Timeline::build(&snap);
        assert!(tl.points.len() >= 9);
        assert!(tl.points.iter().any(|p| p.worst == BreakerState::Open));
        let pay: Vec<_> = tl
            .transitions
            .iter()
            .filter(|(k, _)| &*k.dependency == "payments")
            .map(|(_, t)| t.to)
            .collect();
        assert!(pay.contains(&BreakerState::Open), "{pay:?}");
        assert_eq!(pay.last(), Some(&BreakerState::Closed));
        let worst = tl
            .points
            .iter()
            .map(|p| p.error_ratio())
            .fold(0.0, f64::max);
        assert!(worst > 0.1);
    }

    #[test]
    fn metric_breakers_mark_the_timeline_and_their_buckets() {
        let mut store = testkit::fixture_store(90);
        testkit::fixture_metrics(&mut store);
        let snap = store.snapshot(None);
        let tl = Timeline::build(&snap);
        let pay: Vec<_> = tl
            .transitions
            .iter()
            .filter(|(k, _)| &*k.dependency == "payments")
            .map(|(_, t)| ((t.at_ns - testkit::T0) / testkit::SEC, t.to))
            .collect();
        assert_eq!(
            pay,
            vec![
                (40, BreakerState::Open),
                (55, BreakerState::HalfOpen),
                (60, BreakerState::Closed)
            ],
            "the metric's transitions, not the traces' inference"
        );
        let d = snap.dep("checkout", "payments").expect("payments");
        let states: Vec<_> = bucket_states(d, testkit::T0, testkit::T0 + 90 * testkit::SEC)
            .into_iter()
            .map(|(at, s)| ((at - testkit::T0) / testkit::SEC, s))
            .collect();
        assert_eq!(states[3], (30, BreakerState::Closed));
        assert_eq!(states[4], (40, BreakerState::Open));
        assert_eq!(states[5], (50, BreakerState::Open), "worst in the bucket");
        assert_eq!(states[6], (60, BreakerState::Closed));
    }
}
