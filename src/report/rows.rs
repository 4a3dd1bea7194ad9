//! The per-dependency rows `faultline report` prints: one row per `DependencyView` of the
//! snapshot's window, the same view the dashboard and the rules read.

use serde::Serialize;

use crate::model::breaker::Transition;
use crate::model::resilience::MetricQuantile;
use crate::model::view::{DependencyView, QueueSource};
use crate::store::Snapshot;

use super::text::time;

pub use crate::model::breaker::INFERRED;

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
    /// Calls that timed out; `null` when the calls came from metrics (service-graph and
    /// span-metrics series carry no timeouts, retries or short-circuits).
    pub timeouts: Option<u64>,
    /// Calls that were retry attempts (later attempts of an attempt chain: resend counts, gRPC
    /// attempts, or failed sibling attempts); `null` when not known.
    pub retries: Option<u64>,
    /// retries ÷ calls; `null` without calls or when not known.
    pub retry_ratio: Option<f64>,
    /// timeouts ÷ calls; `null` without calls or when not known.
    pub timeout_ratio: Option<f64>,
    /// Calls an open breaker rejected (fast-fail errors); `null` when not known.
    pub short_circuits: Option<u64>,
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
    /// Breaker state at the window's end: `closed`, `open`, `half_open`, `forced_open`, `disabled`,
    /// `at_capacity`, `ejected`, `unknown`.
    pub breaker: String,
    /// The state with its detail when it has one (`ejected 2/5`).
    pub breaker_detail: String,
    /// The profile and metric the state came from, e.g. `resilience4j:resilience4j_circuitbreaker_state`,
    /// or `inferred:traces` when it was inferred from fast-fail errors in the traces.
    pub breaker_source: Option<String>,
    /// When the breaker state last changed (RFC 3339).
    pub breaker_since: Option<String>,
    /// Queued calls at the window's end (gauges), or the traces' average concurrency by
    /// Little's law when no gauge maps the dependency (`queue_source = "estimated"`).
    pub queue_depth: Option<f64>,
    /// Queue capacity.
    pub queue_capacity: Option<f64>,
    /// `metric` or `estimated`.
    pub queue_source: Option<String>,
    /// Calls in flight at the window's end, from active-request gauges.
    pub in_flight: Option<f64>,
    /// Used ÷ maximum of the bulkhead / pool (0..1).
    pub pool_utilisation: Option<f64>,
    /// Retries per second.
    pub retry_rate: Option<f64>,
    /// Timeouts per second.
    pub timeout_rate: Option<f64>,
    /// Rejected (short-circuited) calls per second.
    pub rejected_rate: Option<f64>,
    /// Breaker state changes inside the window, oldest first.
    pub breaker_transitions: Vec<TransitionRow>,
    /// Cache lookups that hit in the window (hit counters' increase, or traced lookups).
    pub cache_hits: Option<f64>,
    /// Cache lookups that missed.
    pub cache_misses: Option<f64>,
    /// hits ÷ (hits + misses).
    pub cache_hit_ratio: Option<f64>,
    /// `metric` (hit/miss counters a profile maps) or `traces` (lookups with a known result).
    pub cache_source: Option<String>,
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

/// Rounds a ratio to 4 decimals.
fn r4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The rows of every dependency with calls or metrics in the snapshot's window, ordered by
/// (caller, dependency).
pub fn edge_rows(snap: &Snapshot) -> Vec<EdgeRow> {
    snap.deps
        .iter()
        .filter(|d| d.traffic.stats.calls > 0 || d.has_metrics())
        .map(row)
        .collect()
}

/// The row of one dependency view.
pub fn row(d: &DependencyView) -> EdgeRow {
    let t = &d.traffic;
    let l = &d.latency;
    let at_least: Vec<String> = [("p50", l.p50), ("p95", l.p95), ("p99", l.p99)]
        .into_iter()
        .filter(|(_, q)| q.is_some_and(|q| q.at_least))
        .map(|(n, _)| n.to_owned())
        .collect();
    let ms = |q: Option<MetricQuantile>| q.map(|q| r3(q.ms));
    // Counts from traces (zero calls included); unknown for calls counted from metrics.
    let known = !d.traffic_from_metrics();
    EdgeRow {
        caller: d.key.caller.to_string(),
        dependency: d.key.dependency.to_string(),
        kind: d.kind.as_str().to_string(),
        calls: t.stats.calls,
        errors: t.stats.errors,
        error_ratio: r4(t.error_ratio()),
        timeouts: known.then_some(t.stats.timeouts),
        retries: known.then_some(t.stats.retries),
        retry_ratio: d.retry_ratio().map(r4),
        timeout_ratio: d.timeout_ratio().map(r4),
        short_circuits: known.then_some(t.stats.short_circuits),
        p50_ms: ms(l.p50),
        p95_ms: ms(l.p95),
        p99_ms: ms(l.p99),
        max_ms: l.max_ms.map(r3),
        latency_source: l.source.map(|s| s.as_str().to_owned()),
        latency_at_least: at_least,
        breaker: d.breaker.state.as_str().to_owned(),
        breaker_detail: d.breaker.state.to_string(),
        breaker_source: d.breaker.source.name().map(str::to_owned),
        breaker_since: d.breaker.since_ns.map(time),
        queue_depth: d.queue.as_ref().map(|q| r3(q.depth)),
        queue_capacity: d.queue.as_ref().and_then(|q| q.capacity).map(r3),
        queue_source: d.queue.as_ref().map(|q| {
            match q.source {
                QueueSource::Metric => "metric",
                QueueSource::Estimated => "estimated",
            }
            .to_owned()
        }),
        in_flight: d.in_flight.map(r3),
        pool_utilisation: d.pool_utilisation.map(r3),
        retry_rate: d.retry_rate().map(r3),
        timeout_rate: d.timeout_rate().map(r3),
        rejected_rate: d.rejected_rate().map(r3),
        breaker_transitions: d.breaker.transitions.iter().map(transition).collect(),
        cache_hits: d.cache.map(|c| r3(c.hits)),
        cache_misses: d.cache.map(|c| r3(c.misses)),
        cache_hit_ratio: d.cache.and_then(|c| c.hit_ratio()).map(r4),
        cache_source: d.cache.map(|c| c.source.as_str().to_owned()),
    }
}

fn transition(t: &Transition) -> TransitionRow {
    TransitionRow {
        at: time(t.at_ns),
        from: t.from.as_str().to_owned(),
        to: t.to.as_str().to_owned(),
    }
}
