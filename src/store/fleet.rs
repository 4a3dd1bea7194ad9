//! Merging the metrics store's per-dependency traffic (`model::fleet::FleetTable`, from
//! service-graph and span-metrics series) into the dependency views, so an edge seen in traces
//! and in metrics is one row. A row joins a view with the same (caller, dependency), else one
//! of the same caller whose dependency normalises equal (`normalise_dependency`: case, scheme,
//! port, Istio cluster names); otherwise it is a row of its own. Where the view has traced
//! calls in its window, the traces keep the counts and percentiles (as everywhere: traces
//! first) and the metric numbers ride along in `DependencyView::metric_traffic`; where it has
//! none, the metric calls, errors and percentiles fill the view, over the table's window.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::edge::{BucketStats, EdgeKey, EdgeSummary};
use crate::model::fleet::{FleetTable, MetricTraffic};
use crate::model::resilience::normalise_dependency;
use crate::model::view::{DependencyView, Latency, LatencyFrom};

/// The table's keys, for joining metric breaker and queue series onto fleet rows as onto trace
/// edges (`metrics::join_to_edges`).
pub fn keys(table: Option<&FleetTable>) -> impl Iterator<Item = EdgeKey> + '_ {
    table
        .into_iter()
        .flat_map(|t| t.rows.iter().map(|r| r.key.clone()))
}

fn traffic(row: &MetricTraffic, window: (u64, u64)) -> Arc<EdgeSummary> {
    Arc::new(EdgeSummary {
        stats: BucketStats {
            calls: row.calls.round().max(0.0) as u64,
            errors: row.errors.round().max(0.0) as u64,
            ..BucketStats::default()
        },
        from_ns: window.0,
        to_ns: window.1,
    })
}

fn latency(row: &MetricTraffic) -> Latency {
    Latency {
        p50: row.p50,
        p95: row.p95,
        p99: row.p99,
        max_ms: None,
        source: row.latency_source.map(LatencyFrom::Metric),
    }
}

/// Fills `v` from `row` where its traces counted nothing.
fn fill(v: &mut DependencyView, row: &MetricTraffic, window: (u64, u64)) {
    if v.traffic.stats.calls == 0 {
        v.traffic = traffic(row, window);
        if v.latency.source.is_none() || row.latency_source.is_some() {
            v.latency = latency(row);
        }
        if v.series.buckets.is_empty() {
            v.kind = row.kind;
        }
    }
    v.metric_traffic = Some(row.clone());
}

/// `deps` (sorted by key) with the table's rows merged in, sorted by key.
pub fn merge(mut deps: Vec<DependencyView>, table: Option<&FleetTable>) -> Vec<DependencyView> {
    let Some(table) = table.filter(|t| !t.rows.is_empty()) else {
        return deps;
    };
    let mut by_norm: HashMap<(Arc<str>, String), usize> = HashMap::new();
    for (i, d) in deps.iter().enumerate() {
        by_norm
            .entry((
                d.key.caller.clone(),
                normalise_dependency(&d.key.dependency),
            ))
            .or_insert(i);
    }
    let mut extra = Vec::new();
    for row in table.rows.iter() {
        let found = deps
            .binary_search_by(|d| d.key.cmp(&row.key))
            .ok()
            .or_else(|| {
                by_norm
                    .get(&(
                        row.key.caller.clone(),
                        normalise_dependency(&row.key.dependency),
                    ))
                    .copied()
            });
        match found {
            Some(i) => fill(&mut deps[i], row, table.window),
            None => extra.push(new_view(row, table.window)),
        }
    }
    if !extra.is_empty() {
        deps.extend(extra);
        deps.sort_by(|a, b| a.key.cmp(&b.key));
    }
    deps
}

fn new_view(row: &MetricTraffic, window: (u64, u64)) -> DependencyView {
    DependencyView {
        traffic: traffic(row, window),
        latency: latency(row),
        metric_traffic: Some(row.clone()),
        ..DependencyView::empty(row.key.clone(), row.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dependency::DepKind;
    use crate::model::fleet::FleetOrigin;
    use crate::model::resilience::{LatencySource, MetricQuantile};
    use crate::testkit;

    fn row(caller: &str, dep: &str, calls: f64) -> MetricTraffic {
        MetricTraffic {
            key: EdgeKey {
                caller: caller.into(),
                dependency: dep.into(),
            },
            kind: DepKind::Other,
            calls,
            errors: calls / 10.0,
            p50: Some(MetricQuantile {
                ms: 75.0,
                at_least: false,
            }),
            p95: None,
            p99: None,
            latency_source: Some(LatencySource::Histogram),
            origin: FleetOrigin::ServiceGraph,
        }
    }

    #[test]
    fn an_edge_in_traces_and_metrics_is_one_row_and_a_metrics_only_edge_is_filled() {
        let mut store = testkit::fixture_store(90);
        let traced = store.snapshot(None);
        let d = &traced.deps[0];
        let (caller, dep) = (d.key.caller.to_string(), d.key.dependency.to_string());
        let traced_calls = d.traffic.stats.calls;
        assert!(traced_calls > 0);
        let before = traced.deps.len();
        let (from, to) = traced.window;
        store.set_fleet(Arc::new(FleetTable {
            window: (from, to),
            answered_ns: to,
            rows: Arc::from(vec![
                // The same edge, its dependency spelled with another case: joins.
                row(&caller, &dep.to_uppercase(), 5000.0),
                row("zz-metrics-only", "ledger", 300.0),
            ]),
            ..FleetTable::default()
        }));
        let snap = store.snapshot(None);
        assert_eq!(snap.deps.len(), before + 1, "one new row, not two");
        let joined = snap.dep(&caller, &dep).expect("traced row");
        assert_eq!(
            joined.traffic.stats.calls, traced_calls,
            "traces keep the counts"
        );
        assert_eq!(
            joined.metric_traffic.as_ref().map(|m| m.calls),
            Some(5000.0)
        );
        assert!(!joined.traffic_from_metrics());
        let only = snap.dep("zz-metrics-only", "ledger").expect("metrics row");
        assert_eq!(only.traffic.stats.calls, 300);
        assert_eq!(only.traffic.stats.errors, 30);
        assert_eq!(only.latency.p50.map(|q| q.ms), Some(75.0));
        assert!(only.traffic_from_metrics());
        assert_eq!(only.retry_rate(), None, "no retries guessed from metrics");
        // Ratios the dashboard and the report show: unknown, not 0 %.
        assert_eq!(
            (
                only.retry_ratio(),
                only.timeout_ratio(),
                only.short_circuit_ratio()
            ),
            (None, None, None)
        );
        assert!(joined.retry_ratio().is_some(), "traced calls know them");
    }
}
