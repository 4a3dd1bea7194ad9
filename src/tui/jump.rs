//! Enter and the jumps between views, kept out of `update` so that file only dispatches: enter
//! on each list (dependency → detail, trace → waterfall, finding → its subject, alert → its
//! traces), a log record → its span, a span → its trace, folding the waterfall, and a span →
//! its dependency's detail.

use super::app::{Command, Screen, UiState};
use super::keymap::Cmd;
use super::rows::DepRow;
use super::update::go_tab;

pub(super) fn enter(s: &mut UiState) -> Option<Command> {
    match s.screen().clone() {
        Screen::Dependencies => match s.dep_rows.get(s.deps.nav.selected) {
            Some(DepRow::Edge(i)) => {
                let key = s.snapshot.deps[*i as usize].key.clone();
                s.open_detail(key.clone());
                s.stack.push(Screen::Detail(key));
            }
            Some(DepRow::Group { caller, .. }) => {
                s.deps.filter = format!("service={caller}");
                s.rebuild_deps();
            }
            None => {}
        },
        Screen::Traces => {
            if let Some(&t) = s.trace_rows.get(s.traces.nav.selected) {
                let id = s.snapshot.traces[t as usize].trace_id();
                open_trace(s, id);
            }
        }
        Screen::Detail(_) => {
            let id = s.detail.as_ref().and_then(|d| {
                let i = d.nav.selected;
                let call = d.calls.recent.iter().chain(d.calls.slowest.iter()).nth(i)?;
                let span = call.span_id;
                s.snapshot
                    .traces
                    .get(call.trace)
                    .map(|t| (t.trace_id(), span))
            });
            if let Some((id, span)) = id {
                open_trace(s, id);
                select_span(s, span);
            }
        }
        Screen::Waterfall(_) => {
            if let Some(w) = &mut s.waterfall {
                w.details = !w.details;
            }
        }
        Screen::Findings => open_finding(s),
        Screen::Alerts => s.alert_to_dependency(),
        Screen::Logs => jump_to_log_span(s),
        Screen::Map => super::views_nav::map_enter(s),
        Screen::Compare(..) => {
            if let Some((id, span)) = super::views_nav::compare_target(s) {
                open_trace(s, id);
                select_span(s, span);
            }
        }
    }
    None
}

/// `t` in the Alerts view: one exemplar trace opens at its call, several are listed.
pub(super) fn alert_traces(s: &mut UiState) {
    if *s.screen() != Screen::Alerts {
        return;
    }
    match s.alert_traces().as_deref() {
        None | Some([]) => {}
        Some([(id, span)]) => {
            open_trace(s, *id);
            select_span(s, *span);
        }
        Some(many) => {
            let ids: Vec<String> = many.iter().map(|(t, _)| hex::encode(t)).collect();
            go_tab(s, 1);
            s.traces.filter = format!("id={}", ids.join(","));
            s.rebuild_traces();
        }
    }
}

/// From the selected log record to its trace's waterfall, its span selected (the trace's first
/// row when the record has no span id).
pub(super) fn jump_to_log_span(s: &mut UiState) {
    let Some(rec) = s.logs.rows.get(s.logs.nav.selected) else {
        return;
    };
    let (Some(tid), span) = (rec.trace_id, rec.span_id) else {
        s.message = Some("this record is not tied to a trace".into());
        return;
    };
    let retained = s.snapshot.trace(&tid).is_some_and(|t| !t.spans.is_empty());
    if !retained {
        s.message = Some("this record's trace has no retained span".into());
        return;
    }
    open_trace(s, tid);
    match span {
        Some(id) => {
            let found = s
                .waterfall
                .as_ref()
                .is_some_and(|w| w.trace.as_ref().is_some_and(|t| t.position(&id).is_some()));
            if found {
                select_span(s, id);
            } else {
                s.message = Some("this record's span was not received; showing its trace".into());
            }
        }
        None => s.message = Some("this record has no span id; showing its trace".into()),
    }
}

fn open_trace(s: &mut UiState, id: crate::model::span::TraceId) {
    s.open_waterfall(id);
    s.stack.push(Screen::Waterfall(id));
}

fn select_span(s: &mut UiState, span: crate::model::span::SpanId) {
    if let Some(w) = &mut s.waterfall
        && let Some(t) = &w.trace
        && let Some(row) = w
            .visible
            .iter()
            .position(|&n| t.spans[w.tree.nodes[n as usize].span as usize].span_id == span)
    {
        w.nav.selected = row;
        w.details = true;
    }
}

fn open_finding(s: &mut UiState) {
    let Some(&fi) = s.finding_rows.get(s.findings.selected) else {
        return;
    };
    let f = s.snapshot.findings[fi as usize].clone();
    let known: Vec<crate::model::span::TraceId> = f
        .trace_ids
        .iter()
        .filter_map(|h| {
            let bytes = hex::decode(h).ok()?;
            let id: crate::model::span::TraceId = bytes.try_into().ok()?;
            s.snapshot.traces.find(&id).is_some().then_some(id)
        })
        .collect();
    match known.as_slice() {
        [one] => open_trace(s, *one),
        [] => match (&f.caller, &f.dependency) {
            (Some(c), Some(d)) => {
                let key = crate::model::edge::EdgeKey {
                    caller: c.as_str().into(),
                    dependency: d.as_str().into(),
                };
                s.open_detail(key.clone());
                s.stack.push(Screen::Detail(key));
                if f.trace_ids.is_empty() {
                    s.message = Some("this finding cites no trace; showing its dependency".into());
                } else {
                    s.message = Some("its traces were evicted; showing its dependency".into());
                }
            }
            _ => s.message = Some("the traces this finding cites are not retained".into()),
        },
        _ => {
            go_tab(s, 1);
            s.traces.filter = format!("id={}", f.trace_ids.join(","));
            s.rebuild_traces();
        }
    }
}

pub(super) fn fold(s: &mut UiState, cmd: Cmd) {
    let Some(w) = &mut s.waterfall else { return };
    let Some(t) = w.trace.clone() else { return };
    let Some(&node_ix) = w.visible.get(w.nav.selected) else {
        return;
    };
    let node = w.tree.nodes[node_ix as usize].clone();
    let id = t.spans[node.span as usize].span_id;
    let collapsed = w.collapsed.contains(&id);
    match cmd {
        Cmd::Left if node.descendants > 0 && !collapsed => {
            w.collapsed.insert(id);
        }
        Cmd::Left => {
            // Go to the parent row: the nearest earlier visible row with a smaller depth.
            let sel = w.nav.selected;
            if let Some(p) = (0..sel)
                .rev()
                .find(|&r| w.tree.nodes[w.visible[r] as usize].depth < node.depth)
            {
                w.nav.selected = p;
            }
            return;
        }
        Cmd::Right => {
            w.collapsed.remove(&id);
        }
        _ if node.descendants > 0 => {
            if !w.collapsed.remove(&id) {
                w.collapsed.insert(id);
            }
        }
        _ => return,
    }
    w.refresh_visible();
}

pub(super) fn jump_to_edge(s: &mut UiState) {
    let Some(w) = &s.waterfall else { return };
    let (Some(t), Some(ix)) = (w.trace.clone(), w.selected_span()) else {
        return;
    };
    match s.edge_of_span(&t, ix) {
        Some(key) => {
            s.open_detail(key.clone());
            s.stack.push(Screen::Detail(key));
        }
        None => s.message = Some("this span is not a call between services".into()),
    }
}
