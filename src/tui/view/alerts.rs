//! The Alerts view (`a`): the alert board — firing first, then pending, then resolved; the worst
//! severity first — and the selected alert's summary, labels, state history and delivery.
//!
//! ```text
//! ┌ Alerts · 1 firing · 0 pending · 1 resolved · 9 rules · evaluated 12:00:40 ─────────────────────┐
//! │ STATE     SEVERITY  ALERT                  CALLER → DEPENDENCY   SINCE     VALUE  THRESH DELIVERY │
//! │ firing    critical  DependencyBreakerOpen  checkout → payments   12:00:20  0.8    –      sent     │
//! │ resolved  warning   DependencyQueueSatur…  checkout → inventory  12:01:10  0.95   0.9    sent     │
//! ├ DependencyBreakerOpen · checkout → payments ─────────────────────────────────────────────────────┤
//! │ checkout → payments: circuit breaker open                                                         │
//! │ labels alertname=DependencyBreakerOpen caller=checkout dependency=payments severity=critical      │
//! │ history                                                                                           │
//! │   12:00:20  firing    value 0.8                                                                   │
//! │ delivery alertmanager http://127.0.0.1:9093/api/v2/alerts: sent 3, failed 0, dropped 0, queued 0  │
//! │ enter e dependency · t exemplar traces                                                            │
//! └───────────────────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//! Below 100 columns the table drops SEVERITY (the state's colour shows it), THRESH and DELIVERY.
//! SINCE is when it entered its state (pending start, firing, resolution). DELIVERY sums the
//! sinks: `sent`, `queued`, `retrying` (a sink's last request failed), `not sent` (pending alerts
//! are never sent), `–` without sinks (and in review: a replay delivers nothing).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{block, widgets};
use crate::model::alert::{AlertBoard, AlertState, AlertStatus};
use crate::tui::app::{Hits, Mode, UiState};
use crate::tui::theme::Theme;

/// Renders the board and the selected alert into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let board = s.alert_board();
    // The list as tall as its rows (header and borders included), at most half the body.
    let rows = (board.states.len() as u16).max(1) + 3;
    let [list, detail] = Layout::vertical([
        Constraint::Length(rows.min(area.height / 2)),
        Constraint::Fill(1),
    ])
    .areas(area);
    let count = |st: AlertStatus| board.states.iter().filter(|a| a.status == st).count();
    let mut title = format!(
        " Alerts · {} firing · {} pending · {} resolved · {} rule{} ",
        count(AlertStatus::Firing),
        count(AlertStatus::Pending),
        count(AlertStatus::Resolved),
        board.rules,
        if board.rules == 1 { "" } else { "s" }
    );
    if s.mode == Mode::Review {
        title.push_str("· replayed over the capture ");
    } else if board.evaluated_ns > 0 {
        title.push_str(&format!(
            "· evaluated {} ",
            widgets::clock(board.evaluated_ns)
        ));
    }
    let b = block(title, theme);
    let inner = b.inner(list);
    f.render_widget(b, list);
    if board.states.is_empty() {
        let msg = match (s.mode, board.evaluated_ns) {
            (Mode::Review, 0) => {
                "No alert fired in this capture (or its alerts are still being replayed).".into()
            }
            (Mode::Review, _) => "No alert fired in this capture.".into(),
            (_, 0) => "The alert rules have not been evaluated yet (every 10 s, once a \
                       bucket has closed)."
                .into(),
            _ => format!(
                "No alert is pending, firing or recently resolved. {} alert rules are evaluated \
                 every 10 s over each dependency.",
                board.rules
            ),
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim)
                .wrap(Wrap { trim: true }),
            inner,
        );
        f.render_widget(block(" History ", theme), detail);
        return;
    }
    table(f, inner, s, board, theme, hits);
    let Some(a) = s.selected_alert() else {
        f.render_widget(block(" History ", theme), detail);
        return;
    };
    let b = block(
        format!(" {} · {} → {} ", a.alert, a.caller, a.dependency),
        theme,
    );
    let inner = b.inner(detail);
    f.render_widget(b, detail);
    f.render_widget(
        Paragraph::new(history(s, board, a, theme)).wrap(Wrap { trim: false }),
        inner,
    );
}

fn table(
    f: &mut Frame,
    inner: Rect,
    s: &UiState,
    board: &AlertBoard,
    theme: &Theme,
    hits: &mut Hits,
) {
    let height = inner.height.saturating_sub(1) as usize;
    let offset = s.alerts.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let wide = inner.width >= 100;
    let rows = board
        .states
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, a)| {
            let mut cells = vec![Cell::from(Span::styled(
                a.status.as_str(),
                status_style(a, theme),
            ))];
            if wide {
                cells.push(Cell::from(Span::styled(
                    a.severity.as_str(),
                    widgets::alert_style(a.severity, theme),
                )));
            }
            cells.extend([
                Cell::from(a.alert.to_string()),
                Cell::from(format!("{} → {}", a.caller, a.dependency)),
                Cell::from(Span::styled(widgets::clock(since(a)), theme.dim)),
                Cell::from(num(a.value)),
            ]);
            if wide {
                cells.push(Cell::from(num(a.threshold)));
                let (label, style) = delivery(s, board, a, theme);
                cells.push(Cell::from(Span::styled(label, style)));
            }
            let row = Row::new(cells);
            if i == s.alerts.nav.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    // Narrow terminals drop severity (the state's colour shows it), threshold and delivery: the
    // panel below has them.
    let (widths, header) = if wide {
        (
            vec![
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(9),
            ],
            vec![
                "STATE",
                "SEVERITY",
                "ALERT",
                "CALLER → DEPENDENCY",
                "SINCE",
                "VALUE",
                "THRESH",
                "DELIVERY",
            ],
        )
    } else {
        (
            vec![
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Fill(1),
                Constraint::Length(8),
                Constraint::Length(7),
            ],
            vec!["STATE", "ALERT", "CALLER → DEPENDENCY", "SINCE", "VALUE"],
        )
    };
    let t = Table::new(rows, widths)
        .header(Row::new(header).style(theme.accent))
        .column_spacing(1);
    f.render_widget(t, inner);
}

/// The detail lines of one alert: summary, labels, value, history, delivery, keys.
fn history(s: &UiState, board: &AlertBoard, a: &AlertState, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(sum) = a.annotation("summary") {
        lines.push(Line::styled(sum.to_string(), theme.text));
    }
    if let Some(d) = a.annotation("description") {
        lines.push(Line::styled(d.to_string(), theme.dim));
    }
    let mut kv = vec![Span::styled("labels ", theme.dim)];
    for (k, v) in a.labels.iter() {
        kv.push(Span::styled(format!("{k}={v} "), theme.text));
    }
    lines.push(Line::from(kv));
    lines.push(Line::from(vec![
        Span::styled("value ", theme.dim),
        Span::styled(num(a.value), theme.text),
        Span::styled("  threshold ", theme.dim),
        Span::styled(num(a.threshold), theme.text),
        Span::styled("  pending since ", theme.dim),
        Span::styled(widgets::clock(a.active_since_ns), theme.text),
    ]));
    lines.push(Line::styled("history", theme.dim));
    // Newest first: the latest changes are the ones that matter when the panel is short.
    for e in a.history.iter().rev() {
        let style = match e.status {
            AlertStatus::Firing => widgets::alert_style(a.severity, theme),
            AlertStatus::Pending => theme.warn,
            AlertStatus::Resolved => theme.ok,
        };
        let mut spans = vec![
            Span::styled(format!("  {}  ", widgets::clock(e.at_ns)), theme.dim),
            Span::styled(format!("{:<9}", e.status.as_str()), style),
        ];
        if let Some(v) = e.value {
            spans.push(Span::styled(format!("value {}", num(Some(v))), theme.text));
        }
        lines.push(Line::from(spans));
    }
    if s.mode == Mode::Review {
        lines.push(Line::styled(
            "replayed from the capture as `faultline alerts` does; nothing was delivered",
            theme.dim,
        ));
    } else if board.delivery.is_empty() {
        lines.push(Line::styled(
            "delivery none (--alertmanager URL / --alert-webhook URL send alerts)",
            theme.dim,
        ));
    }
    for d in board.delivery.iter() {
        let mut spans = vec![
            Span::styled("delivery ", theme.dim),
            Span::styled(
                format!(
                    "{} {}: sent {}, failed {}, dropped {}, queued {}",
                    d.sink, d.url, d.sent, d.failed, d.dropped, d.queued
                ),
                theme.text,
            ),
        ];
        if let Some(e) = &d.last_error {
            spans.push(Span::styled(format!("  last error: {e}"), theme.bad));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::styled("enter e ", theme.accent),
        Span::styled("dependency  ", theme.dim),
        Span::styled("t ", theme.accent),
        Span::styled("exemplar traces (failed, then slowest calls)", theme.dim),
    ]));
    lines
}

/// When the alert entered its current state.
fn since(a: &AlertState) -> u64 {
    match a.status {
        AlertStatus::Pending => a.active_since_ns,
        AlertStatus::Firing => a.fired_ns.unwrap_or(a.active_since_ns),
        AlertStatus::Resolved => a.resolved_ns.unwrap_or(a.active_since_ns),
    }
}

fn status_style(a: &AlertState, theme: &Theme) -> Style {
    match a.status {
        AlertStatus::Firing => widgets::alert_style(a.severity, theme),
        AlertStatus::Pending => theme.warn,
        AlertStatus::Resolved => theme.ok,
    }
}

/// How delivery of this alert is going, summed over the sinks.
fn delivery(
    s: &UiState,
    board: &AlertBoard,
    a: &AlertState,
    theme: &Theme,
) -> (&'static str, Style) {
    let sinks = &board.delivery;
    if s.mode == Mode::Review || sinks.is_empty() {
        (widgets::NONE, theme.dim)
    } else if a.status == AlertStatus::Pending {
        ("not sent", theme.dim)
    } else if sinks.iter().any(|d| d.last_error.is_some()) {
        ("retrying", theme.bad)
    } else if sinks.iter().any(|d| d.queued > 0) || sinks.iter().all(|d| d.sent == 0) {
        ("queued", theme.warn)
    } else {
        ("sent", theme.ok)
    }
}

/// A rule's value: integers plain, ratios with three significant decimals, `–` when unknown.
fn num(v: Option<f64>) -> String {
    let Some(x) = v.filter(|x| x.is_finite()) else {
        return widgets::NONE.into();
    };
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let s = if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
