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
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};

use super::{block, widgets};
use crate::analysis::latency;
use crate::analysis::timeline::bucket_states;
use crate::model::breaker::{BreakerSource, BreakerState};
use crate::model::view::{DependencyView, LatencyFrom};
use crate::tui::app::{DetailUi, Hits, UiState};
use crate::tui::rows;
use crate::tui::theme::Theme;

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

fn histogram(f: &mut Frame, area: Rect, e: &DependencyView, theme: &Theme) {
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

fn breaker_panel(f: &mut Frame, area: Rect, s: &UiState, e: &DependencyView, theme: &Theme) {
    let b = block(" Breaker · queue · pool ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let (from, to) = s.snapshot.window;
    let brk = &e.breaker;
    let mut lines = Vec::new();
    let source = match &brk.source {
        BreakerSource::None => None,
        BreakerSource::Metric(series) => Some(series.to_string()),
        BreakerSource::Traces => Some("traces: inferred from fast-fail errors".to_string()),
    };
    let mut source_line = None;
    match source {
        Some(source) => {
            let mut head = vec![widgets::breaker(brk, theme)];
            if let Some(since) = brk.since_ns {
                head.push(Span::styled(
                    format!(" since {}", widgets::clock(since)),
                    theme.dim,
                ));
            }
            lines.push(Line::from(head));
            lines.push(Line::from(strip(e, from, to, inner.width as usize, theme)));
            source_line = Some(Line::styled(format!("source {source}"), theme.dim));
        }
        None => lines.push(Line::styled(
            "no breaker seen: no breaker metric and no fast-fail errors",
            theme.dim,
        )),
    }
    lines.push(resources_line(e, theme));
    lines.extend(super::cache::line(e, from, to, inner.width as usize, theme));
    if let Some(history) = queue_history(e, inner.width as usize, theme) {
        lines.push(history);
    }
    if let Some(rates) = rates_line(e, theme) {
        lines.push(rates);
    }
    lines.extend(source_line);
    let room = (inner.height as usize).saturating_sub(lines.len());
    for t in brk.transitions.iter().rev().take(room) {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", widgets::clock(t.at_ns)), theme.dim),
            Span::styled(t.from.label(), widgets::breaker_style(t.from, theme)),
            Span::styled(" → ", theme.dim),
            Span::styled(t.to.label(), widgets::breaker_style(t.to, theme)),
        ]));
    }
    // One fact per line, cut at the edge rather than wrapped, so the panel's order (state,
    // strip, queue, rates, source, transitions) survives a small terminal.
    f.render_widget(Paragraph::new(lines), inner);
}

/// The breaker state per bucket of the window, the newest `width` of them.
pub fn strip(
    e: &DependencyView,
    from: u64,
    to: u64,
    width: usize,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let states = bucket_states(e, from, to);
    states[states.len().saturating_sub(width)..]
        .iter()
        .map(|(_, st)| Span::styled(glyph(*st), widgets::breaker_style(*st, theme)))
        .collect()
}

/// Queue (gauge or estimate), pool utilisation and calls in flight.
fn resources_line(e: &DependencyView, theme: &Theme) -> Line<'static> {
    let q = e.queue.as_ref();
    let mut v = vec![
        Span::styled("queue ", theme.dim),
        Span::styled(
            widgets::queue(q),
            if widgets::queue_full(q) {
                theme.bad
            } else {
                theme.text
            },
        ),
        Span::styled(
            match q {
                Some(q) if q.estimated() => " (estimated: rate × latency)",
                Some(_) => " (gauge)",
                None => " (no gauge)",
            },
            theme.dim,
        ),
    ];
    if let Some(u) = e.pool_utilisation {
        v.push(Span::styled("  pool ", theme.dim));
        v.push(Span::styled(
            format!("{:.0}%", u * 100.0),
            if u >= 0.9 { theme.bad } else { theme.text },
        ));
    }
    if let Some(n) = e.in_flight {
        v.push(Span::styled("  in flight ", theme.dim));
        v.push(Span::styled(format!("{n:.0}"), theme.text));
    }
    Line::from(v)
}

/// The queue gauge at each sample of the window, scaled to its capacity: a queue filling toward
/// capacity climbs to a full bar.
fn queue_history(e: &DependencyView, width: usize, theme: &Theme) -> Option<Line<'static>> {
    let depths: Vec<f64> = e.gauges.iter().filter_map(|g| g.queue_depth).collect();
    if depths.len() < 2 {
        return None;
    }
    let cap = e.gauges.iter().rev().find_map(|g| g.queue_capacity);
    const LABEL: &str = "queue over the window ";
    let spark = widgets::sparkline_to(&depths, width.saturating_sub(LABEL.len()), cap);
    Some(Line::from(vec![
        Span::styled(LABEL, theme.dim),
        Span::styled(spark, theme.span_bar),
    ]))
}

/// Counter rates from metrics, when any series maps the dependency.
fn rates_line(e: &DependencyView, theme: &Theme) -> Option<Line<'static>> {
    let r = &e.rates;
    if r.retry.is_none() && r.timeout.is_none() && r.rejected.is_none() {
        return None;
    }
    let mut v = vec![Span::styled("metrics/s", theme.dim)];
    for (k, val) in [
        ("retry", r.retry),
        ("timeout", r.timeout),
        ("rejected", r.rejected),
    ] {
        v.push(Span::styled(format!("  {k} "), theme.dim));
        v.push(Span::styled(
            val.map_or_else(|| widgets::NONE.to_string(), widgets::rate),
            theme.text,
        ));
    }
    Some(Line::from(v))
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
