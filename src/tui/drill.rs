//! Drill-ins: building the dependency detail and the trace waterfall from a snapshot, and
//! finding the edge a span belongs to.

use std::collections::HashSet;

use crate::analysis::traces::{EdgeCalls, TraceTree, edge_calls, is_call_on_edge};
use crate::model::edge::EdgeKey;
use crate::model::span::TraceId;
use crate::model::view::DependencyView;
use crate::store::trace::Trace;

use super::app::{DetailUi, ListNav, UiState, WaterfallUi};

impl UiState {
    /// Opens (or refreshes) the detail of `edge` from the current snapshot.
    pub fn open_detail(&mut self, edge: EdgeKey) {
        self.open_detail_with(edge, None);
    }

    /// Opens the detail of `edge`, keeping `calls` gathered earlier when given.
    pub(super) fn open_detail_with(&mut self, edge: EdgeKey, calls: Option<(EdgeCalls, u64)>) {
        let snap = &self.snapshot;
        let index = snap
            .deps
            .binary_search_by(|d| {
                (&*d.key.caller, &*d.key.dependency).cmp(&(&*edge.caller, &*edge.dependency))
            })
            .ok();
        let (calls, calls_at_ns) = calls.unwrap_or_else(|| {
            (
                edge_calls(&snap.traces, &edge.caller, &edge.dependency, snap.window, 8),
                snap.now_ns,
            )
        });
        self.detail = Some(DetailUi {
            edge,
            index,
            calls,
            nav: ListNav::default(),
            calls_at_ns,
        });
    }

    /// The view of the dependency whose detail is open, when this snapshot has it.
    pub fn detail_dep(&self) -> Option<&DependencyView> {
        self.snapshot.deps.get(self.detail.as_ref()?.index?)
    }

    /// Opens (or refreshes) the waterfall of trace `id` from the current snapshot.
    pub fn open_waterfall(&mut self, id: TraceId) {
        let trace = self.snapshot.traces.find(&id).cloned();
        let tree = trace.as_deref().map(TraceTree::build).unwrap_or_default();
        let mut w = WaterfallUi {
            trace_id: id,
            trace,
            tree,
            visible: Vec::new(),
            collapsed: HashSet::new(),
            nav: ListNav::default(),
            details: false,
        };
        w.refresh_visible();
        self.waterfall = Some(w);
    }

    /// The edge a span belongs to: its own call (client/producer spans) or the call that reached
    /// it (server/consumer spans), when the snapshot has that edge.
    pub fn edge_of_span(&self, trace: &Trace, span_ix: usize) -> Option<EdgeKey> {
        let s = trace.spans.get(span_ix)?;
        let snap = &self.snapshot;
        if s.kind.is_outbound() {
            return snap
                .deps
                .iter()
                .filter(|d| *d.key.caller == *s.service())
                .find(|d| is_call_on_edge(trace, s, &d.key.caller, &d.key.dependency))
                .map(|d| d.key.clone());
        }
        let parent = trace.get(&s.parent_span_id)?;
        snap.dep(parent.service(), s.service())
            .map(|d| d.key.clone())
    }
}

impl WaterfallUi {
    /// Recomputes the visible rows after a collapse change.
    pub fn refresh_visible(&mut self) {
        let (trace, collapsed) = (&self.trace, &self.collapsed);
        self.visible = match trace {
            Some(t) => self
                .tree
                .visible(|i| collapsed.contains(&t.spans[i as usize].span_id)),
            None => Vec::new(),
        };
        let len = self.visible.len();
        self.nav.move_by(0, len);
    }

    /// The span index of the selected row.
    pub fn selected_span(&self) -> Option<usize> {
        let node = *self.visible.get(self.nav.selected)?;
        Some(self.tree.nodes.get(node as usize)?.span as usize)
    }
}
