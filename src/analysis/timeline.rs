//! The incident timeline of a whole capture: error % across all edges per bucket, the worst
//! breaker state per bucket, and every breaker transition (the review screen's strip).

use std::collections::BTreeMap;

use crate::model::edge::EdgeKey;
use crate::store::Snapshot;

use crate::model::breaker::{self, BreakerState, Transition};

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
    /// Buckets with calls, oldest first.
    pub points: Vec<Point>,
    /// Breaker transitions of every edge, oldest first.
    pub transitions: Vec<(EdgeKey, Transition)>,
}

impl Timeline {
    /// Builds the timeline from a snapshot covering the whole capture.
    pub fn build(snap: &Snapshot) -> Self {
        let (from, to) = (snap.range.0, snap.range.1.saturating_add(1));
        let mut points: BTreeMap<u64, Point> = BTreeMap::new();
        let mut transitions = Vec::new();
        for e in snap.edges.iter() {
            for (&at, b) in e.series.buckets.iter() {
                let p = points.entry(at).or_insert(Point {
                    at_ns: at,
                    calls: 0,
                    errors: 0,
                    worst: BreakerState::Unknown,
                });
                p.calls += b.calls;
                p.errors += b.errors;
            }
            if let Some(states) = breaker::inferred_states(&e.series, from, to) {
                for (at, s) in states {
                    if let Some(p) = points.get_mut(&at)
                        && s.severity() > p.worst.severity()
                    {
                        p.worst = s;
                    }
                }
                transitions.extend(
                    breaker::transitions(&e.series, from, to)
                        .into_iter()
                        .map(|t| (e.key.clone(), t)),
                );
            }
        }
        transitions.sort_by(|a, b| (a.1.at_ns, &a.0).cmp(&(b.1.at_ns, &b.0)));
        Timeline {
            range: snap.range,
            points: points.into_values().collect(),
            transitions,
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
}
