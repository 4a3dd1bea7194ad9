//! What the views show, prepared once per snapshot (or per sort/filter change), never per frame:
//! the ordered and filtered dependency rows with each edge's breaker status and findings badge,
//! and the filtered trace list. Frames then only format the visible rows.

use std::collections::HashMap;
use std::sync::Arc;

use crate::analysis::traces::TraceQuery;
use crate::model::breaker::{self, BreakerView};
use crate::model::finding::Severity;
use crate::store::Snapshot;
use crate::store::snapshot::EdgeView;

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
    /// Queue depth (unknown until metrics land).
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

/// Per-edge facts derived from the snapshot (same order as `Snapshot::edges`).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeFacts {
    /// Breaker status: from metrics when present, else inferred from traces.
    pub breaker: BreakerView,
    /// Findings about this edge.
    pub findings: u16,
    /// The most severe of them.
    pub severity: Option<Severity>,
    /// Queue depth and capacity, when a metric source reports them for this edge.
    pub queue: Option<(f64, Option<f64>)>,
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
    /// An edge, by index into `Snapshot::edges`.
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

/// Facts for every edge of `snap`.
pub fn edge_facts(snap: &Snapshot) -> Vec<EdgeFacts> {
    let mut by_edge: HashMap<(&str, &str), (u16, Severity)> = HashMap::new();
    for f in snap.findings.iter() {
        if let (Some(c), Some(d)) = (&f.caller, &f.dependency) {
            let e = by_edge.entry((c, d)).or_insert((0, f.severity));
            e.0 = e.0.saturating_add(1);
            e.1 = e.1.max(f.severity);
        }
    }
    snap.edges
        .iter()
        .map(|e| {
            let found = by_edge.get(&(&*e.key.caller, &*e.key.dependency));
            EdgeFacts {
                breaker: breaker::infer(&e.series, snap.window.0, snap.window.1),
                findings: found.map_or(0, |f| f.0),
                severity: found.map(|f| f.1),
                // Filled from the metrics work's per-edge resilience view when it lands.
                queue: None,
            }
        })
        .collect()
}

fn sort_value(e: &EdgeView, f: &EdgeFacts, key: SortKey) -> f64 {
    let s = &e.summary;
    let q = |p| s.quantile_ms(p).unwrap_or(-1.0);
    match key {
        SortKey::Name => 0.0,
        SortKey::Queue => f.queue.map_or(-1.0, |q| q.0),
        SortKey::Breaker => f.breaker.state.severity() as f64 * 10.0 + s.error_ratio(),
        SortKey::Rps => crate::analysis::latency::call_rate(&e.series, s),
        SortKey::Errors => s.error_ratio(),
        SortKey::P50 => q(0.50),
        SortKey::P95 => q(0.95),
        SortKey::P99 => q(0.99),
        SortKey::Retries => s.retry_ratio(),
        SortKey::Timeouts => s.timeout_ratio(),
        SortKey::Findings => f.findings as f64,
    }
}

/// The ordered, filtered rows of the dependency table.
pub fn dep_rows(snap: &Snapshot, facts: &[EdgeFacts], order: &DepOrder) -> Vec<DepRow> {
    let mut idx: Vec<u32> = (0..snap.edges.len() as u32)
        .filter(|&i| {
            let e = &snap.edges[i as usize];
            order.filter.is_empty()
                || order.filter.matches(
                    &e.key.caller,
                    &e.key.dependency,
                    e.series.kind.as_str(),
                    facts[i as usize].breaker.state,
                )
        })
        .collect();
    if order.sort != SortKey::Name || order.descending {
        let mut keyed: Vec<(f64, u32)> = idx
            .iter()
            .map(|&i| {
                (
                    sort_value(&snap.edges[i as usize], &facts[i as usize], order.sort),
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
    // Groups appear in the order of their best-ranked edge.
    let mut groups: Vec<(Arc<str>, Vec<u32>)> = Vec::new();
    let mut pos: HashMap<Arc<str>, usize> = HashMap::new();
    for i in idx {
        let caller = snap.edges[i as usize].key.caller.clone();
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
pub fn trace_rows(snap: &Snapshot, query: &TraceQuery, window: Option<(u64, u64)>) -> Vec<u32> {
    let n = snap.traces.len();
    let mut out = Vec::with_capacity(if query.is_empty() { n } else { 64 });
    for i in (0..n).rev() {
        let t = &snap.traces[i];
        if let Some((from, to)) = window
            && (t.end_ns < from || t.start_ns >= to)
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
                    let k = &snap.edges[*i as usize].key;
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
        let facts = edge_facts(&snap);
        let pay = snap
            .edges
            .iter()
            .position(|e| &*e.key.dependency == "payments")
            .unwrap();
        assert_eq!(facts[pay].breaker.state, BreakerState::Open);
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
}
