//! The edges of the dependency graph and their bucketed aggregates, with the per-window summary
//! caches that keep a snapshot of an active edge at one bucket merge.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::model::dependency::DepKind;
use crate::model::edge::{CallSample, ClosedCache, EdgeKey, EdgeSeries, EdgeSummary};

use super::snapshot::EdgeView;

/// A window summary cached with the series version and window it was computed for.
type CachedSummary = (u64, (u64, u64), Arc<EdgeSummary>);

/// Every edge's series. See the module docs.
#[derive(Debug)]
pub struct EdgeTable {
    edges: HashMap<EdgeKey, EdgeSeries>,
    summaries: HashMap<EdgeKey, CachedSummary>,
    closed: HashMap<EdgeKey, ClosedCache>,
}

impl Default for EdgeTable {
    fn default() -> Self {
        EdgeTable {
            edges: HashMap::new(),
            summaries: HashMap::new(),
            closed: HashMap::new(),
        }
    }
}

impl EdgeTable {
    /// Records one call on `(caller, dependency)`.
    pub fn record(
        &mut self,
        caller: Arc<str>,
        dependency: Arc<str>,
        kind: DepKind,
        sample: &CallSample,
    ) {
        self.edges
            .entry(EdgeKey { caller, dependency })
            .or_insert_with(|| EdgeSeries::new(kind))
            .record(sample);
    }

    /// Drops buckets that ended before `cutoff_ns`, and edges left empty.
    pub fn prune_before(&mut self, cutoff_ns: u64) {
        for series in self.edges.values_mut() {
            series.prune_before(cutoff_ns);
        }
        self.edges.retain(|_, s| !s.buckets.is_empty());
    }

    /// Every edge with its summary over `window`, sorted by key.
    pub fn views(&mut self, window: (u64, u64)) -> Vec<EdgeView> {
        let mut edges: Vec<EdgeView> = Vec::with_capacity(self.edges.len());
        for (key, series) in &self.edges {
            let cached = self
                .summaries
                .get(key)
                .filter(|(v, w, _)| *v == series.version && *w == window);
            let summary = match cached {
                Some((_, _, s)) => s.clone(),
                None => {
                    let cache = self.closed.entry(key.clone()).or_default();
                    let s = Arc::new(series.summary_cached(window.0, window.1, cache));
                    self.summaries
                        .insert(key.clone(), (series.version, window, s.clone()));
                    s
                }
            };
            edges.push(EdgeView {
                key: key.clone(),
                series: series.clone(),
                summary,
            });
        }
        self.summaries.retain(|k, _| self.edges.contains_key(k));
        self.closed.retain(|k, _| self.edges.contains_key(k));
        edges.sort_by(|a, b| a.key.cmp(&b.key));
        edges
    }
}
