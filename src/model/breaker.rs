//! The one breaker vocabulary: the unified state (reference §1.1), a transition, where a state
//! came from, and the state inferred from traces when no breaker metric maps an edge.
//!
//! Metric states come from `assets/profiles/` through `store::metrics`. Without metrics the state
//! is *inferred* from fast-fail errors on the edge: calls rejected by an open breaker fail at once
//! with a `CB_OPEN_RE` error (`model::classify`, counted per bucket as
//! `BucketStats::short_circuits`). Per 10-second bucket with calls, the short-circuited share `f`
//! gives: `f ≥ 0.8` open, `0 < f < 0.8` half-open (trial calls admitted between rejections, or a
//! transition inside the bucket), `f = 0` closed. An edge that never short-circuited in the
//! window (or the half hour before it) has no visible breaker: unknown.

use std::fmt;
use std::sync::Arc;

use super::edge::{BucketStats, EdgeSeries, bucket_of};

/// Share of short-circuited calls at or above which a bucket counts as open.
pub const OPEN_AT: f64 = 0.8;
/// Calls below which the newest bucket is judged together with the one before it.
pub const MIN_CALLS: u64 = 5;

/// The unified breaker state (reference §1.1). Envoy-style admission limits are `AtCapacity`
/// and outlier ejections `Ejected`, never `Open`: those proxies still send traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are rejected (fast fail).
    Open,
    /// Trial calls pass to test recovery.
    HalfOpen,
    /// Held open by an operator.
    ForcedOpen,
    /// Switched off: calls always pass.
    Disabled,
    /// An admission limit is reached: new calls are not admitted (Envoy `*_open` = 1).
    AtCapacity,
    /// Some hosts are ejected (outlier detection, failure accrual).
    Ejected {
        /// Hosts ejected.
        ejected: u32,
        /// Hosts in all (0 when unknown).
        total: u32,
    },
    /// Not known (event-only sources before their first event, or no breaker series).
    #[default]
    Unknown,
}

impl BreakerState {
    /// The state name as `report` prints it: `closed`, `open`, `half_open`, `forced_open`,
    /// `disabled`, `at_capacity`, `ejected`, `unknown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
            BreakerState::AtCapacity => "at_capacity",
            BreakerState::Ejected { .. } => "ejected",
            BreakerState::Unknown => "unknown",
        }
    }

    /// Parses a state name as profiles write it (`half_open`, `half-open`, `halfopen`, any case;
    /// `metrics_only` counts as closed: the breaker records but never opens).
    pub fn from_name(s: &str) -> Option<BreakerState> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match norm.as_str() {
            "closed" | "metricsonly" => BreakerState::Closed,
            "open" => BreakerState::Open,
            "halfopen" => BreakerState::HalfOpen,
            "forcedopen" | "isolated" => BreakerState::ForcedOpen,
            "disabled" => BreakerState::Disabled,
            "atcapacity" => BreakerState::AtCapacity,
            "ejected" => BreakerState::Ejected {
                ejected: 0,
                total: 0,
            },
            "unknown" => BreakerState::Unknown,
            _ => return None,
        })
    }

    /// The label the dashboard shows (upper case, as on-call dashboards do): `OPEN`,
    /// `HALF-OPEN`, `AT CAPACITY`, `EJECTED 2/5`; `–` when unknown.
    pub fn label(&self) -> String {
        match self {
            BreakerState::Closed => "CLOSED".into(),
            BreakerState::HalfOpen => "HALF-OPEN".into(),
            BreakerState::Open => "OPEN".into(),
            BreakerState::ForcedOpen => "FORCED-OPEN".into(),
            BreakerState::Disabled => "DISABLED".into(),
            BreakerState::AtCapacity => "AT CAPACITY".into(),
            BreakerState::Ejected { ejected, total } if *total > 0 => {
                format!("EJECTED {ejected}/{total}")
            }
            BreakerState::Ejected { ejected, .. } => format!("EJECTED {ejected}"),
            BreakerState::Unknown => "–".into(),
        }
    }

    /// Whether calls are being rejected: open or forced open.
    pub fn is_open(&self) -> bool {
        matches!(self, BreakerState::Open | BreakerState::ForcedOpen)
    }

    /// How alarming the state is, to pick the worst of several breakers of one dependency and
    /// to sort "worst first".
    pub fn severity(&self) -> u8 {
        match self {
            BreakerState::Unknown => 0,
            BreakerState::Disabled => 1,
            BreakerState::Closed => 2,
            BreakerState::Ejected { .. } => 3,
            BreakerState::AtCapacity => 4,
            BreakerState::HalfOpen => 5,
            BreakerState::ForcedOpen => 6,
            BreakerState::Open => 7,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerState::Ejected { ejected, total } if *total > 0 => {
                write!(f, "ejected {ejected}/{total}")
            }
            BreakerState::Ejected { ejected, .. } => write!(f, "ejected {ejected}"),
            s => f.write_str(s.as_str()),
        }
    }
}

/// One change of breaker state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When it was observed, Unix nanoseconds (the sample time; ± one scrape interval).
    pub at_ns: u64,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
}

/// Where a breaker state came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BreakerSource {
    /// No breaker signal at all.
    #[default]
    None,
    /// A breaker metric mapped by a profile: `profile:series`, e.g.
    /// `resilience4j:resilience4j_circuitbreaker_state`.
    Metric(Arc<str>),
    /// Inferred from fast-fail errors in the traces.
    Traces,
}

impl BreakerSource {
    /// `report`'s `breaker_source`: the profile and series, `inferred:traces`, or `None`.
    pub fn name(&self) -> Option<&str> {
        match self {
            BreakerSource::None => None,
            BreakerSource::Metric(s) => Some(s),
            BreakerSource::Traces => Some(INFERRED),
        }
    }
}

/// `breaker_source` of a state inferred from traces.
pub const INFERRED: &str = "inferred:traces";

/// A dependency's breaker as of the end of a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BreakerView {
    /// The state at the window's end.
    pub state: BreakerState,
    /// Where it came from.
    pub source: BreakerSource,
    /// When the current state began, Unix ns, when known.
    pub since_ns: Option<u64>,
    /// State changes inside the window, oldest first.
    pub transitions: Vec<Transition>,
}

impl BreakerView {
    /// Whether the state was inferred from traces rather than read from a metric.
    pub fn inferred(&self) -> bool {
        self.source == BreakerSource::Traces
    }

    /// Whether a breaker metric maps this dependency (a breaker exists, whatever its state).
    pub fn from_metric(&self) -> bool {
        matches!(self.source, BreakerSource::Metric(_))
    }
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

/// The inferred breaker of an edge as of the end of `[from, to)`, with its transitions inside
/// the window; the default (unknown, no source) when the edge shows no breaker.
pub fn infer(series: &EdgeSeries, from: u64, to: u64) -> BreakerView {
    let Some(states) = inferred_states(series, from, to) else {
        return BreakerView::default();
    };
    let Some(&(last_at, mut state)) = states.last() else {
        return BreakerView::default();
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
    BreakerView {
        state,
        source: BreakerSource::Traces,
        since_ns: since,
        transitions: transitions_of(&states),
    }
}

/// Inferred transitions of an edge within `[from, to)`, oldest first.
pub fn transitions(series: &EdgeSeries, from: u64, to: u64) -> Vec<Transition> {
    inferred_states(series, from, to).map_or_else(Vec::new, |s| transitions_of(&s))
}

fn transitions_of(states: &[(u64, BreakerState)]) -> Vec<Transition> {
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
                    cache: None,
                });
            }
        }
        s
    }

    #[test]
    fn no_short_circuits_means_no_breaker_seen() {
        let s = series(&[(0, 10, 0), (1, 10, 0)]);
        assert_eq!(infer(&s, 0, 20 * S), BreakerView::default());
        let s = series(&[(0, 10, 10), (1, 10, 0), (500, 10, 0)]);
        assert_eq!(
            infer(&s, 10 * S, 20 * S).state,
            BreakerState::Closed,
            "seen before the window"
        );
        assert_eq!(
            infer(&s, 5000 * S, 5010 * S),
            BreakerView::default(),
            "beyond the lookback"
        );
    }

    #[test]
    fn opens_half_opens_and_closes() {
        let s = series(&[(0, 10, 0), (1, 10, 9), (2, 10, 10), (3, 10, 3), (4, 10, 0)]);
        let t = infer(&s, 0, 50 * S).transitions;
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
        assert!(st.inferred());
        assert_eq!(st.since_ns, Some(10 * S));
        assert_eq!(infer(&s, 0, 50 * S).state, BreakerState::Closed);
        // A new bucket with two calls, neither rejected, does not close an open breaker yet.
        let s = series(&[(0, 10, 0), (1, 10, 10), (2, 2, 0)]);
        assert_eq!(infer(&s, 0, 30 * S).state, BreakerState::Open);
    }

    #[test]
    fn state_names_parse_loosely() {
        assert_eq!(
            BreakerState::from_name("HALF-OPEN"),
            Some(BreakerState::HalfOpen)
        );
        assert_eq!(
            BreakerState::from_name("halfOpen"),
            Some(BreakerState::HalfOpen)
        );
        assert_eq!(
            BreakerState::from_name("metrics_only"),
            Some(BreakerState::Closed)
        );
        assert_eq!(BreakerState::from_name("nope"), None);
        let e = BreakerState::Ejected {
            ejected: 1,
            total: 3,
        };
        assert_eq!(e.to_string(), "ejected 1/3");
        assert_eq!(e.as_str(), "ejected");
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
        assert_eq!(BreakerState::HalfOpen.as_str(), "half_open");
    }
}
