//! Traffic per dependency from the metrics pipeline people already run: the OpenTelemetry
//! Collector's `servicegraph` and `spanmetrics` connectors, or Tempo's metrics generator, in a
//! Prometheus-compatible store. `ingest::fleet` asks the store for them aggregated server-side
//! (one row per caller → dependency); `store::fleet` merges the rows into the dependency views,
//! keyed like the trace-derived edges, so an edge seen both ways is one row.

use std::sync::Arc;

use super::dependency::DepKind;
use super::edge::EdgeKey;
use super::resilience::{LatencySource, MetricQuantile};

/// Which series a row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FleetOrigin {
    /// `traces_service_graph_*` (client → server pairs).
    ServiceGraph,
    /// `traces_span_metrics_*` / `traces_spanmetrics_*` CLIENT/PRODUCER spans, named by their
    /// peer labels as `model::dependency` names an unpaired span.
    SpanMetrics,
}

impl FleetOrigin {
    /// `servicegraph` or `spanmetrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetOrigin::ServiceGraph => "servicegraph",
            FleetOrigin::SpanMetrics => "spanmetrics",
        }
    }
}

/// One caller → dependency over the table's window, from metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricTraffic {
    /// Caller and dependency.
    pub key: EdgeKey,
    /// What kind of dependency (from `connection_type` or the peer labels).
    pub kind: DepKind,
    /// Calls in the window (the counter's increase; may be fractional).
    pub calls: f64,
    /// Failed calls in the window.
    pub errors: f64,
    /// Median latency.
    pub p50: Option<MetricQuantile>,
    /// 95th percentile.
    pub p95: Option<MetricQuantile>,
    /// 99th percentile.
    pub p99: Option<MetricQuantile>,
    /// Classic or native histogram.
    pub latency_source: Option<LatencySource>,
    /// Which series.
    pub origin: FleetOrigin,
}

/// The latest answer of the metrics store: rows sorted by key, the window they cover, and how
/// fresh they are. When a query fails or times out the previous rows are kept (with their
/// `answered_ns`) and `error` says why, so the dashboard shows the last good answer and its age.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetTable {
    /// Where the rows came from (the server's base URL).
    pub url: String,
    /// The window the rows cover, `[from, to)`, Unix ns.
    pub window: (u64, u64),
    /// When the rows were answered, Unix ns (0: never).
    pub answered_ns: u64,
    /// When the latest attempt ended, Unix ns.
    pub attempted_ns: u64,
    /// How long the latest successful round of queries took, ms.
    pub query_ms: u64,
    /// Why the latest attempt failed (`None` when it succeeded).
    pub error: Option<String>,
    /// The metric names in use (resolved from the server's names), for display.
    pub names: Vec<String>,
    /// Rows sorted by key.
    pub rows: Arc<[MetricTraffic]>,
}

impl FleetTable {
    /// Seconds since the rows were answered, at `now_ns` (`None` when never answered).
    pub fn age_secs(&self, now_ns: u64) -> Option<u64> {
        (self.answered_ns > 0).then(|| now_ns.saturating_sub(self.answered_ns) / 1_000_000_000)
    }

    /// The row of this caller and dependency.
    pub fn row(&self, caller: &str, dependency: &str) -> Option<&MetricTraffic> {
        self.rows
            .binary_search_by(|r| (&*r.key.caller, &*r.key.dependency).cmp(&(caller, dependency)))
            .ok()
            .map(|i| &self.rows[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(c: &str, d: &str) -> MetricTraffic {
        MetricTraffic {
            key: EdgeKey {
                caller: c.into(),
                dependency: d.into(),
            },
            kind: DepKind::Http,
            calls: 1.0,
            errors: 0.0,
            p50: None,
            p95: None,
            p99: None,
            latency_source: None,
            origin: FleetOrigin::ServiceGraph,
        }
    }

    #[test]
    fn finds_rows_and_says_their_age() {
        let t = FleetTable {
            answered_ns: 5_000_000_000,
            rows: Arc::from(vec![row("a", "b"), row("a", "c"), row("b", "c")]),
            ..FleetTable::default()
        };
        assert!(t.row("a", "c").is_some());
        assert!(t.row("c", "a").is_none());
        assert_eq!(t.age_secs(17_000_000_000), Some(12));
        assert_eq!(FleetTable::default().age_secs(1), None);
    }
}
