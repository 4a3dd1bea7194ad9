//! Two traces side by side (`c` on the traces list, then `c` on another): the spans of both
//! matched by service and operation path, with A's and B's total and self time and the deltas,
//! then where the critical path moved.
//!
//! ```text
//! ┌ Compare A 4bf9…01 120.0ms  ·  B 8a1c…02 1.52s (+1.40s) · 9 matched · 2 added · 1 missing ┐
//! │    SPAN                              A TOTAL  B TOTAL  Δ TOTAL   A SELF  B SELF  Δ SELF │
//! │  ◆ frontend: GET /checkout            120.0ms    1.52s   +1.40s    2.0ms   3.0ms  +1.0ms │
//! │ +◆   checkout: POST /pay#2                  –  800.0ms +800.0ms        –  10.0ms ...    │
//! │ -    checkout: GET /cart                10.0ms       –  -10.0ms  ...                      │
//! ├ critical path: joined +800.0ms checkout: POST /pay#2 · changed +590ms payments: charge ──┤
//! └──────────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//! `+` added in B, `-` missing from B, `◆` on B's critical path, `◇` on A's only; added rows in
//! the warning colour, missing rows dim, a slower span's delta red and a faster one's green.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::block;
use crate::analysis::compare::{Presence, SpanTimes, delta, duration, path_mark, shift_word};
use crate::tui::app::{Hits, UiState};
use crate::tui::theme::Theme;

/// Renders the comparison into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let Some((a, b, c)) = &s.compare.open else {
        return;
    };
    let Some(c) = c else {
        let bl = block(" Compare ", theme);
        let inner = bl.inner(area);
        f.render_widget(bl, area);
        let msg = format!(
            "Trace {} or {} is no longer retained (esc goes back).",
            hex::encode(a),
            hex::encode(b)
        );
        f.render_widget(Paragraph::new(msg).style(theme.warn), inner);
        return;
    };
    let short = |id: &str| {
        format!(
            "{}…{}",
            &id[..4.min(id.len())],
            &id[id.len().saturating_sub(2)..]
        )
    };
    let title = format!(
        " Compare A {} {} · B {} {} ({}) · {} matched · {} added · {} missing ",
        short(&c.a.trace_id),
        duration(c.a.duration_ns),
        short(&c.b.trace_id),
        duration(c.b.duration_ns),
        delta(c.duration_delta_ns()),
        c.matched,
        c.added,
        c.missing
    );
    let shifts_h = (c.critical_shifts.len().min(3) as u16 + 1).min(area.height / 4);
    let [top, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(shifts_h)]).areas(area);
    let bl = block(title, theme);
    let inner = bl.inner(top);
    f.render_widget(bl, top);
    let height = inner.height.saturating_sub(1) as usize;
    let offset = s.compare.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let wide = inner.width >= 100;
    let t = |v: &Option<SpanTimes>, f: fn(&SpanTimes) -> u64| {
        v.as_ref().map_or("–".to_string(), |x| duration(f(x)))
    };
    let d_style = |d: i64| {
        if d > 0 {
            theme.bad
        } else if d < 0 {
            theme.ok
        } else {
            theme.dim
        }
    };
    let rows = c
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, r)| {
            let name_style = match r.presence {
                Presence::Added => theme.warn,
                Presence::Missing => theme.dim,
                Presence::Matched => theme.text,
            };
            let mut cells = vec![
                Cell::from(Span::styled(
                    format!("{}{}", r.presence.mark(), path_mark(r)),
                    theme.accent,
                )),
                Cell::from(Span::styled(
                    format!(
                        "{}{}: {}",
                        "  ".repeat(r.depth.min(12) as usize),
                        r.service,
                        r.name
                    ),
                    name_style,
                )),
                Cell::from(t(&r.a, |x| x.total_ns)),
                Cell::from(t(&r.b, |x| x.total_ns)),
                Cell::from(Span::styled(
                    delta(r.total_delta_ns()),
                    d_style(r.total_delta_ns()),
                )),
            ];
            if wide {
                cells.push(Cell::from(t(&r.a, |x| x.self_ns)));
                cells.push(Cell::from(t(&r.b, |x| x.self_ns)));
            }
            cells.push(Cell::from(Span::styled(
                delta(r.self_delta_ns()),
                d_style(r.self_delta_ns()),
            )));
            let row = Row::new(cells);
            if i == s.compare.nav.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Min(20),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let mut header = vec!["", "SPAN", "A TOTAL", "B TOTAL", "Δ TOTAL"];
    if wide {
        widths.extend([Constraint::Length(9), Constraint::Length(9)]);
        header.extend(["A SELF", "B SELF"]);
    }
    widths.push(Constraint::Length(9));
    header.push("Δ SELF");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header))
        .column_spacing(1);
    f.render_widget(table, inner);
    let mut lines = vec![Line::from(Span::styled(
        " critical path moved:",
        theme.accent,
    ))];
    if c.critical_shifts.is_empty() {
        lines[0].spans.push(Span::styled(" no change", theme.dim));
    }
    for sh in c
        .critical_shifts
        .iter()
        .take(shifts_h.saturating_sub(1) as usize)
    {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<8}", shift_word(sh.shift)), theme.text),
            Span::styled(format!("{:>9}  ", delta(sh.delta_ns)), d_style(sh.delta_ns)),
            Span::styled(sh.path.clone(), theme.dim),
        ]));
    }
    f.render_widget(Paragraph::new(lines), bottom);
}
