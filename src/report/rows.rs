//! The per-edge rows `faultline report` prints, derived from a snapshot.

use serde::Serialize;

use crate::model::edge::EdgeKey;
use crate::model::resilience::{MetricQuantile, ResilienceView};
use crate::store::Snapshot;
use crate::store::snapshot::EdgeView;

use super::text::time;
use crate::model::breaker;

/// `breaker_source` of a state inferred from traces (no breaker series maps the edge).
pub const INFERRED: &str = "inferred:traces";

/// One row of the dependency table. JSON field names are part of the stable surface.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeRow {
    /// Calling service.
    pub caller: String,
    /// Dependency.
    pub dependency: String,
    /// `http`, `rpc`, `db`, `messaging` or `other`.
    pub kind: String,
    /// Calls in the window.
    pub calls: u64,
    /// Failed calls in the window.
    pub errors: u64,
    /// errors ÷ calls.
    pub error_ratio: f64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// Slowest call, ms.
    pub max_ms: Option<f64>,
    /// Where the percentiles came from: `traces`, `histogram` (classic buckets),
    /// `exponential_histogram` or `summary`.
    pub latency_source: Option<String>,
    /// Percentiles (`p50`, `p95`, `p99`) that are lower bounds: the rank fell in a histogram's
    /// `+Inf` bucket, so the value shown is the last finite bound ("≥").
    pub latency_at_least: Vec<String>,
    /// Breaker state now: `closed`, `open`, `half_open`, `forced_open`, `disabled`,
    /// `at_capacity`, `ejected`, `unknown`.
    pub breaker: String,
    /// The state with its detail when it has one (`ejected 2/5`).
    pub breaker_detail: String,
    /// The profile and metric the state came from, e.g. `resilience4j:resilience4j_circuitbreaker_state`,
    /// or `inferred:traces` when it was inferred from fast-fail errors in the traces.
    pub breaker_source: Option<String>,
    /// When the breaker state last changed (RFC 3339).
    pub breaker_since: Option<String>,
    /// Queued calls now.
    pub queue_depth: Option<f64>,
    /// Queue capacity.
    pub queue_capacity: Option<f64>,
    /// Used ÷ maximum of the bulkhead / pool (0..1).
    pub pool_utilisation: Option<f64>,
    /// Retries per second.
    pub retry_rate: Option<f64>,
    /// Timeouts per second.
    pub timeout_rate: Option<f64>,
    /// Rejected (short-circuited) calls per second.
    pub rejected_rate: Option<f64>,
    /// Breaker state changes, oldest first.
    pub breaker_transitions: Vec<TransitionRow>,
}

/// One breaker state change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionRow {
    /// When (RFC 3339, UTC, ms).
    pub at: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
}

/// Rounds to 3 decimals so output is stable and readable.
fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The rows of every edge with calls in the snapshot's window, and of every (caller,
/// dependency) metrics describe, ordered by (caller, dependency).
pub fn edge_rows(snap: &Snapshot) -> Vec<EdgeRow> {
    let mut rows: Vec<EdgeRow> = Vec::new();
    for e in snap.edges.iter() {
        let res = snap.resilience.get(&e.key);
        if e.summary.stats.calls > 0 || res.is_some() {
            rows.push(row(&e.key, Some(e), res, snap.window));
        }
    }
    for (key, res) in snap.resilience.iter() {
        if snap.edge(&key.caller, &key.dependency).is_none() {
            rows.push(row(key, None, Some(res), snap.window));
        }
    }
    rows.sort_by(|a, b| (&a.caller, &a.dependency).cmp(&(&b.caller, &b.dependency)));
    rows
}

fn row(
    key: &EdgeKey,
    edge: Option<&EdgeView>,
    res: Option<&ResilienceView>,
    window: (u64, u64),
) -> EdgeRow {
    let calls = edge.map_or(0, |e| e.summary.stats.calls);
    let secs = window.1.saturating_sub(window.0) as f64 / 1e9;
    let per_sec = |n: u64| (calls > 0 && secs > 0.0).then(|| r3(n as f64 / secs));
    let mut at_least = Vec::new();
    let (p50, p95, p99, max, source) = match (edge, res.and_then(|r| r.latency.as_ref())) {
        (Some(e), _) if calls > 0 => {
            let s = &e.summary;
            (
                s.quantile_ms(0.50),
                s.quantile_ms(0.95),
                s.quantile_ms(0.99),
                s.max_ms(),
                Some("traces".to_owned()),
            )
        }
        (_, Some(l)) => {
            let mut q = |name: &str, v: Option<MetricQuantile>| {
                if v.is_some_and(|v| v.at_least) {
                    at_least.push(name.to_owned());
                }
                v.map(|v| v.ms)
            };
            (
                q("p50", l.p50),
                q("p95", l.p95),
                q("p99", l.p99),
                None,
                Some(l.source.as_str().to_owned()),
            )
        }
        _ => (None, None, None, None, None),
    };
    let stats = edge.map(|e| &e.summary.stats);
    let default = ResilienceView::default();
    let r = res.unwrap_or(&default);
    // No breaker series maps here: infer the state from fast-fail errors in the traces.
    let inferred = match edge {
        Some(e) if r.breaker_source.is_none() => {
            let st = breaker::infer(&e.series, window.0, window.1);
            (st.state != breaker::BreakerState::Unknown).then(|| {
                let transitions = breaker::transitions(&e.series, window.0, window.1)
                    .into_iter()
                    .map(|t| TransitionRow {
                        at: time(t.at_ns),
                        from: t.from.as_str().to_owned(),
                        to: t.to.as_str().to_owned(),
                    })
                    .collect::<Vec<_>>();
                (st, transitions)
            })
        }
        _ => None,
    };
    EdgeRow {
        caller: key.caller.to_string(),
        dependency: key.dependency.to_string(),
        kind: edge.map_or("other", |e| e.series.kind.as_str()).to_string(),
        calls,
        errors: stats.map_or(0, |s| s.errors),
        error_ratio: edge.map_or(0.0, |e| {
            (e.summary.error_ratio() * 10_000.0).round() / 10_000.0
        }),
        p50_ms: p50.map(r3),
        p95_ms: p95.map(r3),
        p99_ms: p99.map(r3),
        max_ms: max.map(r3),
        latency_source: source,
        latency_at_least: at_least,
        breaker: inferred.as_ref().map_or_else(
            || r.breaker.as_str().to_owned(),
            |(st, _)| st.state.as_str().to_owned(),
        ),
        breaker_detail: inferred.as_ref().map_or_else(
            || r.breaker.to_string(),
            |(st, _)| st.state.as_str().to_owned(),
        ),
        breaker_source: match &inferred {
            Some(_) => Some(INFERRED.to_owned()),
            None => r.breaker_source.clone(),
        },
        breaker_since: match &inferred {
            Some((st, _)) => st.since_ns.map(time),
            None => r.since_ns.map(time),
        },
        queue_depth: r.queue_depth.map(r3),
        queue_capacity: r.queue_capacity.map(r3),
        pool_utilisation: r.pool_utilisation.map(r3),
        retry_rate: r
            .retry_rate
            .map(r3)
            .or_else(|| per_sec(stats.map_or(0, |s| s.retries))),
        timeout_rate: r
            .timeout_rate
            .map(r3)
            .or_else(|| per_sec(stats.map_or(0, |s| s.timeouts))),
        rejected_rate: r.rejected_rate.map(r3),
        breaker_transitions: match inferred {
            Some((_, t)) => t,
            None => r
                .transitions
                .iter()
                .map(|t| TransitionRow {
                    at: time(t.at_ns),
                    from: t.from.as_str().to_owned(),
                    to: t.to.as_str().to_owned(),
                })
                .collect(),
        },
    }
}
