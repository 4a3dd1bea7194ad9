//! Key handling of the service map and the trace comparison, kept out of `update` so that file
//! only dispatches: `m` toggles the map, enter on the map opens the selected edge's dependency
//! detail, `c` marks a trace or compares the selected one with the mark, and enter in the
//! comparison opens the selected span in its trace.

use crate::model::span::{SpanId, TraceId};

use super::app::{Screen, UiState};
use super::compare::MarkOutcome;

/// `m`: opens the service map, or goes back to the dependencies table from it.
pub fn toggle_map(s: &mut UiState) {
    s.input = None;
    if s.stack[0] == Screen::Map {
        s.stack = vec![Screen::Dependencies];
        s.rebuild_deps();
    } else {
        s.stack = vec![Screen::Map];
        s.rebuild_deps();
    }
}

/// Enter on the map: the selected edge's dependency detail (as enter on a dependency row).
pub fn map_enter(s: &mut UiState) {
    let Some(e) = s.map.selected_edge() else {
        s.message = Some("this service has no edges".into());
        return;
    };
    let dep = s.map.graph.edges[e].dep;
    let Some(d) = s.snapshot.deps.get(dep) else {
        return;
    };
    let key = d.key.clone();
    s.open_detail(key.clone());
    s.stack.push(Screen::Detail(key));
}

/// `c` on the traces list.
pub fn mark_or_compare(s: &mut UiState) {
    if *s.screen() != Screen::Traces {
        return;
    }
    let Some(&t) = s.trace_rows.get(s.traces.nav.selected) else {
        return;
    };
    let id = s.snapshot.traces[t as usize].trace_id;
    match s.compare.press(id) {
        MarkOutcome::Marked => {
            s.message = Some(format!(
                "marked {} as A: press c on another trace to compare",
                short(&id)
            ))
        }
        MarkOutcome::Cleared => s.message = Some("mark cleared".into()),
        MarkOutcome::Opened(a, b) => {
            s.compare.nav = Default::default();
            s.compare.open(&s.snapshot, a, b);
            s.stack.push(Screen::Compare(a, b));
        }
    }
}

/// The trace and span enter opens from the comparison: the row's span in B, else in A.
pub fn compare_target(s: &UiState) -> Option<(TraceId, SpanId)> {
    let (a, b, c) = s.compare.open.as_ref()?;
    let r = c.as_ref()?.rows.get(s.compare.nav.selected)?;
    let (id, times) = match (&r.b, &r.a) {
        (Some(t), _) => (*b, t),
        (None, Some(t)) => (*a, t),
        _ => return None,
    };
    let span: SpanId = hex::decode(&times.span_id).ok()?.try_into().ok()?;
    Some((id, span))
}

fn short(id: &TraceId) -> String {
    let h = hex::encode(id);
    h[h.len() - 8..].to_string()
}
