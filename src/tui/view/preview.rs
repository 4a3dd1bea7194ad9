//! A preview of the selected dependency under the dependencies table, when the table leaves room
//! (few edges): its latency and call charts and breaker strip, without leaving the home screen.
//!
//! ```text
//! ┌ checkout → payments · preview (enter opens the detail) ────────────────────────────┐
//! │┌ Latency p50 p95 p99 (ms) ──────────┐┌ Calls and errors per 10 s ─┐┌ Breaker ──────┐│
//! ││ (chart)                            ││ (chart)                    ││ ▁▁▁████▄▁▁     ││
//! │└────────────────────────────────────┘└────────────────────────────┘└───────────────┘│
//! └─────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, detail, widgets};
use crate::model::breaker;
use crate::tui::app::UiState;
use crate::tui::theme::Theme;

/// Renders the preview of edge `i` into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, i: usize, theme: &Theme) {
    let e = &s.snapshot.edges[i];
    let title = format!(
        " {} → {} · preview (enter opens the detail) ",
        e.key.caller, e.key.dependency
    );
    let b = block(title, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [lat, calls, brk] = Layout::horizontal([
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Fill(1),
    ])
    .areas(inner);
    detail::latency_chart(f, lat, s, e, theme);
    detail::rate_chart(f, calls, s, e, theme);
    let b = block(" Breaker ", theme);
    let bi = b.inner(brk);
    f.render_widget(b, brk);
    let (from, to) = s.snapshot.window;
    let status = s
        .facts
        .get(i)
        .map_or(breaker::BreakerView::default(), |f| f.breaker.clone());
    let mut lines = vec![Line::from(widgets::breaker(&status, theme))];
    if let Some(states) = breaker::inferred_states(&e.series, from, to) {
        let w = bi.width as usize;
        lines.push(Line::from(
            states[states.len().saturating_sub(w)..]
                .iter()
                .map(|(_, st)| Span::styled(detail::glyph(*st), widgets::breaker_style(*st, theme)))
                .collect::<Vec<_>>(),
        ));
    }
    if let Some(since) = status.since_ns {
        lines.push(Line::styled(
            format!("since {}", widgets::clock(since)),
            theme.dim,
        ));
    }
    f.render_widget(Paragraph::new(lines), bi);
}
