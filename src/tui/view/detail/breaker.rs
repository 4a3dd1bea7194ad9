//! The detail's breaker · queue · pool panel: the breaker's state, its strip per bucket and its
//! source, queue/pool/in-flight, the cache line, the queue over the window, metric rates and
//! the transitions, one fact per line.
//!
//! ```text
//! ┌ Breaker · queue · pool ─────────────────────┐
//! │ OPEN since 12:00:40                         │
//! │ ▁▁▁███▄▁                                    │
//! │ queue 7/100 (gauge)  pool 80%  in flight 3  │
//! │ cache hit 75%  hits 30  misses 10 (…)       │
//! │ queue over the window ▁▂▄▆█                 │
//! │ metrics/s  retry 0.5  timeout –  rejected – │
//! │ source resilience4j_circuitbreaker_state    │
//! │ 12:00:40 CLOSED → OPEN                      │
//! └─────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::analysis::timeline::bucket_states;
use crate::model::breaker::{BreakerSource, BreakerState};
use crate::model::view::DependencyView;
use crate::tui::app::UiState;
use crate::tui::theme::Theme;
use crate::tui::view::{block, cache, widgets};

/// Renders the breaker · queue · pool panel of `e` into `area`.
pub(super) fn breaker_panel(
    f: &mut Frame,
    area: Rect,
    s: &UiState,
    e: &DependencyView,
    theme: &Theme,
) {
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
    lines.extend(cache::line(e, from, to, inner.width as usize, theme));
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
