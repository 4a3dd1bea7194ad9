//! One view of a dependency: everything known of one edge (caller → dependency) over a window
//! `[from, to)`, from traces and metrics together. The store computes it (`store::view`) for the
//! live window and for any review window; the dashboard, `report` and the rule detectors all read
//! it, so they give one answer per dependency.
//!
//! Traffic is counted one way (the store classifies each call once, `model::classify`, and counts
//! retries from attempt chains, `model::retry`). Metric state is *as of the window's end*, with
//! Prometheus's meaning: the latest sample at or before that instant, no older than
//! [`STALE_NS`]. Counters give rates over the window; transitions are the changes inside it.

use std::sync::Arc;

use super::breaker::BreakerView;
use super::cache::CacheStats;
use super::dependency::DepKind;
use super::edge::{EdgeKey, EdgeSeries, EdgeSummary};
use super::resilience::{LatencySource, MetricQuantile};

pub use super::resilience::GaugeSample;

/// How old the latest sample may be and still say what a gauge or breaker is now (Prometheus's
/// look-back delta: 5 minutes).
pub const STALE_NS: u64 = 5 * 60 * 1_000_000_000;

/// Where latency percentiles came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyFrom {
    /// The traces' sketch (≤ 1 % relative error).
    Traces,
    /// A metric histogram or summary.
    Metric(LatencySource),
}

impl LatencyFrom {
    /// `traces`, `histogram`, `exponential_histogram` or `summary`.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyFrom::Traces => "traces",
            LatencyFrom::Metric(s) => s.as_str(),
        }
    }
}

/// Latency percentiles of a dependency over the window, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: Option<MetricQuantile>,
    /// 95th percentile.
    pub p95: Option<MetricQuantile>,
    /// 99th percentile.
    pub p99: Option<MetricQuantile>,
    /// Slowest call (traces only).
    pub max_ms: Option<f64>,
    /// Where they came from; `None` when nothing measured latency.
    pub source: Option<LatencyFrom>,
}

/// Where a queue depth came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueSource {
    /// Bulkhead, pool, queue or proxy gauges mapped by a profile.
    Metric,
    /// Estimated from the traces by Little's law (average calls in flight = rate × mean
    /// latency): no queue gauge maps this dependency.
    Estimated,
}

/// A dependency's queue as of the window's end.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    /// Calls queued (or, estimated, in flight on average).
    pub depth: f64,
    /// Capacity, when a gauge says it.
    pub capacity: Option<f64>,
    /// Where the depth came from.
    pub source: QueueSource,
}

impl Queue {
    /// Whether the depth is an estimate from traces.
    pub fn estimated(&self) -> bool {
        self.source == QueueSource::Estimated
    }
}

/// Counter rates from metrics over the window, per second (each `None` when no series maps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MetricRates {
    /// Retries.
    pub retry: Option<f64>,
    /// Timeouts.
    pub timeout: Option<f64>,
    /// Calls rejected without being tried (short-circuited, not permitted, overflow).
    pub rejected: Option<f64>,
    /// Calls refused because a pool, bulkhead or queue was full (a subset of `rejected`).
    pub overflow: Option<f64>,
    /// Retries a retry budget or limit stopped; `Some(0)` when a budget exists, not biting.
    pub retry_overflow: Option<f64>,
}

/// Everything known of one dependency over a window. See the module docs.
#[derive(Clone, Debug)]
pub struct DependencyView {
    /// Caller and dependency.
    pub key: EdgeKey,
    /// Kind of dependency (`other` for a dependency seen only in metrics).
    pub kind: DepKind,
    /// Every bucket of the edge's calls (shared with the store; empty when none were traced).
    pub series: EdgeSeries,
    /// The window's traffic from traces: calls, errors, timeouts, retries, short-circuits and
    /// the latency sketch.
    pub traffic: Arc<EdgeSummary>,
    /// Percentiles: from the traces when the edge has calls, else from metric histograms.
    pub latency: Latency,
    /// Breaker state at the window's end, its source, since when, and transitions inside.
    pub breaker: BreakerView,
    /// Queue depth (metric, else an estimate from traces).
    pub queue: Option<Queue>,
    /// Used ÷ maximum of the bulkhead or pool, 0..1, at the window's end.
    pub pool_utilisation: Option<f64>,
    /// Calls in flight now, from active-request gauges (the only view of calls that never end).
    pub in_flight: Option<f64>,
    /// The queue, pool and in-flight gauges at each sample time inside the window, oldest
    /// first, from their state at the window's start: what "sustained" is judged on. Empty when
    /// no gauge maps this dependency.
    pub gauges: Arc<[GaugeSample]>,
    /// Counter rates from metrics.
    pub rates: MetricRates,
    /// Newest metric sample for this dependency, Unix ns (0 when none).
    pub metric_last_ns: u64,
    /// Cache lookups over the window and their hit ratio: from hit/miss counters when a
    /// profile maps them, else from traced lookups with a known result (`model::cache`);
    /// `None` when this dependency is no cache either way says.
    pub cache: Option<CacheStats>,
    /// Calls, errors and percentiles from service-graph / span-metrics series
    /// (`store::fleet`); they fill `traffic` and `latency` when no traced call is in the window.
    pub metric_traffic: Option<super::fleet::MetricTraffic>,
}

impl DependencyView {
    /// A view of `key` with nothing known yet: no calls, no latency, breaker unknown, no
    /// gauges, rates or cache figures. Builders fill what they know.
    pub fn empty(key: EdgeKey, kind: DepKind) -> DependencyView {
        DependencyView {
            key,
            kind,
            series: EdgeSeries::new(kind),
            traffic: Arc::new(EdgeSummary::default()),
            latency: Latency::default(),
            breaker: BreakerView::default(),
            queue: None,
            pool_utilisation: None,
            in_flight: None,
            gauges: Arc::from(Vec::new()),
            rates: MetricRates::default(),
            metric_last_ns: 0,
            cache: None,
            metric_traffic: None,
        }
    }

    /// Whether the calls shown come from service-graph / span-metrics series, not traces.
    pub fn traffic_from_metrics(&self) -> bool {
        self.metric_traffic.is_some() && self.series.buckets.is_empty()
    }

    /// Whether the traffic counts say how calls ended beyond errors: retries, timeouts and
    /// short-circuits are known only for traced calls (service-graph and span-metrics series
    /// carry none, and a zero would be a guess).
    pub fn outcomes_known(&self) -> bool {
        self.traffic.stats.calls > 0 && !self.traffic_from_metrics()
    }

    /// Retries ÷ calls, `None` when not known ([`Self::outcomes_known`]).
    pub fn retry_ratio(&self) -> Option<f64> {
        self.outcomes_known().then(|| self.traffic.retry_ratio())
    }

    /// Timeouts ÷ calls, `None` when not known ([`Self::outcomes_known`]).
    pub fn timeout_ratio(&self) -> Option<f64> {
        self.outcomes_known().then(|| self.traffic.timeout_ratio())
    }

    /// Short-circuits ÷ calls, `None` when not known ([`Self::outcomes_known`]).
    pub fn short_circuit_ratio(&self) -> Option<f64> {
        self.outcomes_known()
            .then(|| self.traffic.short_circuit_ratio())
    }

    /// Whether any metric series maps this dependency.
    pub fn has_metrics(&self) -> bool {
        self.metric_last_ns > 0
    }

    /// Retries per second: the metric's rate, else the traced retries over the window.
    pub fn retry_rate(&self) -> Option<f64> {
        self.rates
            .retry
            .or_else(|| self.traced_rate(self.traffic.stats.retries))
    }

    /// Timeouts per second: the metric's rate, else the traced timeouts over the window.
    pub fn timeout_rate(&self) -> Option<f64> {
        self.rates
            .timeout
            .or_else(|| self.traced_rate(self.traffic.stats.timeouts))
    }

    /// Rejected calls per second: the metric's rate, else traced short-circuits.
    pub fn rejected_rate(&self) -> Option<f64> {
        self.rates
            .rejected
            .or_else(|| self.traced_rate(self.traffic.stats.short_circuits))
    }

    /// `None` when the calls came from metrics: they carry no retries, timeouts or
    /// short-circuits, and a zero would be a guess.
    fn traced_rate(&self, n: u64) -> Option<f64> {
        if self.traffic_from_metrics() {
            return None;
        }
        let secs = self.traffic.to_ns.saturating_sub(self.traffic.from_ns) as f64 / 1e9;
        (self.traffic.stats.calls > 0 && secs > 0.0).then(|| n as f64 / secs)
    }
}
