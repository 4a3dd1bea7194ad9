//! The Alerts view's state and moves: which alert is selected (followed across snapshots by its
//! alert, caller and dependency), what the header banner shows, and the jumps from an alert to
//! its dependency's detail and to its exemplar traces. The board itself is the snapshot's
//! (`Snapshot::alerts`: the live engine's, or in review the capture's replay).

use std::sync::Arc;

use crate::analysis::traces::edge_calls;
use crate::model::alert::{AlertBoard, AlertState};
use crate::model::edge::EdgeKey;
use crate::model::span::{SpanId, TraceId};
use crate::store::Snapshot;

use super::app::{ListNav, Mode, Screen, UiState};

/// How far before an alert's pending start its exemplar traces are looked for (the shipped
/// rules' window).
pub const EXEMPLAR_LEAD_NS: u64 = 60 * 1_000_000_000;
/// Most exemplar traces offered for one alert.
pub const EXEMPLARS: usize = 10;

/// Identifies an alert across snapshots: (alert name, caller, dependency).
pub type AlertKey = (Arc<str>, Arc<str>, Arc<str>);

/// Alerts view state.
#[derive(Clone, Debug, Default)]
pub struct AlertsUi {
    /// Selection among the board's alerts (in board order).
    pub nav: ListNav,
    /// The selected alert, followed across snapshots once the user has moved (until then the
    /// top row, the worst firing alert, stays selected).
    pub selected_key: Option<AlertKey>,
}

fn key_of(a: &AlertState) -> AlertKey {
    (a.alert.clone(), a.caller.clone(), a.dependency.clone())
}

/// The traces that show an alert: among the calls over its edge in retained traces that started
/// in its time (from a minute before it went pending to when it resolved), the failed ones,
/// newest first, then the slowest; each trace once, at most [`EXEMPLARS`], with the call's span.
pub fn exemplars(snap: &Snapshot, a: &AlertState) -> Vec<(TraceId, SpanId)> {
    let from = a.active_since_ns.saturating_sub(EXEMPLAR_LEAD_NS);
    let to = a.resolved_ns.map_or(u64::MAX, |t| t.saturating_add(1));
    let calls = edge_calls(
        &snap.traces,
        &a.caller,
        &a.dependency,
        (from, to),
        usize::MAX,
    );
    let inside = |c: &&crate::analysis::traces::EdgeCall| c.start_ns >= from && c.start_ns < to;
    let failed = calls.recent.iter().filter(|c| c.error).filter(inside);
    let mut out: Vec<(TraceId, SpanId)> = Vec::new();
    for c in failed.chain(calls.slowest.iter().filter(inside)) {
        if out.len() >= EXEMPLARS {
            break;
        }
        if !out.iter().any(|(t, _)| *t == c.trace_id) {
            out.push((c.trace_id, c.span_id));
        }
    }
    out
}

impl UiState {
    /// The alert board on screen.
    pub fn alert_board(&self) -> &AlertBoard {
        &self.snapshot.alerts
    }

    /// The alert selected in the Alerts view.
    pub fn selected_alert(&self) -> Option<&AlertState> {
        self.alert_board().states.get(self.alerts.nav.selected)
    }

    /// The alerts the header banner counts: firing now (live), or firing at the time cursor's
    /// end (review, from each alert's history); the most severe first, the newest among equals.
    pub fn banner_alerts(&self) -> Vec<&AlertState> {
        let board = self.alert_board();
        let mut v: Vec<&AlertState> = match (self.mode, self.cursor) {
            (Mode::Review, Some(c)) => {
                let at = c.end_ns.saturating_sub(1);
                board.states.iter().filter(|a| a.firing_at(at)).collect()
            }
            (Mode::Review, None) => Vec::new(),
            _ => board.firing().collect(),
        };
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.fired_ns.cmp(&a.fired_ns))
                .then_with(|| a.alert.cmp(&b.alert))
        });
        v
    }

    /// Re-selects the remembered alert in a new board and keeps the selection in range.
    pub(super) fn rebuild_alerts(&mut self) {
        let board = self.snapshot.alerts.clone();
        if let Some(k) = &self.alerts.selected_key
            && let Some(i) = board.states.iter().position(|a| key_of(a) == *k)
        {
            self.alerts.nav.selected = i;
        }
        self.alerts.nav.move_by(0, board.states.len());
    }

    /// Records which alert the user selected (the top row is not pinned).
    pub(super) fn remember_alert(&mut self) {
        self.alerts.selected_key = if self.alerts.nav.selected == 0 {
            None
        } else {
            self.selected_alert().map(key_of)
        };
    }

    /// Opens the selected alert's dependency detail.
    pub(super) fn alert_to_dependency(&mut self) {
        let Some(a) = self.selected_alert() else {
            return;
        };
        let key = EdgeKey {
            caller: a.caller.clone(),
            dependency: a.dependency.clone(),
        };
        self.open_detail(key.clone());
        self.stack.push(Screen::Detail(key));
        if self.detail_dep().is_none() {
            self.message = Some("no calls of this dependency in the window".into());
        }
    }

    /// Opens the selected alert's exemplar traces: one trace in its waterfall at the call, several
    /// as the traces list filtered to them, none: the dependency's detail, saying so.
    pub(super) fn alert_traces(&mut self) -> Option<Vec<(TraceId, SpanId)>> {
        let a = self.selected_alert()?;
        let found = exemplars(&self.snapshot, a);
        if found.is_empty() {
            self.alert_to_dependency();
            self.message =
                Some("no retained trace shows this alert; showing its dependency".into());
            return None;
        }
        Some(found)
    }
}
