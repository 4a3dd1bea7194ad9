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
    let id = s.snapshot.traces[t as usize].trace_id();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::model::finding::{Finding, Outcome, Severity};
    use crate::testkit::{self, SEC, T0};
    use crate::tui::app::{Action, Mode, Screen, Sources, UiState, update};
    use crate::tui::keymap::Cmd;
    use crate::tui::theme::Theme;

    fn live() -> UiState {
        let mut store = testkit::fixture_store(90);
        let snap = store.snapshot_window(T0 + 40 * SEC, T0 + 50 * SEC);
        UiState::new(Mode::Live, Sources::default(), Arc::new(snap))
    }

    fn cmd(s: &mut UiState, c: Cmd) {
        update(s, Action::Cmd(c));
    }

    fn text(s: &mut UiState, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        let theme = Theme::default();
        t.draw(|f| {
            super::super::view::render(f, s, &theme);
        })
        .expect("draw");
        let b = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| b[(x, y)].symbol().to_string())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn m_opens_the_map_and_enter_opens_the_selected_edge_detail() {
        let mut s = live();
        cmd(&mut s, Cmd::Map);
        assert_eq!(s.stack, vec![Screen::Map]);
        assert!(!s.map.graph.nodes.is_empty());
        let e = s
            .map
            .selected_edge()
            .expect("the first service has an edge");
        let key = s.snapshot.deps[s.map.graph.edges[e].dep].key.clone();
        cmd(&mut s, Cmd::Enter);
        assert_eq!(s.screen(), &Screen::Detail(key));
        cmd(&mut s, Cmd::Back);
        assert_eq!(s.screen(), &Screen::Map);
        // The filter is the dependencies' filter, and rebuilds the map.
        cmd(&mut s, Cmd::Filter);
        for c in "dep=payments".chars() {
            update(&mut s, Action::Char(c));
        }
        update(&mut s, Action::Submit);
        assert_eq!(s.deps.filter, "dep=payments");
        assert!(s.map.graph.nodes.iter().any(|n| n.name == "payments"));
        assert!(
            s.map
                .graph
                .edges
                .iter()
                .all(|e| s.map.graph.nodes[e.to].name == "payments")
        );
        cmd(&mut s, Cmd::Map);
        assert_eq!(s.stack, vec![Screen::Dependencies]);
    }

    #[test]
    fn the_map_draws_boxes_at_80x24_marks_cycles_and_falls_back_to_a_list_when_cramped() {
        let mut s = live();
        let mut snap = (*s.snapshot).clone();
        snap.findings = Arc::from(vec![Finding {
            rule: "CYC-001".into(),
            detector: "cyclic-dependency".into(),
            severity: Severity::Warning,
            outcome: Outcome::Finding,
            caller: None,
            dependency: None,
            service: Some("checkout".into()),
            message: "synchronous cycle".into(),
            evidence: vec![("checkout → payments".into(), "3 calls".into())],
            trace_ids: Vec::new(),
            window: (T0, T0 + 90 * SEC),
            samples: 3,
            remediation: String::new(),
        }]);
        update(&mut s, Action::Snapshot(Arc::new(snap)));
        cmd(&mut s, Cmd::Map);
        let g = &s.map.graph;
        let pay = g
            .nodes
            .iter()
            .find(|n| n.name == "payments")
            .expect("payments");
        assert!(pay.cycle);
        assert!(g.edges.iter().any(|e| e.cycle));
        let screen = text(&mut s, 80, 24);
        assert!(screen.contains("Service map"), "{screen}");
        assert!(screen.contains("payments↻"), "{screen}");
        assert!(screen.contains('▶'), "{screen}");
        assert!(!screen.contains("does not fit"), "{screen}");
        assert!(
            screen.lines().nth(1).is_some_and(|l| l.contains("1 Map")),
            "{screen}"
        );
        // At the smallest size the fixture's services do not fit as boxes: the list.
        let small = text(&mut s, 60, 15);
        assert!(
            small.contains("does not fit") || small.contains('['),
            "{small}"
        );
    }

    #[test]
    fn c_marks_a_trace_then_compares_and_enter_opens_b() {
        let mut s = live();
        cmd(&mut s, Cmd::Tab(2));
        assert!(s.trace_rows.len() >= 2);
        cmd(&mut s, Cmd::Compare);
        assert!(s.compare.mark.is_some());
        cmd(&mut s, Cmd::Down);
        cmd(&mut s, Cmd::Compare);
        let Screen::Compare(a, b) = s.screen().clone() else {
            panic!("compare not open: {:?}", s.stack);
        };
        assert_ne!(a, b);
        assert!(!s.compare.is_empty());
        let screen = text(&mut s, 120, 36);
        assert!(screen.contains("Compare A"), "{screen}");
        assert!(screen.contains("critical path moved"), "{screen}");
        cmd(&mut s, Cmd::Enter);
        assert!(matches!(s.screen(), Screen::Waterfall(id) if *id == b));
        cmd(&mut s, Cmd::Back);
        cmd(&mut s, Cmd::Back);
        assert_eq!(s.screen(), &Screen::Traces);
        assert!(s.compare.open.is_none());
    }
}
