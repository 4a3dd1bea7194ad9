//! Per-dependency resilience signals derived from metrics: breaker state and its transitions,
//! queue depth and capacity, pool utilisation, retry/timeout/rejected rates, and latency
//! percentiles from metric histograms. The breaker vocabulary itself is `model::breaker`.

use std::sync::Arc;

pub use super::breaker::{BreakerState, Transition};

/// A dependency's gauges at one sample time: what the queue, pool and in-flight gauges said
/// then (each the sum over instances, as at the window's end). A sample holds until the next.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GaugeSample {
    /// Sample time, Unix ns.
    pub t_ns: u64,
    /// Queued calls.
    pub queue_depth: Option<f64>,
    /// Queue capacity.
    pub queue_capacity: Option<f64>,
    /// Used ÷ maximum of the bulkhead / pool, 0..1.
    pub pool_utilisation: Option<f64>,
    /// Calls in flight.
    pub in_flight: Option<f64>,
}

/// Where a latency percentile came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencySource {
    /// Classic `le` buckets, `histogram_quantile` semantics.
    Histogram,
    /// Exponential (native) histogram, merged into a sketch exactly.
    Exponential,
    /// A summary's pre-computed quantiles.
    Summary,
}

impl LatencySource {
    /// `histogram`, `exponential_histogram` or `summary`.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencySource::Histogram => "histogram",
            LatencySource::Exponential => "exponential_histogram",
            LatencySource::Summary => "summary",
        }
    }
}

/// One latency percentile from metrics, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricQuantile {
    /// The value, ms.
    pub ms: f64,
    /// The answer lies in the `+Inf` bucket: the true value is at least `ms` (the last bound).
    pub at_least: bool,
}

/// Latency percentiles from metric histograms over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricLatency {
    /// Where they came from.
    pub source: LatencySource,
    /// Observations in the window.
    pub count: f64,
    /// p50, p95, p99.
    pub p50: Option<MetricQuantile>,
    /// 95th percentile.
    pub p95: Option<MetricQuantile>,
    /// 99th percentile.
    pub p99: Option<MetricQuantile>,
}

/// Everything metrics say about one (caller, dependency), as of a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ResilienceView {
    /// The breaker state now (`Unknown` when no breaker series maps here).
    pub breaker: BreakerState,
    /// The profile and metric the state came from, e.g. `resilience4j:resilience4j_circuitbreaker_state`.
    pub breaker_source: Option<String>,
    /// When the state last changed, Unix nanoseconds.
    pub since_ns: Option<u64>,
    /// State changes seen, oldest first (bounded).
    pub transitions: Vec<Transition>,
    /// Queued calls now (sum over instances).
    pub queue_depth: Option<f64>,
    /// Queue capacity (sum over instances).
    pub queue_capacity: Option<f64>,
    /// Used ÷ maximum of the bulkhead / pool, 0..1.
    pub pool_utilisation: Option<f64>,
    /// Calls in flight now (active-request gauges, sum over instances).
    pub in_flight: Option<f64>,
    /// The breaker state was rebuilt from transition counters (Polly, opossum) rather than read
    /// from a state gauge, so a half-open between two samples may be a transient.
    pub breaker_from_events: bool,
    /// Retries per second over the window.
    pub retry_rate: Option<f64>,
    /// Timeouts per second over the window.
    pub timeout_rate: Option<f64>,
    /// Rejected (short-circuited, not permitted) calls per second over the window.
    pub rejected_rate: Option<f64>,
    /// Calls refused by a full pool, bulkhead or queue per second (`overflow` role).
    pub overflow_rate: Option<f64>,
    /// Retries stopped by a retry budget or limit per second (`retry_overflow` role); `Some(0)`
    /// when a budget exists and is not biting.
    pub retry_overflow_rate: Option<f64>,
    /// The queue, pool and in-flight gauges at each sample time inside the window, oldest
    /// first, starting with their state at the window's start (empty when none maps here).
    pub gauges: Arc<[GaugeSample]>,
    /// Latency percentiles from metric histograms.
    pub latency: Option<MetricLatency>,
    /// Cache hits over the window (counter increase, `cache_hit` role).
    pub cache_hits: Option<f64>,
    /// Cache misses over the window (counter increase, `cache_miss` role).
    pub cache_misses: Option<f64>,
    /// Newest sample time, Unix nanoseconds.
    pub last_ns: u64,
    /// The connection pools behind the pool gauges, one per reporting instance (the series'
    /// `instance` label), as of the window's end: what the connection-pooling audit (DB-002)
    /// multiplies against a database's connection limit. Empty when no pool gauge maps here.
    pub pools: Arc<[PoolInstance]>,
}

/// One instance's connection pool as of the window's end: the latest fresh value of each pool
/// gauge of that instance, summed over its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolInstance {
    /// The reporting instance (`instance` label: `service.instance.id` over OTLP, the scrape
    /// target for Prometheus); empty when the series carry none.
    pub instance: Arc<str>,
    /// Connections in use (`pool_used`).
    pub used: Option<f64>,
    /// Idle connections (`pool_idle`).
    pub idle: Option<f64>,
    /// The pool's maximum size (`pool_max`).
    pub max: Option<f64>,
}

impl PoolInstance {
    /// Open connections: used + idle when both are known, else used.
    pub fn open(&self) -> Option<f64> {
        match (self.used, self.idle) {
            (Some(u), Some(i)) => Some(u + i),
            (u, i) => u.or(i),
        }
    }
}

impl Default for ResilienceView {
    fn default() -> Self {
        ResilienceView {
            breaker: BreakerState::Unknown,
            breaker_source: None,
            since_ns: None,
            transitions: Vec::new(),
            queue_depth: None,
            queue_capacity: None,
            pool_utilisation: None,
            in_flight: None,
            breaker_from_events: false,
            retry_rate: None,
            timeout_rate: None,
            rejected_rate: None,
            overflow_rate: None,
            retry_overflow_rate: None,
            gauges: Arc::from(Vec::new()),
            latency: None,
            cache_hits: None,
            cache_misses: None,
            last_ns: 0,
            pools: Arc::from(Vec::new()),
        }
    }
}

/// Normalises a dependency name for joining metric names to trace names: lower case; an Envoy/
/// Istio cluster name `outbound|8080||payments.prod.svc.cluster.local` gives its host; scheme,
/// path, port and a Kubernetes service domain are dropped (`http://Payments:8080/x` →
/// `payments`).
pub fn normalise_dependency(name: &str) -> String {
    let mut s = name.trim().to_ascii_lowercase();
    if s.matches('|').count() >= 3
        && let Some(host) = s.split('|').nth(3)
    {
        s = host.to_owned();
    }
    if let Some((_, rest)) = s.split_once("://") {
        s = rest.to_owned();
    }
    if let Some(i) = s.find('/') {
        s.truncate(i);
    }
    if let Some((host, port)) = s.rsplit_once(':')
        && !host.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
    {
        s = host.to_owned();
    }
    if let Some(i) = s.find(".svc.cluster.local").or_else(|| s.find(".svc")) {
        s.truncate(i);
        // `payments.prod` → `payments`: the namespace is not part of a trace service name.
        if let Some((svc, _)) = s.split_once('.') {
            s = svc.to_owned();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names_normalise() {
        assert_eq!(
            normalise_dependency("outbound|9080||reviews.default.svc.cluster.local"),
            "reviews"
        );
        assert_eq!(normalise_dependency("http://Payments:8080/pay"), "payments");
        assert_eq!(normalise_dependency("payments.prod.svc"), "payments");
        assert_eq!(normalise_dependency("inventory"), "inventory");
        assert_eq!(normalise_dependency("10.0.0.7:5432"), "10.0.0.7");
    }
}
