//! The review timeline strip: the whole capture, error % per column, breaker marks, alert
//! marks (when the capture's replay fired any), and the time cursor's window highlighted.
//!
//! ```text
//! ┌ Incident 12:00:00 – 12:01:30 · errors ▁▂█ · breaker ▲open ▼closed · alert !fired ✓resolved ─┐
//! │ ▁▁▁▁▁▂▃▇██████▇▃▁▁▁▁▁▁▁                                                              │
//! │      ▲       ▼   (window ═════════)                                                  │
//! │      !━━━━━━━━━━━━━✓                                                                 │
//! └─────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//! The alert row draws each firing interval in its severity's colour (the worst where several
//! overlap), `!` where an alert fired and `✓` where it resolved.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, widgets};
use crate::model::breaker::BreakerState;
use crate::model::edge::BUCKET_NS;
use crate::tui::app::UiState;
use crate::tui::theme::Theme;

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Rows the strip needs: border, errors, breaker marks, (alert marks,) border.
pub fn height(s: &UiState) -> u16 {
    if s.alert_board().states.is_empty() {
        4
    } else {
        5
    }
}

/// Renders the strip into `area` ([`height`] rows).
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme) {
    let Some(tl) = &s.timeline else { return };
    let alerts = &s.alert_board().states;
    let title = format!(
        " Incident {} – {} · error % · ▲ breaker opened ▼ closed{} · window ═ ",
        widgets::clock(tl.range.0),
        widgets::clock(tl.range.1),
        if alerts.is_empty() {
            ""
        } else {
            " · ! alert fired ✓ resolved"
        }
    );
    let b = block(title, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let w = inner.width as usize;
    if w == 0 || inner.height == 0 {
        return;
    }
    let (r0, r1) = (tl.range.0, tl.range.1.max(tl.range.0 + 1));
    let col =
        |t: u64| (((t.saturating_sub(r0)) as f64 / (r1 - r0) as f64) * (w - 1) as f64) as usize;
    let mut err = vec![0.0f64; w];
    let mut worst = vec![BreakerState::Unknown; w];
    // Each bucket covers the columns of its 10 s, so the strip is continuous at any width.
    for p in &tl.points {
        let c0 = col(p.at_ns.max(r0)).min(w - 1);
        let c1 = col((p.at_ns + BUCKET_NS - 1).min(r1)).clamp(c0, w - 1);
        for c in c0..=c1 {
            err[c] = err[c].max(p.error_ratio());
            if p.worst.severity() > worst[c].severity() {
                worst[c] = p.worst;
            }
        }
    }
    let (from, to) = s.cursor.map_or((r0, r1), |c| c.window());
    let (c0, c1) = (col(from.max(r0)), col(to.min(r1)));
    let errs: Vec<Span> = (0..w)
        .map(|i| {
            let level = if err[i] <= 0.0 {
                0
            } else {
                ((err[i] * 8.0).ceil() as usize).clamp(1, 8)
            };
            let mut style = if worst[i].severity() >= BreakerState::HalfOpen.severity() {
                widgets::breaker_style(worst[i], theme)
            } else if err[i] > 0.05 {
                theme.bad
            } else {
                theme.span_bar
            };
            if (c0..=c1).contains(&i) {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Span::styled(BARS[level].to_string(), style)
        })
        .collect();
    let mut marks = vec![' '; w];
    for (_, t) in &tl.transitions {
        let c = col(t.at_ns).min(w - 1);
        marks[c] = match t.to {
            BreakerState::Open | BreakerState::ForcedOpen => '▲',
            BreakerState::Closed => '▼',
            _ if marks[c] == ' ' => '·',
            _ => marks[c],
        };
    }
    for m in marks.iter_mut().take(c1 + 1).skip(c0) {
        if *m == ' ' {
            *m = '═';
        }
    }
    let mark_line: String = marks.into_iter().collect();
    let mut lines = vec![Line::from(errs)];
    if inner.height > 1 {
        lines.push(Line::styled(mark_line, theme.accent));
    }
    if inner.height > 2 && !alerts.is_empty() {
        // Per column: the worst severity firing, and the mark.
        let mut sev = vec![None; w];
        let mut mark = vec![' '; w];
        for a in alerts.iter() {
            for (from, to) in a.firing_intervals() {
                let c0 = col(from.clamp(r0, r1)).min(w - 1);
                let c1 = col(to.unwrap_or(r1).clamp(r0, r1)).clamp(c0, w - 1);
                for c in c0..=c1 {
                    sev[c] = sev[c].max(Some(a.severity));
                    if mark[c] == ' ' {
                        mark[c] = '━';
                    }
                }
                if let Some(to) = to {
                    mark[col(to.clamp(r0, r1)).min(w - 1)] = '✓';
                }
                mark[c0] = '!';
            }
        }
        let spans: Vec<Span> = (0..w)
            .map(|i| {
                let style = sev[i].map_or(theme.dim, |sv| widgets::alert_style(sv, theme));
                Span::styled(mark[i].to_string(), style)
            })
            .collect();
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
