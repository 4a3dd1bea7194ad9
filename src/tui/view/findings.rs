//! Rule findings: severity, rule, subject and message, with the selected finding's evidence.
//!
//! ```text
//! ┌ Findings 2 ───────────────────────────────────────────────────────────────────────┐
//! │ SEV      RULE     SUBJECT                  MESSAGE                                 │
//! │ error    TMO-001  checkout → inventory     calls to inventory have no timeout …   │
//! ├ Evidence ──────────────────────────────────────────────────────────────────────────┤
//! │ p99 1.8s · max 1.8s · samples 360 · traces 0000…0011 0000…0022 (enter opens)       │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{block, widgets};
use crate::model::finding::Outcome;
use crate::tui::app::{Hits, UiState};
use crate::tui::theme::Theme;

/// Renders the findings list and evidence into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let snap = &s.snapshot;
    let [list, ev] = Layout::vertical([Constraint::Fill(2), Constraint::Fill(1)]).areas(area);
    let b = block(format!(" Findings {} ", snap.findings.len()), theme);
    let inner = b.inner(list);
    f.render_widget(b, list);
    if snap.findings.is_empty() {
        f.render_widget(
            Paragraph::new("No findings in this window. Rule results appear here as the rule engine reports them.")
                .style(theme.dim)
                .wrap(Wrap { trim: true }),
            inner,
        );
        f.render_widget(block(" Evidence ", theme), ev);
        return;
    }
    let height = inner.height.saturating_sub(1) as usize;
    let offset = s.findings.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let rows = s
        .finding_rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(ri, &fi)| {
            let fd = &snap.findings[fi as usize];
            let subject = match (&fd.caller, &fd.dependency, &fd.service) {
                (Some(c), Some(d), _) => format!("{c} → {d}"),
                (_, _, Some(svc)) => svc.clone(),
                _ => "–".into(),
            };
            let sev = match fd.outcome {
                Outcome::Finding => fd.severity.as_str().to_string(),
                Outcome::InsufficientData => "no data".into(),
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(
                    sev,
                    widgets::severity_style(fd.severity, theme),
                )),
                Cell::from(fd.rule.clone()),
                Cell::from(subject),
                Cell::from(fd.message.clone()),
            ]);
            if ri == s.findings.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Fill(2),
        ],
    )
    .header(Row::new(["SEV", "RULE", "SUBJECT", "MESSAGE"]).style(theme.accent))
    .column_spacing(1);
    f.render_widget(table, inner);

    let b = block(" Evidence ", theme);
    let ev_inner = b.inner(ev);
    f.render_widget(b, ev);
    let Some(fd) = s
        .finding_rows
        .get(s.findings.selected)
        .map(|&i| &snap.findings[i as usize])
    else {
        return;
    };
    let mut lines = vec![Line::from(fd.message.clone())];
    let mut kv: Vec<Span> = Vec::new();
    for (k, v) in &fd.evidence {
        kv.push(Span::styled(format!("{k} "), theme.dim));
        kv.push(Span::styled(format!("{v}   "), theme.text));
    }
    kv.push(Span::styled(format!("samples {}", fd.samples), theme.dim));
    lines.push(Line::from(kv));
    if !fd.trace_ids.is_empty() {
        let mut t = vec![Span::styled("traces ", theme.dim)];
        for id in &fd.trace_ids {
            t.push(Span::styled(format!("{id} "), theme.accent));
        }
        t.push(Span::styled("(enter opens)", theme.dim));
        lines.push(Line::from(t));
    }
    if !fd.remediation.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("fix ", theme.dim),
            Span::raw(fd.remediation.clone()),
        ]));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), ev_inner);
}
