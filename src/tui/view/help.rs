//! The `?` overlay, generated from the keymap table.
//!
//! ```text
//!   ┌ Keys (esc closes) ───────────────────────────┐
//!   │ Everywhere            Dependencies           │
//!   │  ?      this help      s  sort by next column │
//!   │  …                     …                      │
//!   └───────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::tui::app::UiState;
use crate::tui::keymap::help_sections;
use crate::tui::theme::Theme;

/// Renders the overlay centred in `area`.
pub fn render(f: &mut Frame, area: Rect, _s: &UiState, theme: &Theme) {
    let sections = help_sections();
    let cols = if area.width >= 2 * 34 + 2 { 2 } else { 1 };
    let col_w = (area.width.saturating_sub(2) / cols as u16).min(46);
    let total: usize = sections.iter().map(|(_, k)| k.len() + 2).sum();
    let mut columns: Vec<Vec<Line>> = vec![Vec::new(); cols];
    let mut used = 0usize;
    for (title, keys) in sections.iter() {
        // Balance by lines: sections fill the left column up to half of all lines.
        let c = if cols == 2 && used + (keys.len() + 2) / 2 > total / 2 {
            1
        } else {
            0
        };
        used += keys.len() + 2;
        let col = &mut columns[c];
        if !col.is_empty() {
            col.push(Line::raw(""));
        }
        col.push(Line::styled(*title, theme.accent));
        for (k, h) in keys {
            col.push(Line::from(vec![
                Span::styled(format!(" {k:<7}"), theme.accent),
                Span::styled(h.to_string(), theme.text),
            ]));
        }
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let w = (col_w * cols as u16 + 2).min(area.width);
    let h = (rows + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    let b = block(" Keys (esc closes) ", theme);
    let inner = b.inner(r);
    f.render_widget(b, r);
    for (i, col) in columns.into_iter().enumerate() {
        let cr = Rect {
            x: inner.x + i as u16 * col_w,
            width: col_w.min(inner.width.saturating_sub(i as u16 * col_w)),
            ..inner
        };
        f.render_widget(Paragraph::new(col), cr);
    }
}
