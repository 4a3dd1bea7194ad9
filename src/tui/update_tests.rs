//! `update(state, action)` tests: navigation, filters, pause, the waterfall and the time cursor.

use std::sync::Arc;

use crate::model::breaker::BreakerState;
use crate::testkit::{self, SEC, T0};
use crate::tui::app::{Action, Command, Mode, Screen, Sources, UiState, update};
use crate::tui::keymap::Cmd;
use crate::tui::rows::{DepRow, SortKey};

fn live() -> UiState {
    let mut store = testkit::fixture_store(90);
    let snap = store.snapshot_window(T0 + 40 * SEC, T0 + 50 * SEC);
    UiState::new(Mode::Live, Sources::default(), Arc::new(snap))
}

fn cmd(s: &mut UiState, c: Cmd) -> Option<Command> {
    update(s, Action::Cmd(c))
}

fn type_text(s: &mut UiState, t: &str) {
    for c in t.chars() {
        update(s, Action::Char(c));
    }
}

fn selected_dep(s: &UiState) -> String {
    match &s.dep_rows[s.deps.nav.selected] {
        DepRow::Edge(i) => s.snapshot.deps[*i as usize].key.dependency.to_string(),
        DepRow::Group { caller, .. } => format!("[{caller}]"),
    }
}

#[test]
fn navigation_clamps_and_tabs_switch() {
    let mut s = live();
    let n = s.dep_rows.len();
    assert!(n >= 5);
    cmd(&mut s, Cmd::Up);
    assert_eq!(s.deps.nav.selected, 0);
    for _ in 0..n + 3 {
        cmd(&mut s, Cmd::Down);
    }
    assert_eq!(s.deps.nav.selected, n - 1);
    cmd(&mut s, Cmd::Top);
    assert_eq!(s.deps.nav.selected, 0);
    cmd(&mut s, Cmd::PageDown);
    assert_eq!(s.deps.nav.selected, n - 1, "page larger than the list");
    cmd(&mut s, Cmd::NextTab);
    assert_eq!(s.screen(), &Screen::Traces);
    cmd(&mut s, Cmd::PrevTab);
    cmd(&mut s, Cmd::PrevTab);
    assert_eq!(s.screen(), &Screen::Alerts, "tabs wrap around");
    cmd(&mut s, Cmd::PrevTab);
    assert_eq!(s.screen(), &Screen::Logs);
    cmd(&mut s, Cmd::PrevTab);
    assert_eq!(s.screen(), &Screen::Findings);
    cmd(&mut s, Cmd::Tab(1));
    assert_eq!(s.screen(), &Screen::Dependencies);
    assert_eq!(cmd(&mut s, Cmd::Quit), Some(Command::Quit));
    assert!(s.quit);
}

#[test]
fn enter_drills_in_and_esc_comes_back() {
    let mut s = live();
    assert_eq!(selected_dep(&s), "payments", "open breaker sorts first");
    cmd(&mut s, Cmd::Enter);
    let Screen::Detail(key) = s.screen().clone() else {
        panic!("detail")
    };
    assert_eq!(&*key.dependency, "payments");
    assert_eq!(
        s.detail_dep().expect("the view").breaker.state,
        BreakerState::Open
    );
    let d = s.detail.as_ref().expect("detail");
    assert!(d.calls.total > 0);
    cmd(&mut s, Cmd::Down);
    cmd(&mut s, Cmd::Enter);
    assert!(matches!(s.screen(), Screen::Waterfall(_)));
    let w = s.waterfall.as_ref().expect("waterfall");
    assert!(
        w.details,
        "opening a call selects its span and shows details"
    );
    cmd(&mut s, Cmd::Back);
    cmd(&mut s, Cmd::Back);
    assert_eq!(s.screen(), &Screen::Dependencies);
    assert!(s.detail.is_none() && s.waterfall.is_none());
    cmd(&mut s, Cmd::Back);
    assert_eq!(s.stack.len(), 1, "esc on a top-level view stays");
}

#[test]
fn dependency_filter_live_applies_and_esc_restores() {
    let mut s = live();
    let all = s.dep_rows.len();
    cmd(&mut s, Cmd::Filter);
    type_text(&mut s, "dep=inv");
    assert_eq!(s.dep_rows.len(), 1);
    assert_eq!(selected_dep(&s), "inventory");
    update(&mut s, Action::Backspace);
    update(&mut s, Action::Backspace);
    update(&mut s, Action::Backspace);
    assert!(s.dep_rows.len() > 1);
    update(&mut s, Action::Cancel);
    assert_eq!(s.dep_rows.len(), all);
    assert!(s.input.is_none());
    cmd(&mut s, Cmd::Filter);
    type_text(&mut s, "state=open");
    update(&mut s, Action::Submit);
    assert_eq!(s.dep_rows.len(), 1);
    assert_eq!(s.deps.filter, "state=open");
    cmd(&mut s, Cmd::Back);
    assert_eq!(s.dep_rows.len(), all, "esc clears a filter");
}

#[test]
fn sorting_grouping_and_selection_follows_the_edge() {
    let mut s = live();
    cmd(&mut s, Cmd::Down);
    let chosen = selected_dep(&s);
    cmd(&mut s, Cmd::SortNext);
    assert_eq!(s.deps.order.sort, SortKey::Rps);
    assert_eq!(
        selected_dep(&s),
        chosen,
        "selection follows the edge across re-sorts"
    );
    cmd(&mut s, Cmd::SortReverse);
    assert_eq!(selected_dep(&s), chosen);
    cmd(&mut s, Cmd::Left);
    cmd(&mut s, Cmd::Left);
    assert_eq!(s.deps.order.sort, SortKey::Name);
    cmd(&mut s, Cmd::Group);
    assert!(matches!(s.dep_rows[0], DepRow::Group { .. }));
    // A new snapshot keeps the chosen edge selected.
    let snap = s.snapshot.clone();
    update(&mut s, Action::Snapshot(snap));
    assert_eq!(selected_dep(&s), chosen);
}

#[test]
fn pause_holds_snapshots_until_resumed() {
    let mut s = live();
    let before = s.snapshot.seq;
    cmd(&mut s, Cmd::Pause);
    let mut store = testkit::fixture_store(30);
    let newer = Arc::new(store.snapshot(None));
    update(&mut s, Action::Snapshot(newer.clone()));
    assert_eq!(s.snapshot.seq, before);
    cmd(&mut s, Cmd::Pause);
    assert!(Arc::ptr_eq(&s.snapshot, &newer));
}

#[test]
fn trace_filters_and_errors_toggle() {
    let mut s = live();
    cmd(&mut s, Cmd::Tab(2));
    let all = s.trace_rows.len();
    assert!(all > 100);
    cmd(&mut s, Cmd::ErrorsOnly);
    let errs = s.trace_rows.len();
    assert!(errs > 0 && errs < all);
    assert_eq!(s.traces.filter, "errors");
    cmd(&mut s, Cmd::ErrorsOnly);
    assert_eq!(s.trace_rows.len(), all);
    cmd(&mut s, Cmd::Filter);
    type_text(&mut s, "service=inventory min=1s");
    update(&mut s, Action::Submit);
    let slow = s.trace_rows.len();
    assert!(slow > 0 && slow < all / 4, "{slow} of {all}");
    for &t in &s.trace_rows {
        assert!(s.snapshot.traces[t as usize].duration_ns() >= SEC);
    }
}

#[test]
fn waterfall_folds_and_jumps_to_the_edge() {
    let mut s = live();
    cmd(&mut s, Cmd::Tab(2));
    cmd(&mut s, Cmd::Enter);
    let rows = s.waterfall.as_ref().expect("open").visible.len();
    assert!(rows >= 6);
    cmd(&mut s, Cmd::Left);
    assert_eq!(
        s.waterfall.as_ref().expect("open").visible.len(),
        1,
        "root collapsed"
    );
    cmd(&mut s, Cmd::Right);
    assert_eq!(s.waterfall.as_ref().expect("open").visible.len(), rows);
    cmd(&mut s, Cmd::Bottom);
    let w = s.waterfall.as_ref().expect("open");
    let (leaf_row, leaf_depth) = (
        w.nav.selected,
        w.tree.nodes[w.visible[w.nav.selected] as usize].depth,
    );
    cmd(&mut s, Cmd::Left);
    let w = s.waterfall.as_ref().expect("open");
    assert!(w.nav.selected < leaf_row, "h on a leaf goes to the parent");
    assert_eq!(
        w.tree.nodes[w.visible[w.nav.selected] as usize].depth + 1,
        leaf_depth
    );
    cmd(&mut s, Cmd::Top);
    cmd(&mut s, Cmd::Down);
    cmd(&mut s, Cmd::JumpToEdge);
    let Screen::Detail(key) = s.screen().clone() else {
        panic!("jumped to {:?}", s.screen())
    };
    assert_eq!((&*key.caller, &*key.dependency), ("frontend", "checkout"));
}

#[test]
fn time_cursor_moves_resizes_and_stays_in_the_capture() {
    let whole = Arc::new(testkit::fixture_snapshot());
    let mut s = UiState::review(Sources::default(), whole.clone());
    let (r0, r1) = whole.range;
    let c = s.cursor.expect("cursor");
    assert_eq!(c.window(), (r0, r1 + 1));
    assert_eq!(
        cmd(&mut s, Cmd::TimeForward),
        Some(Command::Window(r0, r1 + 1)),
        "already at the end"
    );
    let Some(Command::Window(a, b)) = cmd(&mut s, Cmd::Narrow) else {
        panic!()
    };
    assert_eq!(b, r1 + 1);
    assert!((b - a).abs_diff((r1 + 1 - r0) / 2) <= 1);
    let Some(Command::Window(a2, b2)) = cmd(&mut s, Cmd::TimeBack) else {
        panic!()
    };
    assert!(b2 < b && a2 < a && b2 - a2 == b - a);
    for _ in 0..100 {
        cmd(&mut s, Cmd::TimeBack);
    }
    let (a3, _) = s.cursor.expect("cursor").window();
    assert_eq!(a3, r0, "never before the capture");
    for _ in 0..10 {
        cmd(&mut s, Cmd::Narrow);
    }
    assert_eq!(
        s.cursor.expect("cursor").width_ns,
        crate::model::edge::BUCKET_NS
    );
    for _ in 0..10 {
        cmd(&mut s, Cmd::Widen);
    }
    assert_eq!(s.cursor.expect("cursor").window(), (r0, r1 + 1));
    let mut live = live();
    assert_eq!(cmd(&mut live, Cmd::TimeBack), None, "no cursor live");
    assert!(s.timeline.is_some());
}

#[test]
fn findings_open_their_cited_trace() {
    let mut store = testkit::fixture_store(90);
    let mut snap = store.snapshot(None);
    let id = hex::encode(snap.traces[5].trace_id());
    snap.findings = Arc::from(vec![crate::model::finding::Finding {
        rule: "TMO-001".into(),
        detector: "missing-timeout".into(),
        severity: crate::model::finding::Severity::Error,
        outcome: crate::model::finding::Outcome::Finding,
        caller: Some("checkout".into()),
        dependency: Some("inventory".into()),
        service: None,
        message: "no timeout".into(),
        evidence: vec![],
        trace_ids: vec![id],
        window: (0, 0),
        samples: 1,
        remediation: String::new(),
    }]);
    let mut s = UiState::new(Mode::Live, Sources::default(), Arc::new(snap));
    cmd(&mut s, Cmd::Tab(3));
    cmd(&mut s, Cmd::Enter);
    assert!(matches!(s.screen(), Screen::Waterfall(_)));
}

fn live_with_alerts() -> UiState {
    let mut s = live();
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(testkit::fixture_alerts());
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    s
}

#[test]
fn a_opens_the_alerts_and_enter_or_e_the_alerts_dependency() {
    let mut s = live_with_alerts();
    cmd(&mut s, Cmd::Alerts);
    assert_eq!(s.screen(), &Screen::Alerts);
    assert_eq!(
        &*s.selected_alert().expect("a selection").alert,
        "DependencyBreakerOpen"
    );
    for key in [Cmd::Enter, Cmd::JumpToEdge] {
        cmd(&mut s, key);
        let Screen::Detail(edge) = s.screen().clone() else {
            panic!("{key:?} opens the detail, not {:?}", s.screen())
        };
        assert_eq!((&*edge.caller, &*edge.dependency), ("checkout", "payments"));
        assert!(s.detail_dep().is_some(), "the fixture has payments calls");
        cmd(&mut s, Cmd::Back);
        assert_eq!(s.screen(), &Screen::Alerts, "esc comes back to the alerts");
    }
    cmd(&mut s, Cmd::Down);
    cmd(&mut s, Cmd::Enter);
    let Screen::Detail(edge) = s.screen().clone() else {
        panic!("detail")
    };
    assert_eq!(&*edge.dependency, "inventory");
    // Tab cycles through the alerts; `t` and `e` mean nothing elsewhere.
    cmd(&mut s, Cmd::Tab(1));
    cmd(&mut s, Cmd::AlertTraces);
    assert_eq!(s.screen(), &Screen::Dependencies);
}

#[test]
fn the_selected_alert_is_followed_across_boards() {
    let mut s = live_with_alerts();
    cmd(&mut s, Cmd::Alerts);
    cmd(&mut s, Cmd::Down);
    let chosen = s.selected_alert().expect("selected").clone();
    let mut board = testkit::fixture_alerts();
    let mut states = board.states.to_vec();
    states.reverse();
    board.states = Arc::from(states);
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(board);
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    assert_eq!(s.selected_alert().map(|a| &a.alert), Some(&chosen.alert));
    // A board without it keeps the selection in range.
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(Default::default());
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    assert!(s.selected_alert().is_none());
    assert_eq!(s.alerts.nav.selected, 0);
}

#[test]
fn t_opens_the_alerts_exemplar_traces_failed_calls_first() {
    let mut s = live_with_alerts();
    cmd(&mut s, Cmd::Alerts);
    let alert = s.selected_alert().expect("breaker alert").clone();
    let found = crate::tui::alerts::exemplars(&s.snapshot, &alert);
    assert!(found.len() > 1, "several traces call payments: {found:?}");
    let first = s.snapshot.traces.find(&found[0].0).expect("retained");
    let call = first
        .spans
        .iter()
        .find(|sp| sp.span_id == found[0].1)
        .expect("the call's span");
    assert!(call.is_error(), "failed calls come first");
    cmd(&mut s, Cmd::AlertTraces);
    assert_eq!(s.screen(), &Screen::Traces, "several: the traces list");
    assert!(s.traces.filter.starts_with("id="), "{}", s.traces.filter);
    assert_eq!(s.trace_rows.len(), found.len(), "exactly those traces");
    // An alert whose edge has no retained call: its dependency, with a message.
    let mut board = testkit::fixture_alerts();
    let mut states = board.states.to_vec();
    states[0].dependency = "nowhere".into();
    board.states = Arc::from(states);
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(board);
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    cmd(&mut s, Cmd::Alerts);
    cmd(&mut s, Cmd::Top);
    cmd(&mut s, Cmd::AlertTraces);
    assert!(matches!(s.screen(), Screen::Detail(_)));
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("no retained trace")),
        "{:?}",
        s.message
    );
}

#[test]
fn one_exemplar_opens_at_its_call() {
    let mut s = live_with_alerts();
    let wide = s.alert_board().states[0].clone();
    // Narrow the alert's time to one call's start (from = to - 1): only calls starting at that
    // nanosecond are its exemplars.
    let narrowed = |start: u64| {
        let mut a = wide.clone();
        a.active_since_ns = start + crate::tui::alerts::EXEMPLAR_LEAD_NS;
        a.resolved_ns = Some(start);
        a
    };
    let start_of = |(t, span): (crate::model::span::TraceId, crate::model::span::SpanId)| {
        let t = s.snapshot.traces.find(&t).expect("trace");
        t.spans
            .iter()
            .find(|x| x.span_id == span)
            .expect("span")
            .start_ns
    };
    let alone = crate::tui::alerts::exemplars(&s.snapshot, &wide)
        .into_iter()
        .map(|c| narrowed(start_of(c)))
        .find(|a| crate::tui::alerts::exemplars(&s.snapshot, a).len() == 1)
        .expect("a call alone at its trace's start");
    let mut board = testkit::fixture_alerts();
    let mut states = board.states.to_vec();
    states[0] = alone;
    board.states = Arc::from(states);
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(board);
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    cmd(&mut s, Cmd::Alerts);
    cmd(&mut s, Cmd::AlertTraces);
    assert!(
        matches!(s.screen(), Screen::Waterfall(_)),
        "{:?}",
        s.screen()
    );
    let w = s.waterfall.as_ref().expect("waterfall");
    assert!(w.details, "the call's span is selected with its panel");
}
/// The fixture during the incident with log records: an ERROR record of span 4 (checkout's call
/// to inventory) of trace 171, an INFO record of that trace without a span id, a record without
/// a trace, and one of a trace never received.
pub(crate) fn with_logs() -> UiState {
    let mut store = testkit::fixture_store(90);
    let t = T0 + 170 * 250 * testkit::MS;
    store.apply_logs(
        vec![
            testkit::log("checkout", t + 3 * testkit::MS, 17, "stock lookup failed")
                .of(171, 4)
                .attr("exception.type", "TimeoutError")
                .build(),
            testkit::log("frontend", t + testkit::MS, 9, "checkout begins")
                .of(171, 0)
                .build(),
            testkit::log("checkout", t + 2 * testkit::MS, 13, "cache cold").build(),
            testkit::log("checkout", t + 4 * testkit::MS, 9, "orphan")
                .of(999_999, 1)
                .build(),
        ],
        T0,
    );
    let snap = store.snapshot_window(T0 + 40 * SEC, T0 + 50 * SEC);
    UiState::new(Mode::Live, Sources::default(), Arc::new(snap))
}

#[test]
fn logs_view_filters_and_jumps_to_the_span() {
    let mut s = with_logs();
    cmd(&mut s, Cmd::Logs);
    assert_eq!(s.screen(), &Screen::Logs);
    let bodies =
        |s: &UiState| -> Vec<String> { s.logs.rows.iter().map(|r| r.body.to_string()).collect() };
    assert_eq!(
        bodies(&s),
        [
            "orphan",
            "stock lookup failed",
            "cache cold",
            "checkout begins"
        ],
        "newest first"
    );
    // Severity: x toggles sev=error.
    cmd(&mut s, Cmd::ErrorsOnly);
    assert_eq!(s.logs.filter, "sev=error");
    assert_eq!(bodies(&s), ["stock lookup failed"]);
    // e opens the trace with the record's span selected and its panel open.
    cmd(&mut s, Cmd::JumpToEdge);
    let w = s.waterfall.as_ref().expect("waterfall open");
    let t = w.trace.as_ref().expect("trace retained");
    let span = &t.spans[w.selected_span().expect("a span selected")];
    assert_eq!(span.span_id, 4u64.to_be_bytes());
    assert!(w.details);
    assert!(span.is_error(), "the ERROR record marks its span");
    cmd(&mut s, Cmd::Back);
    assert_eq!(s.screen(), &Screen::Logs);
    cmd(&mut s, Cmd::ErrorsOnly);
    // Text and service filters through `/`.
    cmd(&mut s, Cmd::Filter);
    type_text(&mut s, "service=check COLD");
    update(&mut s, Action::Submit);
    assert_eq!(bodies(&s), ["cache cold"]);
    cmd(&mut s, Cmd::Enter);
    assert_eq!(s.screen(), &Screen::Logs);
    assert_eq!(
        s.message.as_deref(),
        Some("this record is not tied to a trace")
    );
    cmd(&mut s, Cmd::Back);
    assert!(s.logs.filter.is_empty(), "esc clears the filter");
    // A record of a trace with no span received.
    cmd(&mut s, Cmd::Top);
    cmd(&mut s, Cmd::JumpToEdge);
    assert_eq!(
        s.message.as_deref(),
        Some("this record's trace has no retained span")
    );
    // A record without a span id opens its trace.
    cmd(&mut s, Cmd::Bottom);
    cmd(&mut s, Cmd::Enter);
    assert!(matches!(s.screen(), Screen::Waterfall(_)));
    assert_eq!(
        s.message.as_deref(),
        Some("this record has no span id; showing its trace")
    );
}
