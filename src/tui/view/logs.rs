//! The Logs view: retained log records, newest first, filtered by `/` (severity, service, trace,
//! text; see `tui::logs`); `e` or enter opens the record's span in its trace's waterfall.
//!
//! ```text
//! ┌ Logs 12 of 340 · filter sev=warn ───────────────────────────────────────────────────┐
//! │ TIME          SEV    SERVICE    TRACE     BODY                                       │
//! │ 12:01:14.250  ERROR  payments   …c80319c  payment declined [ValueError: bad card]    │
//! │ 12:01:14.101  WARN   checkout   —         pool nearly exhausted                      │
//! └──────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{block, widgets};
use crate::model::log::{LogRecord, Severity};
use crate::tui::app::{Hits, UiState};
use crate::tui::theme::Theme;

/// Renders the list into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let ui = &s.logs;
    let capped = if ui.matched > ui.rows.len() {
        format!(" (newest {})", ui.rows.len())
    } else {
        String::new()
    };
    let title = format!(" Logs {} of {}{capped} ", ui.matched, ui.total);
    let b = block(title, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if ui.rows.is_empty() {
        let msg = if ui.total == 0 {
            "No log records retained yet (OTLP logs: /v1/logs, LogsService)."
        } else {
            "No record matches the filter (esc clears it)."
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    }
    let height = inner.height.saturating_sub(1) as usize;
    let offset = ui.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let rows = ui
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(ri, r)| {
            let sev_style = match r.severity_range() {
                Severity::Error | Severity::Fatal => theme.bad,
                Severity::Warn => theme.warn,
                _ => theme.text,
            };
            // The id's last digits: random in W3C and in zero-extended 64-bit ids alike.
            let trace = r.trace_id.map_or_else(
                || "—".to_string(),
                |t| format!("…{}", &hex::encode(t)[25..]),
            );
            let row = Row::new(vec![
                Cell::from(Span::styled(widgets::clock_ms(r.time_ns), theme.dim)),
                Cell::from(Span::styled(r.severity_label().to_string(), sev_style)),
                Cell::from(r.service().to_string()),
                Cell::from(Span::styled(trace, theme.dim)),
                Cell::from(body(r)),
            ]);
            if ri == ui.nav.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let widths = [
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(Row::new(["TIME", "SEV", "SERVICE", "TRACE", "BODY"]).style(theme.accent))
        .column_spacing(1);
    f.render_widget(table, inner);
}

/// The body on one line, with the exception it reports.
fn body(r: &LogRecord) -> String {
    let mut b = r.body.replace('\n', "⏎ ");
    if let Some((ty, msg)) = r.exception() {
        let ex: Vec<&str> = [ty, msg].into_iter().flatten().collect();
        b.push_str(&format!(" [{}]", ex.join(": ")));
    }
    b
}
