//! The retained traces: assembly by trace id, arrival order, eviction of whole traces (oldest
//! arrival first) by span budget and retention, and the list every snapshot shares.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::model::span::TraceId;

use super::trace::Trace;

/// What an eviction removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Traces removed.
    pub traces: u64,
    /// Spans they held.
    pub spans: u64,
}

/// The retained traces. See the module docs.
#[derive(Debug)]
pub struct TraceTable {
    traces: HashMap<TraceId, Arc<Trace>>,
    arrivals: VecDeque<(u64, TraceId)>,
    spans: u64,
    changed: bool,
    list: Arc<[Arc<Trace>]>,
}

impl Default for TraceTable {
    fn default() -> Self {
        TraceTable {
            traces: HashMap::new(),
            arrivals: VecDeque::new(),
            spans: 0,
            changed: false,
            list: Arc::from(Vec::new()),
        }
    }
}

impl TraceTable {
    /// The trace `tid` for writing, created (arriving at `now`) when new. Copies the trace if a
    /// snapshot still shares it.
    pub fn get_or_insert(&mut self, tid: TraceId, now: u64) -> &mut Trace {
        self.changed = true;
        let trace = self.traces.entry(tid).or_insert_with(|| {
            self.arrivals.push_back((now, tid));
            Arc::new(Trace::new(tid))
        });
        Arc::make_mut(trace)
    }

    /// The trace `tid` for writing, when retained.
    pub fn get_mut(&mut self, tid: &TraceId) -> Option<&mut Trace> {
        let t = self.traces.get_mut(tid)?;
        self.changed = true;
        Some(Arc::make_mut(t))
    }

    /// The trace `tid`, when retained.
    pub fn get(&self, tid: &TraceId) -> Option<&Arc<Trace>> {
        self.traces.get(tid)
    }

    /// Counts spans added to retained traces (the budget follows it).
    pub fn add_spans(&mut self, n: u64) {
        self.spans += n;
    }

    /// Spans retained.
    pub fn spans(&self) -> u64 {
        self.spans
    }

    /// Traces retained.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// Whether no trace is retained.
    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Evicts oldest traces while more than `max_spans` spans are retained.
    pub fn enforce_budget(&mut self, max_spans: usize) -> Evicted {
        let mut out = Evicted::default();
        while self.spans as usize > max_spans && !self.arrivals.is_empty() {
            self.evict_oldest(&mut out);
        }
        out
    }

    /// Evicts traces that arrived before `cutoff`.
    pub fn evict_arrived_before(&mut self, cutoff: u64) -> Evicted {
        let mut out = Evicted::default();
        while self.arrivals.front().is_some_and(|(t, _)| *t < cutoff) {
            self.evict_oldest(&mut out);
        }
        out
    }

    fn evict_oldest(&mut self, out: &mut Evicted) {
        if let Some((_, tid)) = self.arrivals.pop_front()
            && let Some(t) = self.traces.remove(&tid)
        {
            let n = t.spans.len() as u64;
            self.spans -= n;
            out.spans += n;
            out.traces += 1;
            self.changed = true;
        }
    }

    /// The retained traces as snapshots share them, ordered by (start, trace id).
    pub fn published(&mut self) -> Arc<[Arc<Trace>]> {
        if self.changed {
            let mut list: Vec<Arc<Trace>> = self.traces.values().cloned().collect();
            list.sort_by_key(|t| (t.start_ns, t.trace_id));
            self.list = Arc::from(list);
            self.changed = false;
        }
        self.list.clone()
    }
}
