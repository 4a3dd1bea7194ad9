//! Rendering cost: one full dashboard frame (snapshot → buffer: header, dependencies table with
//! breaker, sparkline and findings columns, footer) over a snapshot with 10,000 edges and 100,000
//! retained traces, against the floor of rendering only a ratatui `Table` of the visible rows
//! (the same cells' numbers formatted from the same snapshot), in the same run.
//!
//! Also measured: installing a new snapshot into the UI state (findings badges, sort and filter
//! of all rows), which happens once per published snapshot (4/s), not per frame.
//!
//! Run: `cargo bench --bench render`. Results: docs/performance.md, "Rendering".

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use faultline::testkit;
use faultline::tui::app::{Hits, Mode, Sources, UiState};
use faultline::tui::rows::DepRow;
use faultline::tui::runner::after_draw;
use faultline::tui::theme::Theme;
use faultline::tui::view::{self, widgets};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Constraint;
use ratatui::widgets::{Block, Row, Table};

const W: u16 = 200;
const H: u16 = 50;

fn baseline_table(s: &UiState, f: &mut ratatui::Frame) {
    let area = f.area();
    let visible = area.height.saturating_sub(3) as usize;
    let rows = s.dep_rows.iter().take(visible).filter_map(|r| match r {
        DepRow::Edge(i) => {
            let e = &s.snapshot.deps[*i as usize];
            let m = &e.traffic;
            let n = m.stats.calls;
            Some(Row::new(vec![
                format!("{} → {}", e.key.caller, e.key.dependency),
                e.kind.as_str().to_string(),
                widgets::rate(m.rate()),
                widgets::pct(m.error_ratio(), n),
                widgets::ms(m.quantile_ms(0.5)),
                widgets::ms(m.quantile_ms(0.95)),
                widgets::ms(m.quantile_ms(0.99)),
                widgets::pct(m.retry_ratio(), n),
                widgets::pct(m.timeout_ratio(), n),
            ]))
        }
        DepRow::Group { .. } => None,
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new([
            "CALLER → DEPENDENCY",
            "KIND",
            "RPS",
            "ERR%",
            "P50",
            "P95",
            "P99",
            "RTY%",
            "TMO%",
        ]))
        .block(Block::bordered());
    f.render_widget(t, area);
}

fn bench(c: &mut Criterion) {
    let snap = Arc::new(testkit::large_snapshot(10_000, 100_000));
    assert_eq!(snap.deps.len(), 10_000);
    assert!(snap.traces.len() >= 100_000);
    let theme = Theme::default();
    let sources = Sources {
        items: vec![
            ("grpc".into(), "127.0.0.1:4317".into(), true),
            ("http".into(), "127.0.0.1:4318".into(), true),
        ],
    };
    let mut state = UiState::new(Mode::Live, sources.clone(), snap.clone());
    let mut term = Terminal::new(TestBackend::new(W, H)).expect("terminal");
    let mut g = c.benchmark_group("render_10k_edges_100k_traces");
    g.sample_size(60);
    g.bench_function("full_frame", |b| {
        b.iter(|| {
            let mut hits = Hits::default();
            term.draw(|f| hits = view::render(f, &state, &theme))
                .expect("draw");
            after_draw(&mut state, black_box(hits));
        })
    });
    g.bench_function("baseline_table_of_visible_rows", |b| {
        b.iter(|| {
            term.draw(|f| baseline_table(&state, f)).expect("draw");
        })
    });
    g.finish();
    let mut g = c.benchmark_group("snapshot_install_10k_edges_100k_traces");
    g.sample_size(10);
    g.bench_function("apply_snapshot", |b| {
        b.iter(|| state.apply_snapshot(black_box(snap.clone())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
