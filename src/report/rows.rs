//! The per-edge rows `faultline report` prints, derived from a snapshot.

use serde::Serialize;

use crate::store::Snapshot;

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
}

/// Rounds to 3 decimals so output is stable and readable.
fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The rows of every edge with calls in the snapshot's window, ordered by (caller, dependency).
pub fn edge_rows(snap: &Snapshot) -> Vec<EdgeRow> {
    snap.edges
        .iter()
        .filter(|e| e.summary.stats.calls > 0)
        .map(|e| {
            let s = &e.summary;
            EdgeRow {
                caller: e.key.caller.to_string(),
                dependency: e.key.dependency.to_string(),
                kind: e.series.kind.as_str().to_string(),
                calls: s.stats.calls,
                errors: s.stats.errors,
                error_ratio: (s.error_ratio() * 10_000.0).round() / 10_000.0,
                p50_ms: s.quantile_ms(0.50).map(r3),
                p95_ms: s.quantile_ms(0.95).map(r3),
                p99_ms: s.quantile_ms(0.99).map(r3),
                max_ms: s.max_ms().map(r3),
            }
        })
        .collect()
}
