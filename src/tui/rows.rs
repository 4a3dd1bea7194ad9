//! What the views show, prepared once per snapshot (or per sort/filter change), never per frame:
//! the ordered and filtered dependency rows with each dependency's findings badge, and the
//! filtered trace list. Frames then only format the visible rows.
//!
//! Everything about a dependency — traffic, percentiles, breaker, queue — comes from its
//! `model::view::DependencyView` (`Snapshot::deps`); the TUI computes none of it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::analysis::traces::TraceQuery;
use crate::model::finding::Severity;
use crate::model::view::DependencyView;
use crate::store::Snapshot;

use super::filter::DepFilter;

/// Columns the dependency table can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Caller, then dependency.
    Name,
    /// Breaker state (worst first), then error %.
    Breaker,
    /// Calls per second.
    Rps,
    /// Error %.
    Errors,
    /// Median latency.
    P50,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Queue depth (gauges, else the estimate from traces).
    Queue,
    /// Retry %.
    Retries,
    /// Timeout %.
    Timeouts,
    /// Number of findings.
    Findings,
}

impl SortKey {
    /// Every key, in column order.
    pub const ALL: [SortKey; 11] = [
        SortKey::Name,
        SortKey::Breaker,
        SortKey::Rps,
        SortKey::Errors,
        SortKey::P50,
        SortKey::P95,
        SortKey::P99,
        SortKey::Queue,
        SortKey::Retries,
        SortKey::Timeouts,
        SortKey::Findings,
    ];

    /// The next (or previous) key in column order.
    pub fn step(self, forward: bool) -> SortKey {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        let n = Self::ALL.len();
        Self::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }

    /// Short name for the footer.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Breaker => "breaker",
            SortKey::Rps => "rps",
            SortKey::Errors => "err%",
            SortKey::P50 => "p50",
            SortKey::P95 => "p95",
            SortKey::P99 => "p99",
            SortKey::Queue => "queue",
            SortKey::Retries => "retry%",
            SortKey::Timeouts => "tmo%",
            SortKey::Findings => "findings",
        }
    }
}

/// The findings badge of one dependency (same order as `Snapshot::deps`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DepFacts {
    /// Findings about this dependency.
    pub findings: u16,
    /// The most severe of them.
    pub severity: Option<Severity>,
}

/// Which `~` marks the rows of the table carry, for its footnote (computed with the rows, so a
/// frame does not scan them all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// Some row's breaker state is inferred from traces (`CLOSED~`).
    pub inferred_breaker: bool,
    /// Some row's queue is estimated from traces (`~2.0`).
    pub estimated_queue: bool,
}

impl Marks {
    /// The marks of `rows` of `snap`.
    pub fn of(snap: &Snapshot, rows: &[DepRow]) -> Marks {
        let mut m = Marks::default();
        for r in rows {
            if let DepRow::Edge(i) = r
                && let Some(d) = snap.deps.get(*i as usize)
            {
                m.inferred_breaker |= d.breaker.inferred();
                m.estimated_queue |= d.queue.as_ref().is_some_and(|q| q.estimated());
            }
        }
        m
    }
}

/// One row of the dependency table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepRow {
    /// A caller's group header (group-by-caller mode).
    Group {
        /// The caller.
        caller: Arc<str>,
        /// Its edges after filtering.
        edges: u32,
    },
    /// A dependency, by index into `Snapshot::deps`.
    Edge(u32),
}

/// How the dependency table is ordered and filtered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepOrder {
    /// Sort column.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Group rows under their caller.
    pub group: bool,
    /// Parsed filter.
    pub filter: DepFilter,
}

impl Default for DepOrder {
    fn default() -> Self {
        DepOrder {
            sort: SortKey::Breaker,
            descending: true,
            group: false,
            filter: DepFilter::default(),
        }
    }
}

/// The findings badge of every dependency of `snap`.
pub fn dep_facts(snap: &Snapshot) -> Vec<DepFacts> {
    let mut by_edge: HashMap<(&str, &str), (u16, Severity)> = HashMap::new();
    for f in snap.findings.iter() {
        if let (Some(c), Some(d)) = (&f.caller, &f.dependency) {
            let e = by_edge.entry((c, d)).or_insert((0, f.severity));
            e.0 = e.0.saturating_add(1);
            e.1 = e.1.max(f.severity);
        }
    }
    snap.deps
        .iter()
        .map(|d| {
            let found = by_edge.get(&(&*d.key.caller, &*d.key.dependency));
            DepFacts {
                findings: found.map_or(0, |f| f.0),
                severity: found.map(|f| f.1),
            }
        })
        .collect()
}

/// Calls per second over the window (0 for a dependency seen only in metrics).
pub fn call_rate(d: &DependencyView) -> f64 {
    if d.traffic.stats.calls == 0 {
        return 0.0;
    }
    crate::analysis::latency::call_rate(&d.series, &d.traffic)
}

fn sort_value(d: &DependencyView, f: &DepFacts, key: SortKey) -> f64 {
    let s = &d.traffic;
    let q = |p: Option<crate::model::resilience::MetricQuantile>| p.map_or(-1.0, |p| p.ms);
    match key {
        SortKey::Name => 0.0,
        SortKey::Queue => d.queue.as_ref().map_or(-1.0, |q| q.depth),
        SortKey::Breaker => d.breaker.state.severity() as f64 * 10.0 + s.error_ratio(),
        SortKey::Rps => call_rate(d),
        SortKey::Errors => s.error_ratio(),
        SortKey::P50 => q(d.latency.p50),
        SortKey::P95 => q(d.latency.p95),
        SortKey::P99 => q(d.latency.p99),
        SortKey::Retries => d.retry_ratio().unwrap_or(-1.0),
        SortKey::Timeouts => d.timeout_ratio().unwrap_or(-1.0),
        SortKey::Findings => f.findings as f64,
    }
}

/// The ordered, filtered rows of the dependency table.
pub fn dep_rows(snap: &Snapshot, facts: &[DepFacts], order: &DepOrder) -> Vec<DepRow> {
    let mut idx: Vec<u32> = (0..snap.deps.len() as u32)
        .filter(|&i| {
            let d = &snap.deps[i as usize];
            order.filter.is_empty()
                || order.filter.matches(
                    &d.key.caller,
                    &d.key.dependency,
                    d.kind.as_str(),
                    d.breaker.state,
                )
        })
        .collect();
    if order.sort != SortKey::Name || order.descending {
        let mut keyed: Vec<(f64, u32)> = idx
            .iter()
            .map(|&i| {
                (
                    sort_value(&snap.deps[i as usize], &facts[i as usize], order.sort),
                    i,
                )
            })
            .collect();
        // Stable on ties: the snapshot order (caller, dependency) breaks them.
        keyed.sort_by(|a, b| {
            let o = a.0.total_cmp(&b.0);
            let o = if order.descending { o.reverse() } else { o };
            o.then(a.1.cmp(&b.1))
        });
        if order.sort == SortKey::Name && order.descending {
            keyed.reverse();
        }
        idx = keyed.into_iter().map(|(_, i)| i).collect();
    }
    if !order.group {
        return idx.into_iter().map(DepRow::Edge).collect();
    }
    // Groups appear in the order of their best-ranked dependency.
    let mut groups: Vec<(Arc<str>, Vec<u32>)> = Vec::new();
    let mut pos: HashMap<Arc<str>, usize> = HashMap::new();
    for i in idx {
        let caller = snap.deps[i as usize].key.caller.clone();
        let g = *pos.entry(caller.clone()).or_insert_with(|| {
            groups.push((caller, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let mut rows = Vec::new();
    for (caller, edges) in groups {
        rows.push(DepRow::Group {
            caller,
            edges: edges.len() as u32,
        });
        rows.extend(edges.into_iter().map(DepRow::Edge));
    }
    rows
}

/// Indices into `Snapshot::traces` matching `query` and overlapping `window`, newest first.
/// Traces known only from log records (no span yet) are left out.
pub fn trace_rows(snap: &Snapshot, query: &TraceQuery, window: Option<(u64, u64)>) -> Vec<u32> {
    let n = snap.traces.len();
    let mut out = Vec::with_capacity(if query.is_empty() { n } else { 64 });
    for i in (0..n).rev() {
        let t = &snap.traces[i];
        if t.spans.is_empty() {
            continue;
        }
        if let Some((from, to)) = window
            && (t.end_ns() < from || t.start_ns() >= to)
        {
            continue;
        }
        if query.is_empty() || query.matches(t) {
            out.push(i as u32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::breaker::BreakerState;
    use crate::testkit;

    fn names(snap: &Snapshot, rows: &[DepRow]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                DepRow::Group { caller, edges } => format!("[{caller} {edges}]"),
                DepRow::Edge(i) => {
                    let k = &snap.deps[*i as usize].key;
                    format!("{}>{}", k.caller, k.dependency)
                }
            })
            .collect()
    }

    #[test]
    fn sorts_filters_and_groups() {
        let mut store = testkit::fixture_store(90);
        let snap = store.snapshot_window(
            testkit::T0 + 40 * testkit::SEC,
            testkit::T0 + 50 * testkit::SEC,
        );
        let facts = dep_facts(&snap);
        let pay = snap.dep("checkout", "payments").unwrap();
        assert_eq!(pay.breaker.state, BreakerState::Open);
        let rows = dep_rows(&snap, &facts, &DepOrder::default());
        assert_eq!(
            names(&snap, &rows)[0],
            "checkout>payments",
            "open breaker first"
        );
        let order = DepOrder {
            sort: SortKey::Name,
            descending: false,
            group: true,
            filter: DepFilter::parse("kind=http"),
        };
        let n = names(&snap, &dep_rows(&snap, &facts, &order));
        assert_eq!(n[0], "[checkout 2]", "{n:?}");
        assert!(
            n.iter().all(|r| !r.contains("orders")),
            "db edge filtered out: {n:?}"
        );
        let order = DepOrder {
            sort: SortKey::P99,
            descending: true,
            ..DepOrder::default()
        };
        let n = names(&snap, &dep_rows(&snap, &facts, &order));
        assert_eq!(n[0], "frontend>checkout", "{n:?}");
    }

    #[test]
    fn rows_read_metric_states_queues_and_metrics_only_dependencies() {
        let mut store = testkit::fixture_store(90);
        testkit::fixture_metrics(&mut store);
        let snap = store.snapshot_window(
            testkit::T0 + 40 * testkit::SEC,
            testkit::T0 + 50 * testkit::SEC,
        );
        let facts = dep_facts(&snap);
        let all = names(&snap, &dep_rows(&snap, &facts, &DepOrder::default()));
        assert!(
            all.contains(&"checkout>fraud-check".to_string()),
            "a dependency seen only in metrics gets a row: {all:?}"
        );
        let open = DepOrder {
            filter: DepFilter::parse("state=open"),
            ..DepOrder::default()
        };
        assert_eq!(
            names(&snap, &dep_rows(&snap, &facts, &open)),
            vec!["checkout>payments"]
        );
        let pay = snap.dep("checkout", "payments").unwrap();
        assert!(pay.breaker.from_metric(), "{:?}", pay.breaker);
        let by_queue = DepOrder {
            sort: SortKey::Queue,
            ..DepOrder::default()
        };
        let n = names(&snap, &dep_rows(&snap, &facts, &by_queue));
        assert_eq!(
            n[0], "checkout>inventory",
            "the gauge queue (7/100) first: {n:?}"
        );
        // At the end of the fixture the metric says closed.
        let later = store.snapshot_window(
            testkit::T0 + 80 * testkit::SEC,
            testkit::T0 + 90 * testkit::SEC,
        );
        let closed = DepOrder {
            filter: DepFilter::parse("pay state=closed"),
            ..DepOrder::default()
        };
        assert_eq!(
            names(&later, &dep_rows(&later, &dep_facts(&later), &closed)),
            vec!["checkout>payments"]
        );
    }
}
