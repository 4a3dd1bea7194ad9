//! The frame: header, the current screen, the review timeline strip, and the footer.
//!
//! ```text
//! ┌ header: mode · alert banner · receivers ● · spans/s · samples/s · refused · dropped … ┐
//! │ tabs: 1 Dependencies  2 Traces  3 Findings (n)  4 Logs  a Alerts (n)  sort / filter  │
//! ├────────────────────────────────────────────────────────────────────────────────────┤
//! │ body: dependencies | traces | findings | logs | alerts | detail | waterfall        │
//! ├ (review) timeline strip: error %, breaker marks, alert marks, the cursor window ────┤
//! └ footer: key hints for this screen, the filter being typed, or a message ───────────┘
//! ```
//! Views read the snapshot and the UI state only; `render` returns the mouse regions it drew.

pub mod alerts;
pub mod cache;
pub mod compare;
pub mod deps;
pub mod detail;
pub mod findings;
pub mod header;
pub mod help;
pub mod logs;
pub mod map;
pub mod map_canvas;
pub mod preview;
pub mod timeline;
pub mod traces;
pub mod waterfall;
pub mod widgets;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{Hits, Screen, UiState};
use super::theme::Theme;

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 60;
/// Smallest usable terminal height.
pub const MIN_HEIGHT: u16 = 15;

/// Draws one frame; returns the regions mouse clicks map to.
pub fn render(f: &mut Frame, s: &UiState, theme: &Theme) -> Hits {
    let area = f.area();
    let mut hits = Hits::default();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, area, theme);
        return hits;
    }
    let strip = match &s.timeline {
        Some(_) => timeline::height(s),
        None => 0,
    };
    let [head, body, tl, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(strip),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(f, head, s, theme, &mut hits);
    match s.screen() {
        Screen::Dependencies => deps::render(f, body, s, theme, &mut hits),
        Screen::Traces => traces::render(f, body, s, theme, &mut hits),
        Screen::Findings => findings::render(f, body, s, theme, &mut hits),
        Screen::Alerts => alerts::render(f, body, s, theme, &mut hits),
        Screen::Logs => logs::render(f, body, s, theme, &mut hits),
        Screen::Detail(_) => detail::render(f, body, s, theme, &mut hits),
        Screen::Waterfall(_) => waterfall::render(f, body, s, theme, &mut hits),
        Screen::Map => map::render(f, body, s, theme, &mut hits),
        Screen::Compare(..) => compare::render(f, body, s, theme, &mut hits),
    }
    if strip > 0 {
        timeline::render(f, tl, s, theme);
    }
    footer(f, foot, s, theme);
    if s.help {
        help::render(f, body, s, theme, &mut hits);
    }
    hits
}

fn too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let msg = format!(
        "faultline needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}. Enlarge it, or press q to quit.",
        area.width, area.height
    );
    f.render_widget(
        Paragraph::new(msg)
            .style(theme.warn)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn footer(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme) {
    let line = if let Some(input) = &s.input {
        Line::from(vec![
            Span::styled("/", theme.accent),
            Span::styled(input.text.clone(), theme.text),
            Span::styled("█", theme.accent),
            Span::styled("   enter keep · esc cancel", theme.dim),
        ])
    } else if let Some(m) = &s.message {
        Line::from(Span::styled(m.clone(), theme.warn))
    } else {
        let hints: &[(&str, &str)] = match s.screen() {
            Screen::Dependencies => &[
                ("enter", "detail"),
                ("/", "filter"),
                ("s S", "sort"),
                ("g", "group"),
                ("t", "trend"),
            ],
            Screen::Traces => &[
                ("enter", "waterfall"),
                ("/", "filter"),
                ("x", "errors only"),
                ("c", "mark / compare"),
            ],
            Screen::Map => &[
                ("↑↓", "service"),
                ("←→", "edge"),
                ("enter", "detail"),
                ("/", "filter"),
                ("m", "table"),
            ],
            Screen::Compare(..) => &[("enter", "open B's trace"), ("esc", "back")],
            Screen::Findings => &[("enter", "open cited traces")],
            Screen::Alerts => &[("enter e", "dependency"), ("t", "exemplar traces")],
            Screen::Logs => &[
                ("e enter", "go to span"),
                ("/", "filter"),
                ("x", "errors only"),
            ],
            Screen::Detail(_) => &[("enter", "open trace"), ("esc", "back")],
            Screen::Waterfall(_) => &[
                ("h l space", "fold"),
                ("enter d", "span details"),
                ("e", "go to dependency"),
                ("esc", "back"),
            ],
        };
        let mut spans = Vec::new();
        for (k, v) in hints.iter().chain(
            [
                ("?", "help"),
                ("p", if s.paused { "resume" } else { "pause" }),
                ("q", "quit"),
            ]
            .iter(),
        ) {
            spans.push(Span::styled(format!(" {k} "), theme.accent));
            spans.push(Span::styled(format!("{v} "), theme.dim));
        }
        if s.mode == super::app::Mode::Review {
            spans.push(Span::styled(" [ ] { } ", theme.accent));
            spans.push(Span::styled("time cursor", theme.dim));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A bordered block with a title, in theme colours.
pub fn block<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> ratatui::widgets::Block<'a> {
    ratatui::widgets::Block::bordered()
        .border_style(theme.dim)
        .title(title)
        .title_style(theme.accent)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
