//! One dependency in detail.
//!
//! ```text
//! ┌ checkout → payments · http · breaker OPEN (inferred from fast-fail errors) since 12:00:40 ─┐
//! │ rps 4.0  err 82%  timeouts 0  retries 0  short-circuited 64%  p50 50µs p95 310ms p99 320ms │
//! ├ Latency p50 p95 p99 ─────────────────────────────┬ Latency histogram ──────────────────────┤
//! │ (chart over the window)                          │ ≤1ms ████████ 120                        │
//! ├ Calls/10s and errors/10s ───────────────────────┼ Breaker · queue ────────────────────────┤
//! │ (chart)                                          │ ▮▮▮▮▮▮▮ state per bucket, transitions   │
//! ├ Recent and slowest calls (enter opens) ──────────┼ Findings ───────────────────────────────┤
//! │ 12:01:14.250  300ms ✗  trace 0000…0039           │ error TMO-001 …                         │
//! └──────────────────────────────────────────────────┴─────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};

use super::{block, widgets};
use crate::analysis::latency;
use crate::model::breaker::{self, BreakerState};
use crate::store::snapshot::EdgeView;
use crate::tui::app::{DetailUi, Hits, UiState};
use crate::tui::theme::Theme;

/// Renders the detail of the open edge into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let Some(d) = &s.detail else { return };
    let mut title = vec![Span::styled(
        format!(" {} → {} ", d.edge.caller, d.edge.dependency),
        theme.accent,
    )];
    let e = d.index.map(|i| &s.snapshot.edges[i]);
    if let Some(e) = e {
        title.push(Span::styled(
            format!("· {} · breaker ", e.series.kind.as_str()),
            theme.dim,
        ));
        let label = match d.breaker.state {
            crate::model::breaker::BreakerState::Unknown => "– (none seen)".to_string(),
            s => s.label(),
        };
        title.push(Span::styled(
            label,
            widgets::breaker_style(d.breaker.state, theme),
        ));
        if d.breaker.inferred() {
            title.push(Span::styled(" (inferred from fast-fail errors)", theme.dim));
        }
        if let Some(since) = d.breaker.since_ns {
            title.push(Span::styled(
                format!(" since {} ", widgets::clock(since)),
                theme.dim,
            ));
        }
    }
    let b = block(Line::from(title), theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(e) = e else {
        f.render_widget(
            Paragraph::new("This dependency has no calls in the current window.").style(theme.dim),
            inner,
        );
        return;
    };
    let [stats, r1, r2, r3] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(4),
        Constraint::Fill(3),
        Constraint::Fill(3),
    ])
    .areas(inner);
    let queue = d.index.and_then(|i| s.facts.get(i)).and_then(|f| f.queue);
    f.render_widget(Paragraph::new(stats_line(e, queue, theme)), stats);
    let split =
        |r: Rect| Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas::<2>(r);
    let [lat, hist] = split(r1);
    let [rps, brk] = split(r2);
    let [calls, finds] = split(r3);
    latency_chart(f, lat, s, e, theme);
    histogram(f, hist, e, theme);
    rate_chart(f, rps, s, e, theme);
    breaker_panel(f, brk, s, d, e, theme);
    calls_list(f, calls, d, theme, hits);
    findings(f, finds, s, d, theme);
}

fn stats_line(e: &EdgeView, queue: Option<(f64, Option<f64>)>, theme: &Theme) -> Line<'static> {
    let s = &e.summary;
    let n = s.stats.calls;
    let mut v = Vec::new();
    let mut kv = |k: &str, val: String| {
        v.push(Span::styled(format!("{k} "), theme.dim));
        v.push(Span::styled(format!("{val}  "), theme.text));
    };
    kv("calls", widgets::count(n));
    kv("rps", widgets::rate(latency::call_rate(&e.series, s)));
    kv("err%", widgets::pct(s.error_ratio(), n));
    kv("timeout%", widgets::pct(s.timeout_ratio(), n));
    kv("retry%", widgets::pct(s.retry_ratio(), n));
    kv("short-circuit%", widgets::pct(s.short_circuit_ratio(), n));
    kv("p50", widgets::ms(s.quantile_ms(0.5)));
    kv("p95", widgets::ms(s.quantile_ms(0.95)));
    kv("p99", widgets::ms(s.quantile_ms(0.99)));
    kv("max", widgets::ms(s.max_ms()));
    kv("queue", widgets::queue(queue));
    Line::from(v)
}

fn secs(at: u64, from: u64) -> f64 {
    at.saturating_sub(from) as f64 / 1e9
}

/// The p50/p95/p99 chart of `e` over the window.
pub fn latency_chart(f: &mut Frame, area: Rect, s: &UiState, e: &EdgeView, theme: &Theme) {
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
pub fn rate_chart(f: &mut Frame, area: Rect, s: &UiState, e: &EdgeView, theme: &Theme) {
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

fn histogram(f: &mut Frame, area: Rect, e: &EdgeView, theme: &Theme) {
    let b = block(" Latency histogram ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let bins = latency::octave_bins(&e.summary.stats.latency);
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

fn breaker_panel(
    f: &mut Frame,
    area: Rect,
    s: &UiState,
    d: &DetailUi,
    e: &EdgeView,
    theme: &Theme,
) {
    let facts_queue = d.index.and_then(|i| s.facts.get(i)).and_then(|f| f.queue);
    let b = block(" Breaker timeline · queue ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let (from, to) = s.snapshot.window;
    let mut lines = Vec::new();
    match breaker::inferred_states(&e.series, from, to) {
        Some(states) => {
            let w = inner.width as usize;
            let strip: Vec<Span> = states[states.len().saturating_sub(w)..]
                .iter()
                .map(|(_, st)| Span::styled(glyph(*st), widgets::breaker_style(*st, theme)))
                .collect();
            lines.push(Line::from(strip));
            for t in d
                .transitions
                .iter()
                .rev()
                .take(inner.height.saturating_sub(3) as usize)
            {
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", widgets::clock(t.at_ns)), theme.dim),
                    Span::styled(t.from.label(), widgets::breaker_style(t.from, theme)),
                    Span::styled(" → ", theme.dim),
                    Span::styled(t.to.label(), widgets::breaker_style(t.to, theme)),
                ]));
            }
        }
        None => lines.push(Line::styled(
            "no breaker seen: no metric source and no fast-fail errors",
            theme.dim,
        )),
    }
    lines.push(Line::styled(
        match facts_queue {
            Some(q) => format!("queue depth: {}", widgets::queue(Some(q))),
            None => "queue depth: – (no queue metric for this edge)".into(),
        },
        theme.dim,
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

/// One cell of a breaker strip.
pub fn glyph(s: BreakerState) -> &'static str {
    match s {
        BreakerState::Open | BreakerState::ForcedOpen => "█",
        BreakerState::HalfOpen => "▄",
        _ => "▁",
    }
}

fn calls_list(f: &mut Frame, area: Rect, d: &DetailUi, theme: &Theme, hits: &mut Hits) {
    let b = block(
        format!(
            " Recent and slowest calls · {} in window (enter opens) ",
            d.calls.total
        ),
        theme,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let all: Vec<(&str, &crate::analysis::traces::EdgeCall)> = d
        .calls
        .recent
        .iter()
        .map(|c| ("recent ", c))
        .chain(d.calls.slowest.iter().map(|c| ("slowest", c)))
        .collect();
    if all.is_empty() {
        f.render_widget(
            Paragraph::new("No retained trace has a call over this edge in the window.")
                .style(theme.dim),
            inner,
        );
        return;
    }
    let height = inner.height as usize;
    let offset = d.nav.visible_offset(height);
    hits.list = Some(inner);
    hits.list_offset = offset;
    let lines: Vec<Line> = all
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (kind, c))| {
            let id = hex::encode(c.trace_id);
            let line = Line::from(vec![
                Span::styled(format!("{kind} "), theme.dim),
                Span::raw(format!("{} ", widgets::clock_ms(c.start_ns))),
                Span::raw(format!("{:>8} ", widgets::ns(c.duration_ns))),
                Span::styled(if c.error { "✗ " } else { "  " }, theme.bad),
                Span::styled(id, theme.dim),
            ]);
            if i == d.nav.selected {
                line.style(theme.selected)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn findings(f: &mut Frame, area: Rect, s: &UiState, d: &DetailUi, theme: &Theme) {
    let b = block(" Findings ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mine: Vec<Line> = s
        .snapshot
        .findings
        .iter()
        .filter(|x| {
            x.caller.as_deref() == Some(&*d.edge.caller)
                && x.dependency.as_deref() == Some(&*d.edge.dependency)
        })
        .map(|x| {
            Line::from(vec![
                Span::styled(
                    format!("{} ", x.severity.as_str()),
                    widgets::severity_style(x.severity, theme),
                ),
                Span::styled(format!("{} ", x.rule), theme.accent),
                Span::raw(x.message.clone()),
            ])
        })
        .collect();
    if mine.is_empty() {
        f.render_widget(
            Paragraph::new("No findings for this dependency.").style(theme.dim),
            inner,
        );
    } else {
        f.render_widget(Paragraph::new(mine).wrap(Wrap { trim: true }), inner);
    }
}
