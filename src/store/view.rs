//! Builds the per-dependency views (`model::view::DependencyView`) of a window from the edge
//! aggregates and what metrics say, joined to the same (caller, dependency) keys.
//!
//! Precedence, the same for every front end: percentiles from the traces when the edge has calls
//! in the window, else from metric histograms; the breaker from a breaker metric when one maps
//! the edge, else inferred from fast-fail errors in the traces; the queue from gauges, else
//! estimated from the traces by Little's law.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::breaker::{self, BreakerSource, BreakerState, BreakerView};
use crate::model::cache;
use crate::model::dependency::DepKind;
use crate::model::edge::{EdgeKey, EdgeSeries, EdgeSummary};
use crate::model::resilience::{MetricQuantile, ResilienceView};
use crate::model::view::{DependencyView, Latency, LatencyFrom, MetricRates, Queue, QueueSource};

use super::snapshot::EdgeView;

/// The views of every edge with calls or metrics, sorted by key. `edges` are sorted by key;
/// `metrics` are keyed like them where they joined a trace edge.
pub fn build(
    edges: &[EdgeView],
    metrics: &BTreeMap<EdgeKey, ResilienceView>,
    window: (u64, u64),
) -> Vec<DependencyView> {
    let mut out: Vec<DependencyView> = Vec::with_capacity(edges.len());
    for e in edges {
        let res = metrics.get(&e.key);
        if e.summary.stats.calls > 0 || res.is_some() || !e.series.buckets.is_empty() {
            out.push(view(
                e.key.clone(),
                &e.series,
                e.summary.clone(),
                res,
                window,
            ));
        }
    }
    let empty = EdgeSeries::new(DepKind::Other);
    for (key, res) in metrics {
        if edges.binary_search_by(|e| e.key.cmp(key)).is_err() {
            let traffic = Arc::new(EdgeSummary {
                from_ns: window.0,
                to_ns: window.1,
                ..EdgeSummary::default()
            });
            out.push(view(key.clone(), &empty, traffic, Some(res), window));
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn view(
    key: EdgeKey,
    series: &EdgeSeries,
    traffic: Arc<EdgeSummary>,
    res: Option<&ResilienceView>,
    window: (u64, u64),
) -> DependencyView {
    DependencyView {
        kind: series.kind,
        latency: latency(&traffic, res),
        breaker: breaker_view(series, res, window),
        queue: queue(&traffic, res),
        pool_utilisation: res.and_then(|r| r.pool_utilisation),
        in_flight: res.and_then(|r| r.in_flight),
        gauges: res.map_or_else(|| Arc::from(Vec::new()), |r| r.gauges.clone()),
        rates: res.map_or_else(MetricRates::default, |r| MetricRates {
            retry: r.retry_rate,
            timeout: r.timeout_rate,
            rejected: r.rejected_rate,
            overflow: r.overflow_rate,
            retry_overflow: r.retry_overflow_rate,
        }),
        metric_last_ns: res.map_or(0, |r| r.last_ns),
        cache: cache::combine(
            (traffic.stats.cache_hits, traffic.stats.cache_misses),
            res.map_or((None, None), |r| (r.cache_hits, r.cache_misses)),
        ),
        metric_traffic: None,
        series: series.clone(),
        traffic,
        key,
    }
}

fn latency(traffic: &EdgeSummary, res: Option<&ResilienceView>) -> Latency {
    if traffic.stats.calls > 0 {
        let q = |p| {
            traffic.quantile_ms(p).map(|ms| MetricQuantile {
                ms,
                at_least: false,
            })
        };
        return Latency {
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            max_ms: traffic.max_ms(),
            source: Some(LatencyFrom::Traces),
        };
    }
    match res.and_then(|r| r.latency.as_ref()) {
        Some(l) => Latency {
            p50: l.p50,
            p95: l.p95,
            p99: l.p99,
            max_ms: None,
            source: Some(LatencyFrom::Metric(l.source)),
        },
        None => Latency::default(),
    }
}

/// The breaker: the metric's state as of the window's end when a breaker series maps the edge,
/// else the state inferred from the traces. A half-open rebuilt from transition counters
/// (opossum, Polly) may be a transient between two samples: the traces after the sample settle
/// it (calls passing: closed; calls short-circuited: open).
fn breaker_view(
    series: &EdgeSeries,
    res: Option<&ResilienceView>,
    window: (u64, u64),
) -> BreakerView {
    let Some((r, src)) = res.and_then(|r| r.breaker_source.as_ref().map(|s| (r, s))) else {
        return breaker::infer(series, window.0, window.1);
    };
    let mut view = BreakerView {
        state: r.breaker,
        source: BreakerSource::Metric(Arc::from(src.as_str())),
        since_ns: r.since_ns,
        transitions: r.transitions.clone(),
    };
    if r.breaker_from_events
        && r.breaker == BreakerState::HalfOpen
        && let Some(since) = r.since_ns
    {
        let after = breaker::infer(series, since.saturating_add(1), window.1);
        if matches!(after.state, BreakerState::Closed | BreakerState::Open)
            && let Some(at) = after.since_ns.filter(|at| *at >= since)
        {
            view.transitions.push(breaker::Transition {
                at_ns: at,
                from: view.state,
                to: after.state,
            });
            view.state = after.state;
            view.since_ns = Some(at);
        }
    }
    view
}

/// The queue: gauges when a profile maps them, else the traces' average concurrency by Little's
/// law (rate × mean latency), marked as an estimate.
fn queue(traffic: &EdgeSummary, res: Option<&ResilienceView>) -> Option<Queue> {
    if let Some(depth) = res.and_then(|r| r.queue_depth) {
        return Some(Queue {
            depth,
            capacity: res.and_then(|r| r.queue_capacity),
            source: QueueSource::Metric,
        });
    }
    let secs = traffic.to_ns.saturating_sub(traffic.from_ns) as f64 / 1e9;
    (traffic.stats.calls > 0 && secs > 0.0).then(|| Queue {
        depth: traffic.stats.latency.sum() / secs,
        capacity: None,
        source: QueueSource::Estimated,
    })
}
