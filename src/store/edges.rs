//! The edges of the dependency graph and their bucketed aggregates, with the per-window summary
//! caches that keep a snapshot of an active edge at one bucket merge.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::model::dependency::DepKind;
use crate::model::edge::{CallSample, ClosedCache, EdgeKey, EdgeSeries, EdgeSummary};

use super::snapshot::EdgeView;

/// A window summary cached with the series version and window it was computed for.
type CachedSummary = (u64, (u64, u64), Arc<EdgeSummary>);

/// The id of an edge: its index in [`EdgeTable::keys`] (stable for the store's life).
pub type EdgeId = u32;

/// Every edge's series. See the module docs.
#[derive(Debug)]
pub struct EdgeTable {
    edges: HashMap<EdgeKey, EdgeSeries>,
    ids: HashMap<EdgeKey, EdgeId>,
    keys: Vec<EdgeKey>,
    published: Arc<[EdgeKey]>,
    summaries: HashMap<EdgeKey, CachedSummary>,
    closed: HashMap<EdgeKey, ClosedCache>,
}

impl Default for EdgeTable {
    fn default() -> Self {
        EdgeTable {
            edges: HashMap::new(),
            ids: HashMap::new(),
            keys: Vec::new(),
            published: Arc::from(Vec::new()),
            summaries: HashMap::new(),
            closed: HashMap::new(),
        }
    }
}

impl EdgeTable {
    /// The id of `(caller, dependency)`, assigned on first use.
    pub fn id(&mut self, caller: Arc<str>, dependency: Arc<str>) -> EdgeId {
        let key = EdgeKey { caller, dependency };
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = self.keys.len() as EdgeId;
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// Every edge key by id, as snapshots share it (rebuilt only when an edge was added).
    pub fn keys(&mut self) -> Arc<[EdgeKey]> {
        if self.published.len() != self.keys.len() {
            self.published = Arc::from(self.keys.as_slice());
        }
        self.published.clone()
    }

    /// Records one call on edge `id`.
    pub fn record(&mut self, id: EdgeId, kind: DepKind, sample: &CallSample) {
        let Some(key) = self.keys.get(id as usize) else {
            return;
        };
        match self.edges.get_mut(key) {
            Some(series) => series.record(sample),
            None => {
                let mut series = EdgeSeries::new(kind);
                series.record(sample);
                self.edges.insert(key.clone(), series);
            }
        }
    }

    /// Adds `delta` retries to the bucket of a call on edge `id` that started at `start_ns`.
    pub fn add_retries(&mut self, id: EdgeId, start_ns: u64, delta: i64) {
        if let Some(series) = self
            .keys
            .get(id as usize)
            .and_then(|k| self.edges.get_mut(k))
        {
            series.add_retries(start_ns, delta);
        }
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
