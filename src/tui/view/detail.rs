//! One dependency in detail, all of it from its `DependencyView`.
//!
//! ```text
//! ┌ checkout → payments · http · breaker OPEN since 12:00:40 ──────────────────────────────────┐
//! │ calls 120  rps 4.0  err% 82  timeout% 0  retry% 0  short-circuit% 64  p50 50µs p95 310ms … │
//! ├ Latency p50 p95 p99 ─────────────────────────────┬ Latency histogram ──────────────────────┤
//! │ (chart over the window)                          │ ≤1ms ████████ 120                        │
//! ├ Calls/10s and errors/10s ───────────────────────┼ Breaker · queue · pool ─────────────────┤
//! │ (chart)                                          │ OPEN since 12:00:40 · resilience4j:…     │
//! │                                                  │ ▁▁▁███▄▁ state per bucket                │
//! │                                                  │ queue 7/100 (gauge) · pool 80% · …       │
//! │                                                  │ cache hit 75%  hits 30  misses 10 (…)    │
//! │                                                  │ 12:00:40 CLOSED → OPEN (transitions)     │
//! ├ Recent and slowest calls (enter opens) ──────────┼ Findings ───────────────────────────────┤
//! │ 12:01:14.250  300ms ✗  trace 0000…0039           │ error TMO-001 …                         │
//! └──────────────────────────────────────────────────┴─────────────────────────────────────────┘
//! ```//!
//! The charts (latency, rate, histogram) are drawn by `charts`, the breaker · queue · pool panel
//! by `breaker`; the stats line, the calls list and the findings here.

mod breaker;
mod charts;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, widgets};
use crate::model::breaker::BreakerState;
use crate::model::view::{DependencyView, LatencyFrom};
use crate::tui::app::{DetailUi, Hits, UiState};
use crate::tui::rows;
use crate::tui::theme::Theme;

use breaker::breaker_panel;
pub use breaker::{glyph, strip};
use charts::histogram;
pub use charts::{latency_chart, rate_chart};

/// Renders the detail of the open dependency into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let Some(d) = &s.detail else { return };
    let mut title = vec![Span::styled(
        format!(" {} → {} ", d.edge.caller, d.edge.dependency),
        theme.accent,
    )];
    let e = s.detail_dep();
    if let Some(e) = e {
        title.push(Span::styled(
            format!("· {} · breaker ", e.kind.as_str()),
            theme.dim,
        ));
        let label = match e.breaker.state {
            BreakerState::Unknown => "– (none seen)".to_string(),
            s => s.label(),
        };
        title.push(Span::styled(
            label,
            widgets::breaker_style(e.breaker.state, theme),
        ));
        if e.breaker.inferred() {
            title.push(Span::styled(" (inferred from traces)", theme.dim));
        }
        if let Some(since) = e.breaker.since_ns {
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
            Paragraph::new("Nothing is known of this dependency in the current window.")
                .style(theme.dim),
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
    f.render_widget(Paragraph::new(stats_line(e, theme)), stats);
    let split =
        |r: Rect| Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas::<2>(r);
    let [lat, hist] = split(r1);
    let [rps, brk] = split(r2);
    let [calls, finds] = split(r3);
    latency_chart(f, lat, s, e, theme);
    histogram(f, hist, e, theme);
    rate_chart(f, rps, s, e, theme);
    breaker_panel(f, brk, s, e, theme);
    calls_list(f, calls, d, theme, hits);
    findings(f, finds, s, d, theme);
}

/// The one-line summary under the title: counts, ratios and percentiles.
fn stats_line(e: &DependencyView, theme: &Theme) -> Line<'static> {
    let s = &e.traffic;
    let n = s.stats.calls;
    let mut v = Vec::new();
    let mut kv = |k: &str, val: String| {
        v.push(Span::styled(format!("{k} "), theme.dim));
        v.push(Span::styled(format!("{val}  "), theme.text));
    };
    kv("calls", widgets::count(n));
    if n > 0 {
        kv("rps", widgets::rate(rows::call_rate(e)));
    }
    kv("err%", widgets::pct(s.error_ratio(), n));
    kv("timeout%", widgets::pct_known(e.timeout_ratio(), n));
    kv("retry%", widgets::pct_known(e.retry_ratio(), n));
    kv(
        "short-circuit%",
        widgets::pct_known(e.short_circuit_ratio(), n),
    );
    let l = &e.latency;
    kv("p50", widgets::quantile(l.p50));
    kv("p95", widgets::quantile(l.p95));
    kv("p99", widgets::quantile(l.p99));
    kv("max", widgets::ms(l.max_ms));
    if let Some(LatencyFrom::Metric(src)) = l.source {
        kv("latency from", src.as_str().to_string());
    }
    Line::from(v)
}

/// The recent and slowest calls over the edge (the selectable list).
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

/// The findings about this dependency.
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
