//! Circuit-breaker state as the UI shows it, and its inference from traces.
//!
//! The unified states follow `reference/resilience-telemetry.md` §1.1. When metrics name a
//! breaker's state (the metrics work), that state wins; without metrics the state is *inferred*
//! from fast-fail errors on the edge: calls rejected by an open breaker fail at once with a
//! `CB_OPEN_RE` error (counted per bucket as `BucketStats::short_circuits` by the store). Per
//! 10-second bucket with calls, the short-circuited share `f` gives: `f ≥ 0.8` open, `0 < f < 0.8`
//! half-open (trial calls admitted between rejections, or a transition inside the bucket), `f = 0`
//! closed. An edge that never short-circuited in the window has no visible breaker: unknown.

use crate::model::edge::{BucketStats, EdgeSeries, bucket_of};

/// Share of short-circuited calls at or above which a bucket counts as open.
pub const OPEN_AT: f64 = 0.8;
/// Calls below which the newest bucket is judged together with the one before it.
pub const MIN_CALLS: u64 = 5;

/// A breaker's state, unified across libraries and proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Trial calls are admitted.
    HalfOpen,
    /// Calls are rejected.
    Open,
    /// Held open by an operator.
    ForcedOpen,
    /// The breaker is switched off.
    Disabled,
    /// An admission limit is full (Envoy "circuit breakers"): not an error breaker.
    AtCapacity,
    /// Hosts ejected by outlier detection: `ejected` of `total`.
    Ejected {
        /// Hosts ejected.
        ejected: u32,
        /// Hosts in the cluster.
        total: u32,
    },
    /// No breaker signal.
    Unknown,
}

impl BreakerState {
    /// The label the UI and reports show (upper case, as on-call dashboards do).
    pub fn label(self) -> String {
        match self {
            BreakerState::Closed => "CLOSED".into(),
            BreakerState::HalfOpen => "HALF-OPEN".into(),
            BreakerState::Open => "OPEN".into(),
            BreakerState::ForcedOpen => "FORCED-OPEN".into(),
            BreakerState::Disabled => "DISABLED".into(),
            BreakerState::AtCapacity => "AT CAPACITY".into(),
            BreakerState::Ejected { ejected, total } => format!("EJECTED {ejected}/{total}"),
            BreakerState::Unknown => "–".into(),
        }
    }

    /// Lower-case name used by filters (`state=open`) and reports.
    pub fn key(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
            BreakerState::AtCapacity => "at_capacity",
            BreakerState::Ejected { .. } => "ejected",
            BreakerState::Unknown => "unknown",
        }
    }

    /// Ordering for "worst first" sorting: open states rank highest.
    pub fn severity(self) -> u8 {
        match self {
            BreakerState::Open | BreakerState::ForcedOpen => 5,
            BreakerState::HalfOpen => 4,
            BreakerState::Ejected { .. } => 3,
            BreakerState::AtCapacity => 2,
            BreakerState::Closed | BreakerState::Disabled => 1,
            BreakerState::Unknown => 0,
        }
    }
}

/// A breaker's state with where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerStatus {
    /// The state.
    pub state: BreakerState,
    /// Whether it was inferred from traces rather than read from metrics.
    pub inferred: bool,
    /// When the current state began (start of the bucket where it was first seen), if known.
    pub since_ns: Option<u64>,
}

impl BreakerStatus {
    /// No breaker signal.
    pub const UNKNOWN: BreakerStatus = BreakerStatus {
        state: BreakerState::Unknown,
        inferred: false,
        since_ns: None,
    };
}

/// One change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When (bucket start for inferred transitions), Unix nanoseconds.
    pub at_ns: u64,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
}

/// The inferred state of one bucket, `None` when it has no calls.
pub fn bucket_state(b: &BucketStats) -> Option<BreakerState> {
    if b.calls == 0 {
        return None;
    }
    let f = b.short_circuits as f64 / b.calls as f64;
    Some(if f >= OPEN_AT {
        BreakerState::Open
    } else if f > 0.0 {
        BreakerState::HalfOpen
    } else {
        BreakerState::Closed
    })
}

/// How far before a window a short-circuit still shows that the edge has a breaker (so a
/// breaker that closed stays visible as CLOSED rather than disappearing).
pub const LOOKBACK_NS: u64 = 30 * 60 * 1_000_000_000;

/// Inferred states of the buckets overlapping `[from, to)`: `(bucket start, state)`, or `None`
/// when no bucket short-circuited in the range or the [`LOOKBACK_NS`] before it (no breaker seen).
pub fn inferred_states(
    series: &EdgeSeries,
    from: u64,
    to: u64,
) -> Option<Vec<(u64, BreakerState)>> {
    let seen = series
        .buckets
        .range(bucket_of(from.saturating_sub(LOOKBACK_NS))..to)
        .any(|(_, b)| b.short_circuits > 0);
    if !seen {
        return None;
    }
    Some(
        series
            .buckets
            .range(bucket_of(from)..to)
            .filter_map(|(&at, b)| bucket_state(b).map(|s| (at, s)))
            .collect(),
    )
}

/// The inferred breaker of an edge as of the end of `[from, to)`.
pub fn infer(series: &EdgeSeries, from: u64, to: u64) -> BreakerStatus {
    let Some(states) = inferred_states(series, from, to) else {
        return BreakerStatus::UNKNOWN;
    };
    let Some(&(last_at, mut state)) = states.last() else {
        return BreakerStatus::UNKNOWN;
    };
    // A bucket that has just begun holds few calls: judge it together with the one before, so
    // the live state does not flip at every bucket boundary.
    if let Some(last) = series.buckets.get(&last_at)
        && last.calls < MIN_CALLS
        && let Some((_, prev)) = series.buckets.range(..last_at).next_back()
    {
        let mut both = (**prev).clone();
        both.merge(last);
        state = bucket_state(&both).unwrap_or(state);
    }
    let since = states
        .iter()
        .rev()
        .take_while(|(_, s)| *s == state)
        .last()
        .map(|(at, _)| *at);
    BreakerStatus {
        state,
        inferred: true,
        since_ns: since,
    }
}

/// Inferred transitions of an edge within `[from, to)`, oldest first.
pub fn transitions(series: &EdgeSeries, from: u64, to: u64) -> Vec<Transition> {
    let Some(states) = inferred_states(series, from, to) else {
        return Vec::new();
    };
    states
        .windows(2)
        .filter(|w| w[0].1 != w[1].1)
        .map(|w| Transition {
            at_ns: w[1].0,
            from: w[0].1,
            to: w[1].1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dependency::DepKind;
    use crate::model::edge::CallSample;

    const S: u64 = 1_000_000_000;

    fn series(buckets: &[(u64, u64, u64)]) -> EdgeSeries {
        let mut s = EdgeSeries::new(DepKind::Http);
        for &(b, calls, sc) in buckets {
            for i in 0..calls {
                s.record(&CallSample {
                    start_ns: b * 10 * S + i,
                    duration_secs: 0.01,
                    error: i < sc,
                    timeout: false,
                    retry: false,
                    short_circuit: i < sc,
                });
            }
        }
        s
    }

    #[test]
    fn no_short_circuits_means_no_breaker_seen() {
        let s = series(&[(0, 10, 0), (1, 10, 0)]);
        assert_eq!(infer(&s, 0, 20 * S), BreakerStatus::UNKNOWN);
        assert!(transitions(&s, 0, 20 * S).is_empty());
        let s = series(&[(0, 10, 10), (1, 10, 0), (500, 10, 0)]);
        assert_eq!(
            infer(&s, 10 * S, 20 * S).state,
            BreakerState::Closed,
            "seen before the window"
        );
        assert_eq!(
            infer(&s, 5000 * S, 5010 * S),
            BreakerStatus::UNKNOWN,
            "beyond the lookback"
        );
    }

    #[test]
    fn opens_half_opens_and_closes() {
        let s = series(&[(0, 10, 0), (1, 10, 9), (2, 10, 10), (3, 10, 3), (4, 10, 0)]);
        let t = transitions(&s, 0, 50 * S);
        let seq: Vec<_> = t.iter().map(|t| (t.at_ns / S, t.to)).collect();
        assert_eq!(
            seq,
            vec![
                (10, BreakerState::Open),
                (30, BreakerState::HalfOpen),
                (40, BreakerState::Closed)
            ]
        );
        let st = infer(&s, 0, 30 * S);
        assert_eq!(st.state, BreakerState::Open);
        assert!(st.inferred);
        assert_eq!(st.since_ns, Some(10 * S));
        assert_eq!(infer(&s, 0, 50 * S).state, BreakerState::Closed);
        // A new bucket with two calls, neither rejected, does not close an open breaker yet.
        let s = series(&[(0, 10, 0), (1, 10, 10), (2, 2, 0)]);
        assert_eq!(infer(&s, 0, 30 * S).state, BreakerState::Open);
    }

    #[test]
    fn labels_and_severity() {
        assert_eq!(
            BreakerState::Ejected {
                ejected: 2,
                total: 5
            }
            .label(),
            "EJECTED 2/5"
        );
        assert!(BreakerState::Open.severity() > BreakerState::HalfOpen.severity());
        assert_eq!(BreakerState::HalfOpen.key(), "half_open");
    }
}
