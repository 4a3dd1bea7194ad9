//! Installing a snapshot into `UiState` and re-deriving what is shown from it: the dependency,
//! trace, log, finding and alert rows, the open detail, comparison and waterfall, with the
//! user's selections kept.

use std::sync::Arc;

use crate::store::Snapshot;

use super::app::{CALLS_REFRESH_NS, Mode, Screen, UiState};
use super::filter::{DepFilter, parse_trace_query};
use super::rows::{self, DepRow};

impl UiState {
    /// Installs a snapshot and re-derives everything shown from it.
    pub fn apply_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.snapshot = snap;
        self.facts = rows::dep_facts(&self.snapshot);
        self.rebuild_deps();
        // The trace list is only kept current while it is shown (switching to it rebuilds it).
        if self.stack[0] == Screen::Traces {
            self.rebuild_traces();
        }
        // So is the Logs view.
        if self.stack[0] == Screen::Logs {
            self.rebuild_logs();
        }
        self.rebuild_findings();
        self.rebuild_alerts();
        if let Some(old) = self.detail.take() {
            let now = self.snapshot.now_ns;
            let fresh =
                self.mode != Mode::Review && now.abs_diff(old.calls_at_ns) < CALLS_REFRESH_NS;
            self.open_detail_with(old.edge, fresh.then_some((old.calls, old.calls_at_ns)));
            if let Some(d) = &mut self.detail {
                d.nav = old.nav;
                d.nav
                    .move_by(0, d.calls.recent.len() + d.calls.slowest.len());
            }
        }
        if let Some((a, b, _)) = self.compare.open {
            self.compare.open(&self.snapshot, a, b);
        }
        if let Some(w) = &self.waterfall {
            let (id, collapsed, nav, details) = (w.trace_id, w.collapsed.clone(), w.nav, w.details);
            self.open_waterfall(id);
            if let Some(w) = &mut self.waterfall {
                w.collapsed = collapsed;
                w.details = details;
                w.nav = nav;
                w.refresh_visible();
            }
        }
    }

    /// Re-sorts and re-filters the dependency rows, keeping the selected edge selected.
    pub fn rebuild_deps(&mut self) {
        self.deps.order.filter = DepFilter::parse(&self.deps.filter);
        self.dep_rows = rows::dep_rows(&self.snapshot, &self.facts, &self.deps.order);
        self.dep_marks = rows::Marks::of(&self.snapshot, &self.dep_rows);
        let key = self.deps.selected_key.clone();
        if let Some(k) = key
            && let Some(i) = self.dep_rows.iter().position(|r| match r {
                DepRow::Edge(i) => self.snapshot.deps[*i as usize].key == k,
                DepRow::Group { .. } => false,
            })
        {
            self.deps.nav.selected = i;
        }
        let len = self.dep_rows.len();
        self.deps.nav.move_by(0, len);
        if self.stack[0] == Screen::Map {
            self.map.rebuild(&self.snapshot, &self.dep_rows);
        }
    }

    /// Records which edge the user selected (moving to the top row unpins: it keeps showing the
    /// worst edge as the order changes).
    pub fn remember_dep(&mut self) {
        if self.deps.nav.selected == 0 {
            self.deps.selected_key = None;
        } else if let Some(DepRow::Edge(i)) = self.dep_rows.get(self.deps.nav.selected) {
            self.deps.selected_key = Some(self.snapshot.deps[*i as usize].key.clone());
        }
    }

    /// The index in `Snapshot::deps` of the selected dependency row.
    pub fn selected_edge(&self) -> Option<usize> {
        match self.dep_rows.get(self.deps.nav.selected) {
            Some(DepRow::Edge(i)) => Some(*i as usize),
            _ => None,
        }
    }

    /// Re-filters the trace list, keeping the selected trace selected.
    pub fn rebuild_traces(&mut self) {
        self.traces.query = parse_trace_query(&self.traces.filter);
        let window = (self.mode == Mode::Review).then_some(self.snapshot.window);
        self.trace_rows = rows::trace_rows(&self.snapshot, &self.traces.query, window);
        if let Some(id) = self.traces.selected_id
            && let Some(i) = self
                .trace_rows
                .iter()
                .position(|&t| self.snapshot.traces[t as usize].trace_id() == id)
        {
            self.traces.nav.selected = i;
        }
        let len = self.trace_rows.len();
        self.traces.nav.move_by(0, len);
    }

    /// Re-filters the Logs view (in review, the records inside the cursor window).
    pub fn rebuild_logs(&mut self) {
        let window = (self.mode == Mode::Review).then_some(self.snapshot.window);
        self.logs.rebuild(&self.snapshot, window);
    }

    /// Records which trace is selected (the top row is not pinned: it follows the newest trace).
    pub fn remember_trace(&mut self) {
        if self.traces.nav.selected == 0 {
            self.traces.selected_id = None;
        } else if let Some(&t) = self.trace_rows.get(self.traces.nav.selected) {
            self.traces.selected_id = Some(self.snapshot.traces[t as usize].trace_id());
        }
    }

    fn rebuild_findings(&mut self) {
        let f = &self.snapshot.findings;
        let mut idx: Vec<u32> = (0..f.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            f[b as usize]
                .severity
                .cmp(&f[a as usize].severity)
                .then(a.cmp(&b))
        });
        self.finding_rows = idx;
        let len = self.finding_rows.len();
        self.findings.move_by(0, len);
    }
}
