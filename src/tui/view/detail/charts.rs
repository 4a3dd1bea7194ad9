//! The detail's charts over the window: latency percentiles and calls/errors per bucket (also
//! drawn by the preview), and the latency histogram.
//!
//! ```text
//! ┌ Latency p50 p95 p99 (ms) ─────────────┐ ┌ Latency histogram ─────┐
//! │310ms│p50 p95 p99          ⣀⡠⠔⠊        │ │≤    1ms ████████ 120   │
//! │     │      ⣀⣀⣀⣀⡠⠔⠊⠉                   │ │≤    2ms ██ 30          │
//! │    0│12:00:00               12:05:00  │ │                        │
//! └───────────────────────────────────────┘ └────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};

use crate::analysis::latency;
use crate::model::view::DependencyView;
use crate::tui::app::UiState;
use crate::tui::theme::Theme;
use crate::tui::view::{block, widgets};

/// Seconds from `from` to `at` (the charts' x axis).
fn secs(at: u64, from: u64) -> f64 {
    at.saturating_sub(from) as f64 / 1e9
}

/// The p50/p95/p99 chart of `e` over the window.
pub fn latency_chart(f: &mut Frame, area: Rect, s: &UiState, e: &DependencyView, theme: &Theme) {
    let (from, to) = s.snapshot.window;
    let qs = [0.50, 0.95, 0.99];
    let series: Vec<Vec<(f64, f64)>> = qs
        .iter()
        .map(|&q| {
            latency::per_bucket(&e.series, from, to, |b| latency::bucket_quantile_ms(b, q))
                .into_iter()
                .map(|(at, v)| (secs(at, from), v))
                .collect()
        })
        .collect();
    let max = series.iter().flatten().map(|p| p.1).fold(1.0, f64::max);
    let names = ["p50", "p95", "p99"];
    let sets = series
        .iter()
        .enumerate()
        .map(|(i, pts)| {
            Dataset::default()
                .name(names[i])
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.chart[i])
                .data(pts)
        })
        .collect();
    chart(
        f,
        area,
        " Latency p50 p95 p99 (ms) ",
        sets,
        (from, to),
        max,
        widgets::ms(Some(max)),
        theme,
    );
}

/// The calls and errors chart of `e` over the window.
pub fn rate_chart(f: &mut Frame, area: Rect, s: &UiState, e: &DependencyView, theme: &Theme) {
    let (from, to) = s.snapshot.window;
    let calls: Vec<(f64, f64)> = latency::per_bucket(&e.series, from, to, |b| Some(b.calls as f64))
        .into_iter()
        .map(|(at, v)| (secs(at, from), v))
        .collect();
    let errors: Vec<(f64, f64)> =
        latency::per_bucket(&e.series, from, to, |b| Some(b.errors as f64))
            .into_iter()
            .map(|(at, v)| (secs(at, from), v))
            .collect();
    let max = calls.iter().map(|p| p.1).fold(1.0, f64::max);
    let sets = vec![
        Dataset::default()
            .name("calls")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.chart[0])
            .data(&calls),
        Dataset::default()
            .name("errors")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.bad)
            .data(&errors),
    ];
    chart(
        f,
        area,
        " Calls and errors per 10 s ",
        sets,
        (from, to),
        max,
        format!("{max:.0}"),
        theme,
    );
}

/// A line chart from 0 to `max` over the window `[from, to)`.
#[allow(clippy::too_many_arguments)]
fn chart(
    f: &mut Frame,
    area: Rect,
    title: &'static str,
    sets: Vec<Dataset>,
    (from, to): (u64, u64),
    max: f64,
    max_label: String,
    theme: &Theme,
) {
    let span = secs(to, from).max(1.0);
    let c = Chart::new(sets)
        .block(block(title, theme))
        .legend_position(Some(LegendPosition::TopLeft))
        .x_axis(
            Axis::default()
                .bounds([0.0, span])
                .labels([widgets::clock(from), widgets::clock(to)])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max * 1.05])
                .labels(["0".to_string(), max_label])
                .style(theme.dim),
        );
    f.render_widget(c, area);
}

/// The latency histogram of the window, one octave per row.
pub(super) fn histogram(f: &mut Frame, area: Rect, e: &DependencyView, theme: &Theme) {
    let b = block(" Latency histogram ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let bins = latency::octave_bins(&e.traffic.stats.latency);
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let bar_w = inner.width.saturating_sub(16) as u64;
    // Keep the most populated rows when the panel is short: trim empty tails first.
    let take = inner.height as usize;
    let skip = bins.len().saturating_sub(take);
    let lines: Vec<Line> = bins
        .iter()
        .skip(skip)
        .map(|bin| {
            let n = (bin.count * bar_w).div_ceil(max) as usize;
            Line::from(vec![
                Span::styled(
                    format!("≤{:>7} ", widgets::ms(Some(bin.upper_s * 1e3))),
                    theme.dim,
                ),
                Span::styled("█".repeat(n), theme.span_bar),
                Span::styled(format!(" {}", bin.count), theme.text),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
