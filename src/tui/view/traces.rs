//! The traces list: one row per retained trace, newest first, filtered by `/`.
//!
//! ```text
//! ┌ Traces 120 of 360 · filter errors ──────────────────────────────────────────────────┐
//! │ START         ROOT SERVICE  OPERATION          DURATION SPANS ERR TRACE              │
//! │ 12:01:14.250  frontend      GET /checkout         358ms     9   2 0000…0039          │
//! └──────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{block, widgets};
use crate::tui::app::{Hits, UiState};
use crate::tui::theme::Theme;

/// Renders the list into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let snap = &s.snapshot;
    let mut title = format!(" Traces {} of {} ", s.trace_rows.len(), snap.traces.len());
    if let Some(m) = &s.compare.mark {
        let h = hex::encode(m);
        title.push_str(&format!(
            "· A = …{} marked: c on another compares ",
            &h[24..]
        ));
    }
    let b = block(title, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if s.trace_rows.is_empty() {
        let msg = if snap.traces.is_empty() {
            "No traces retained yet."
        } else {
            "No trace matches the filter (esc clears it)."
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    }
    let height = inner.height.saturating_sub(1) as usize;
    let offset = s.traces.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let wide = inner.width >= 100;
    let rows = s
        .trace_rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(ri, &ti)| {
            let t = &snap.traces[ti as usize];
            let (svc, op) = t.root().map_or(("?".into(), "?".into()), |r| {
                (r.service().to_string(), r.name.to_string())
            });
            let err_style = if t.error_count() > 0 {
                theme.bad
            } else {
                theme.dim
            };
            let mut cells = vec![
                Cell::from(Span::styled(widgets::clock_ms(t.start_ns()), theme.dim)),
                Cell::from(svc),
                Cell::from(op),
                Cell::from(format!("{:>8}", widgets::ns(t.duration_ns()))),
                Cell::from(format!("{:>5}", t.spans.len())),
                Cell::from(Span::styled(format!("{:>3}", t.error_count()), err_style)),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(
                    hex::encode(t.trace_id()),
                    theme.dim,
                )));
            }
            let row = Row::new(cells);
            if ri == s.traces.nav.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Length(12),
        Constraint::Fill(1),
        Constraint::Fill(2),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(3),
    ];
    let mut header = vec![
        "START",
        "ROOT SERVICE",
        "OPERATION",
        "DURATION",
        "SPANS",
        "ERR",
    ];
    if wide {
        widths.push(Constraint::Length(32));
        header.push("TRACE");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.accent))
        .column_spacing(1);
    f.render_widget(table, inner);
}
