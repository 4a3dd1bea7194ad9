//! Per-dependency resilience signals derived from metrics: breaker state and its transitions,
//! queue depth and capacity, pool utilisation, retry/timeout/rejected rates, and latency
//! percentiles from metric histograms.

use std::fmt;

/// The unified breaker state (reference §1.1). Envoy-style admission limits are `AtCapacity`
/// and outlier ejections `Ejected`, never `Open`: those proxies still send traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// How alarming the state is, to pick the worst of several breakers of one dependency.
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When it was observed, Unix nanoseconds (the sample time; ± one scrape interval).
    pub at_ns: u64,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
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
    /// Retries per second over the window.
    pub retry_rate: Option<f64>,
    /// Timeouts per second over the window.
    pub timeout_rate: Option<f64>,
    /// Rejected (short-circuited, not permitted) calls per second over the window.
    pub rejected_rate: Option<f64>,
    /// Latency percentiles from metric histograms.
    pub latency: Option<MetricLatency>,
    /// Newest sample time, Unix nanoseconds.
    pub last_ns: u64,
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
            retry_rate: None,
            timeout_rate: None,
            rejected_rate: None,
            latency: None,
            last_ns: 0,
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
