//! View tests: every screen rendered on ratatui's `TestBackend` at two sizes and compared with
//! insta snapshots (text only: `TestBackend`'s `Display` drops styles), plus explicit style
//! assertions where colour carries meaning (breaker states, severities).

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::render;
use crate::model::finding::{Finding, Outcome, Severity};
use crate::testkit::{self, SEC, T0};
use crate::tui::app::{Action, Hits, Mode, Sources, UiState, update};
use crate::tui::keymap::Cmd;
use crate::tui::theme::Theme;

const SIZES: [(u16, u16); 2] = [(120, 36), (80, 24)];

fn finding(sev: Severity, rule: &str, dep: &str, traces: Vec<String>) -> Finding {
    Finding {
        rule: rule.into(),
        detector: "test".into(),
        severity: sev,
        outcome: Outcome::Finding,
        caller: Some("checkout".into()),
        dependency: Some(dep.into()),
        service: Some("checkout".into()),
        message: format!("{rule} fired on checkout → {dep}"),
        evidence: vec![("p99".into(), "1.8s".into())],
        trace_ids: traces,
        window: (T0, T0 + 90 * SEC),
        samples: 360,
        remediation: "set a client timeout".into(),
    }
}

/// The fixture during the payments incident (breaker open by its metric, the inventory queue
/// at 7/100), with two findings.
fn state() -> UiState {
    let mut store = testkit::fixture_store(90);
    testkit::fixture_metrics(&mut store);
    let mut snap = store.snapshot_window(T0 + 40 * SEC, T0 + 50 * SEC);
    let id = hex::encode(snap.traces[170].trace_id());
    snap.findings = Arc::from(vec![
        finding(Severity::Warning, "RTY-001", "shipping", vec![]),
        finding(Severity::Error, "TMO-001", "inventory", vec![id]),
    ]);
    let sources = Sources {
        items: vec![
            ("grpc".into(), "127.0.0.1:4317".into(), true),
            ("http".into(), "127.0.0.1:4318".into(), true),
        ],
    };
    UiState::new(Mode::Live, sources, Arc::new(snap))
}

fn draw(s: &mut UiState, w: u16, h: u16) -> Buffer {
    let theme = Theme::default();
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut hits = Hits::default();
    t.draw(|f| hits = render(f, s, &theme)).expect("draw");
    crate::tui::runner::after_draw(s, hits);
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let w = b.area.width as usize;
    b.content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snap_all(name: &str, mut setup: impl FnMut(&mut UiState)) {
    for (w, h) in SIZES {
        let mut s = state();
        setup(&mut s);
        let b = draw(&mut s, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text(&b));
    }
}

fn key(s: &mut UiState, cmd: Cmd) {
    update(s, Action::Cmd(cmd));
}

#[test]
fn dependencies() {
    snap_all("dependencies", |_| {});
}

#[test]
fn dependencies_grouped_and_filtered() {
    snap_all("dependencies_grouped", |s| {
        key(s, Cmd::Group);
        key(s, Cmd::Filter);
        for c in "kind=http".chars() {
            update(s, Action::Char(c));
        }
        update(s, Action::Submit);
    });
}

#[test]
fn dependency_detail() {
    snap_all("detail", |s| key(s, Cmd::Enter));
}

#[test]
fn traces_list() {
    snap_all("traces", |s| key(s, Cmd::Tab(2)));
}

#[test]
fn waterfall_with_span_panel() {
    snap_all("waterfall", |s| {
        key(s, Cmd::Tab(2));
        key(s, Cmd::Enter);
        key(s, Cmd::Down);
        key(s, Cmd::Details);
    });
}

#[test]
fn findings() {
    snap_all("findings", |s| key(s, Cmd::Tab(3)));
}

#[test]
fn help_overlay() {
    snap_all("help", |s| key(s, Cmd::Help));
}

#[test]
fn review_with_timeline() {
    for (w, h) in SIZES {
        let mut store = testkit::fixture_store(90);
        testkit::fixture_metrics(&mut store);
        let whole = Arc::new(store.snapshot(None));
        let mut s = UiState::review(
            Sources {
                items: vec![("file".into(), "capture.jsonl".into(), true)],
            },
            whole,
        );
        let b = draw(&mut s, w, h);
        insta::assert_snapshot!(format!("review_{w}x{h}"), text(&b));
    }
}

#[test]
fn too_small_terminal_says_so_and_never_panics() {
    let mut s = state();
    let b = draw(&mut s, 40, 10);
    assert!(text(&b).contains("at least"), "{}", text(&b));
    for w in [0u16, 1, 2, 10, 59, 60, 61, 200] {
        for h in [0u16, 1, 3, 14, 15, 16, 60] {
            for tab in 1..=3 {
                let mut s = state();
                key(&mut s, Cmd::Tab(tab));
                key(&mut s, Cmd::Enter);
                key(&mut s, Cmd::Details);
                key(&mut s, Cmd::Help);
                let _ = draw(&mut s, w, h);
            }
            let mut s = state();
            with_alerts(&mut s);
            key(&mut s, Cmd::Alerts);
            let _ = draw(&mut s, w, h);
        }
    }
}

fn find(b: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let w = b.area.width;
    for y in 0..b.area.height {
        let row: String = (0..w).map(|x| b[(x, y)].symbol().to_string()).collect();
        if let Some(pos) = row.find(needle) {
            let x = row[..pos].chars().count() as u16;
            return Some((x, y));
        }
    }
    None
}

#[test]
fn breaker_states_are_coloured() {
    let mut s = state();
    let b = draw(&mut s, 120, 36);
    let (x, y) = find(&b, "OPEN ").expect("an open breaker");
    assert_eq!(b[(x, y)].fg, Color::Red, "OPEN is red");
    assert!(
        find(&b, "OPEN~").is_none(),
        "a breaker metric's state carries no ~:\n{}",
        text(&b)
    );
    // Without metrics the state is inferred from traces; later in the fixture the breaker
    // half-opens and closes.
    let mut store = testkit::fixture_store(90);
    for (from, to, label, colour) in [
        (40, 50, "OPEN~", Color::Red),
        (50, 60, "HALF-OPEN~", Color::Yellow),
        (60, 90, "CLOSED~", Color::Green),
    ] {
        let snap = store.snapshot_window(T0 + from * SEC, T0 + to * SEC);
        let mut s = UiState::new(Mode::Live, Sources::default(), Arc::new(snap));
        let b = draw(&mut s, 120, 36);
        let (x, y) = find(&b, label).unwrap_or_else(|| panic!("{label} in\n{}", text(&b)));
        assert_eq!(b[(x, y)].fg, colour, "{label}");
    }
    let s = crate::tui::view::widgets::breaker(
        &crate::model::breaker::BreakerView {
            state: crate::model::breaker::BreakerState::Ejected {
                ejected: 2,
                total: 5,
            },
            source: crate::model::breaker::BreakerSource::Metric("envoy:x".into()),
            ..Default::default()
        },
        &Theme::default(),
    );
    assert_eq!(s.content, "EJECTED 2/5");
    assert_eq!(s.style.fg, Some(Color::LightMagenta));
}

#[test]
fn severities_are_coloured_and_no_color_drops_colours() {
    let mut s = state();
    key(&mut s, Cmd::Tab(3));
    let b = draw(&mut s, 120, 36);
    let (x, y) = find(&b, "error ").expect("error row");
    assert_eq!(b[(x, y)].fg, Color::Red);
    let (x, y) = find(&b, "warning").expect("warning row");
    assert_eq!(b[(x, y)].fg, Color::Yellow);
    let mono = Theme::default().without_colour();
    let mut t = Terminal::new(TestBackend::new(120, 36)).expect("terminal");
    t.draw(|f| {
        render(f, &s, &mono);
    })
    .expect("draw");
    let buf = t.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
}

#[test]
fn clicking_a_tab_and_a_header_and_a_row() {
    let mut s = state();
    let _ = draw(&mut s, 120, 36);
    let (tab, _) = s.hits.tabs[1];
    update(&mut s, Action::Click(tab.x + 1, tab.y));
    assert_eq!(s.stack[0], crate::tui::app::Screen::Traces);
    key(&mut s, Cmd::Tab(1));
    let _ = draw(&mut s, 120, 36);
    let (row, cols) = s.hits.columns.clone().expect("header");
    let (x0, _, k) = cols
        .iter()
        .find(|c| c.2 == crate::tui::rows::SortKey::P99)
        .copied()
        .expect("p99");
    update(&mut s, Action::Click(x0, row));
    assert_eq!(s.deps.order.sort, k);
    let list = s.hits.list.expect("rows");
    update(&mut s, Action::Click(list.x + 2, list.y + 2));
    assert_eq!(s.deps.nav.selected, 2);
    update(&mut s, Action::Click(list.x + 2, list.y + 2));
    assert!(
        matches!(s.screen(), crate::tui::app::Screen::Detail(_)),
        "second click opens"
    );
}

#[test]
fn detail_shows_the_queue_from_its_gauges_and_how_it_filled() {
    let mut s = state();
    let i = s
        .dep_rows
        .iter()
        .position(|r| {
            matches!(r, crate::tui::rows::DepRow::Edge(i)
                if &*s.snapshot.deps[*i as usize].key.dependency == "inventory")
        })
        .expect("inventory row");
    s.deps.nav.selected = i;
    key(&mut s, Cmd::Enter);
    let b = draw(&mut s, 120, 36);
    let t = text(&b);
    assert!(t.contains("queue 7/100 (gauge)"), "{t}");
    let line = t
        .lines()
        .find(|l| l.contains("queue over the window"))
        .unwrap_or_else(|| panic!("the queue's history:\n{t}"));
    assert!(line.contains('▁'), "rising from the bottom: {line}");
    // The metric breaker's detail names its source and the transition inside the window.
    let mut s = state();
    key(&mut s, Cmd::Enter);
    let t = text(&draw(&mut s, 120, 36));
    assert!(t.contains("source resilience4j:resilience4j_"), "{t}");
    assert!(t.contains("CLOSED → OPEN"), "{t}");
}

/// Installs the fixture's alert board (`testkit::fixture_alerts`) as a new snapshot.
fn with_alerts(s: &mut UiState) {
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(testkit::fixture_alerts());
    update(s, Action::Snapshot(Arc::new(snap)));
}

#[test]
fn alert_banner_in_the_header() {
    snap_all("banner", with_alerts);
}

#[test]
fn alerts_view() {
    snap_all("alerts", |s| {
        with_alerts(s);
        key(s, Cmd::Alerts);
    });
}

#[test]
fn alerts_view_history_of_a_resolved_alert() {
    snap_all("alerts_resolved", |s| {
        with_alerts(s);
        key(s, Cmd::Alerts);
        key(s, Cmd::Bottom);
    });
}

#[test]
fn alerts_view_without_alerts_says_why() {
    let mut s = state();
    key(&mut s, Cmd::Alerts);
    let t = text(&draw(&mut s, 120, 36));
    assert!(t.contains("have not been evaluated yet"), "{t}");
    assert!(!t.contains("FIRING"), "no banner without alerts:\n{t}");
}

#[test]
fn the_banner_takes_the_worst_severity_and_its_colour() {
    use crate::model::alert::{AlertSeverity, AlertStatus};
    let mut s = state();
    with_alerts(&mut s);
    let b = draw(&mut s, 120, 36);
    let (x, y) = find(
        &b,
        "1 ALERT FIRING  DependencyBreakerOpen checkout → payments",
    )
    .unwrap_or_else(|| panic!("banner:\n{}", text(&b)));
    assert_eq!(y, 0, "on the status line");
    assert_eq!(b[(x, y)].fg, Color::Red, "critical is red");
    assert!(
        b[(x, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "reversed, so it reads without colour"
    );
    // Two firing, the worse one named; a warning alone is yellow.
    let mut board = testkit::fixture_alerts();
    let mut states = board.states.to_vec();
    states[1].status = AlertStatus::Firing;
    states[1].fired_ns = Some(T0 + 48 * SEC);
    board.states = Arc::from(states.clone());
    let mut snap = (*s.snapshot).clone();
    snap.alerts = Arc::new(board.clone());
    update(&mut s, Action::Snapshot(Arc::new(snap.clone())));
    let t = text(&draw(&mut s, 120, 36));
    assert!(
        t.contains("2 ALERTS FIRING  DependencyBreakerOpen checkout → payments"),
        "{t}"
    );
    states.remove(0);
    board.states = Arc::from(states);
    snap.alerts = Arc::new(board);
    update(&mut s, Action::Snapshot(Arc::new(snap)));
    let b = draw(&mut s, 120, 36);
    let (x, y) = find(
        &b,
        "1 ALERT FIRING  DependencyLatencyDegraded checkout → inventory",
    )
    .unwrap_or_else(|| panic!("banner:\n{}", text(&b)));
    assert_eq!(b[(x, y)].fg, Color::Yellow, "warning is yellow");
    assert_eq!(
        s.banner_alerts()[0].severity,
        AlertSeverity::Warning,
        "the resolved alert does not count"
    );
}

#[test]
fn review_timeline_marks_alerts_and_the_banner_follows_the_cursor() {
    let mut store = testkit::fixture_store(90);
    testkit::fixture_metrics(&mut store);
    let mut whole = store.snapshot(None);
    whole.alerts = Arc::new(testkit::fixture_alerts());
    let mut s = UiState::review(
        Sources {
            items: vec![("file".into(), "capture.jsonl".into(), true)],
        },
        Arc::new(whole),
    );
    for (w, h) in SIZES {
        let b = draw(&mut s, w, h);
        insta::assert_snapshot!(format!("review_alerts_{w}x{h}"), text(&b));
    }
    let b = draw(&mut s, 120, 36);
    let t = text(&b);
    let row = t
        .lines()
        .find(|l| l.contains('!') && l.contains('✓'))
        .unwrap_or_else(|| panic!("an alert row on the timeline:\n{t}"));
    let (bang, tick) = (
        row.chars().position(|c| c == '!').expect("!"),
        row.chars().position(|c| c == '✓').expect("✓"),
    );
    assert!(
        bang < tick,
        "the queue alert fired before it resolved: {row}"
    );
    // The cursor at the end: the breaker alert fires; moved back into 20–35 s: the queue one.
    assert!(t.contains("1 ALERT FIRING  DependencyBreakerOpen"), "{t}");
    let range = s.cursor.expect("cursor").range;
    crate::tui::update::set_cursor(
        &mut s,
        crate::tui::app::Cursor {
            end_ns: T0 + 30 * SEC,
            width_ns: 10 * SEC,
            range,
        },
    );
    let t = text(&draw(&mut s, 120, 36));
    assert!(
        t.contains("1 ALERT FIRING  DependencyQueueSaturated checkout → inventory"),
        "{t}"
    );
}

#[test]
fn exemplar_traces_filter_leaves_the_tabs_visible() {
    let mut s = state();
    with_alerts(&mut s);
    key(&mut s, Cmd::Alerts);
    key(&mut s, Cmd::AlertTraces);
    assert!(s.traces.filter.len() > 100, "{}", s.traces.filter);
    for (w, h) in SIZES {
        let t = text(&draw(&mut s, w, h));
        let tabs = t.lines().nth(1).unwrap_or_default();
        assert!(
            tabs.contains("2 Traces") && tabs.contains("filter id="),
            "{tabs}"
        );
    }
}
#[test]
fn span_panel_lists_the_span_logs_and_the_logs_view_its_records() {
    let mut s = crate::tui::update::tests::with_logs();
    key(&mut s, Cmd::Logs);
    let b = draw(&mut s, 120, 36);
    let t = text(&b);
    assert!(t.contains(" Logs 4 of 4 "), "{t}");
    assert!(t.contains(" 4 Logs"), "the tab: {t}");
    assert!(t.contains("…00000ab"), "the trace id's last digits: {t}");
    assert!(
        t.contains("stock lookup failed [TimeoutError]"),
        "body with its exception: {t}"
    );
    let (x, y) = find(&b, "ERROR").expect("severity cell");
    assert_eq!(b[(x, y)].fg, Color::Red);
    key(&mut s, Cmd::ErrorsOnly);
    key(&mut s, Cmd::JumpToEdge);
    let t = text(&draw(&mut s, 120, 36));
    assert!(t.contains("Logs (1)"), "{t}");
    assert!(
        t.contains("ERROR stock lookup failed [TimeoutError]"),
        "{t}"
    );
}
