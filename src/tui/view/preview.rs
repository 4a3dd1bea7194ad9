//! A preview of the selected dependency under the dependencies table, when the table leaves room
//! (few rows): its latency and call charts, breaker strip and queue, without leaving the home
//! screen.
//!
//! ```text
//! ┌ checkout → payments · preview (enter opens the detail) ────────────────────────────┐
//! │┌ Latency p50 p95 p99 (ms) ──────────┐┌ Calls and errors per 10 s ─┐┌ Breaker · queue┐│
//! ││ (chart)                            ││ (chart)                    ││ OPEN ▁▁▁████▄▁ ││
//! ││                                    ││                            ││ queue 7/100    ││
//! │└────────────────────────────────────┘└────────────────────────────┘└───────────────┘│
//! └─────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, detail, widgets};
use crate::tui::app::UiState;
use crate::tui::theme::Theme;

/// Renders the preview of dependency `i` (into `Snapshot::deps`) into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, i: usize, theme: &Theme) {
    let Some(e) = s.snapshot.deps.get(i) else {
        return;
    };
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
    let b = block(" Breaker · queue ", theme);
    let bi = b.inner(brk);
    f.render_widget(b, brk);
    let (from, to) = s.snapshot.window;
    let mut lines = vec![Line::from(widgets::breaker(&e.breaker, theme))];
    lines.push(Line::from(detail::strip(
        e,
        from,
        to,
        bi.width as usize,
        theme,
    )));
    if let Some(since) = e.breaker.since_ns {
        lines.push(Line::styled(
            format!("since {}", widgets::clock(since)),
            theme.dim,
        ));
    }
    let q = e.queue.as_ref();
    lines.push(Line::from(vec![
        Span::styled("queue ", theme.dim),
        Span::styled(
            widgets::queue(q),
            if widgets::queue_full(q) {
                theme.bad
            } else {
                theme.text
            },
        ),
    ]));
    if let Some(u) = e.pool_utilisation {
        lines.push(Line::styled(format!("pool {:.0}%", u * 100.0), theme.text));
    }
    if let Some(n) = e.in_flight {
        lines.push(Line::styled(format!("in flight {n:.0}"), theme.text));
    }
    f.render_widget(Paragraph::new(lines), bi);
}
