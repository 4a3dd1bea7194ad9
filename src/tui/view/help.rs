//! The `?` overlay, generated from the keymap table. Sections fill two columns (one below 70
//! columns), long help wraps under its text; when the lines do not fit the screen (80×24) the
//! overlay scrolls (`j`/`k`, PgUp/PgDn, Home/End, the wheel) and its title says where it is.
//!
//! ```text
//!   ┌ Keys 1–17 of 40 · j k scroll · esc closes ───┐
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
use crate::tui::app::{Hits, UiState};
use crate::tui::keymap::help_sections;
use crate::tui::theme::Theme;

/// Width of the key column (a leading space, the keys, padding).
const KEY_W: usize = 8;
/// Narrowest column.
const MIN_COL_W: u16 = 34;
/// Widest column.
const MAX_COL_W: u16 = 46;

/// `text` cut at spaces into lines of at most `width` characters (a word longer than that is
/// cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        loop {
            let used = cur.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= width {
                if used > 0 {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if used > 0 {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than the line: cut it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// A section: its title, and each binding's keys with its help wrapped into lines.
type Section<'a> = (&'a str, Vec<(&'a str, Vec<String>)>);

/// The overlay's columns of lines for columns `col_w` wide (inside the border).
fn columns(cols: usize, col_w: u16, theme: &Theme) -> Vec<Vec<Line<'static>>> {
    let sections = help_sections();
    let text_w = (col_w as usize).saturating_sub(KEY_W + 1);
    let wrapped: Vec<Section> = sections
        .iter()
        .map(|(title, keys)| {
            let keys = keys.iter().map(|(k, h)| (*k, wrap(h, text_w))).collect();
            (*title, keys)
        })
        .collect();
    let height =
        |keys: &[(&str, Vec<String>)]| keys.iter().map(|(_, l)| l.len()).sum::<usize>() + 2;
    let total: usize = wrapped.iter().map(|(_, k)| height(k)).sum();
    let mut out: Vec<Vec<Line>> = vec![Vec::new(); cols];
    let mut used = 0usize;
    for (title, keys) in wrapped {
        let h = height(&keys);
        // Balance by lines: sections fill the left column up to half of all lines.
        let c = usize::from(cols == 2 && used + h / 2 > total / 2);
        used += h;
        let col = &mut out[c];
        if !col.is_empty() {
            col.push(Line::raw(""));
        }
        col.push(Line::styled(title, theme.accent));
        for (k, lines) in keys {
            for (i, l) in lines.into_iter().enumerate() {
                let key = if i == 0 { k } else { "" };
                col.push(Line::from(vec![
                    Span::styled(format!(" {key:<w$}", w = KEY_W - 1), theme.accent),
                    Span::styled(l, theme.text),
                ]));
            }
        }
    }
    out
}

/// Renders the overlay centred in `area`, scrolled by `s.help_scroll`; records the largest
/// scroll and the page height in `hits`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let cols = if area.width >= 2 * MIN_COL_W + 2 {
        2
    } else {
        1
    };
    let col_w = (area.width.saturating_sub(2) / cols as u16).min(MAX_COL_W);
    let columns = columns(cols, col_w, theme);
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let w = (col_w * cols as u16 + 2).min(area.width);
    let h = (rows + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let page = h.saturating_sub(2).max(1);
    let max = rows.saturating_sub(page);
    let offset = s.help_scroll.min(max);
    hits.help = Some((max, page));
    let title = if max == 0 {
        " Keys (esc closes) ".to_string()
    } else {
        format!(
            " Keys {}–{} of {rows} · j k scroll · esc closes ",
            offset + 1,
            offset + page
        )
    };
    f.render_widget(Clear, r);
    let b = block(title, theme);
    let inner = b.inner(r);
    f.render_widget(b, r);
    for (i, col) in columns.into_iter().enumerate() {
        let cr = Rect {
            x: inner.x + i as u16 * col_w,
            width: col_w.min(inner.width.saturating_sub(i as u16 * col_w)),
            ..inner
        };
        f.render_widget(Paragraph::new(col).scroll((offset, 0)), cr);
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(
            wrap("the alert's dependency (or enter)", 20),
            ["the alert's", "dependency (or", "enter)"]
        );
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
