//! One trace as a waterfall: the span tree on the left, time bars on the right, the critical path
//! in its own colour with `◆`, error spans with `✗`; `d`/enter opens the span detail panel, which
//! lists the span's log records in time order before its attributes.
//!
//! ```text
//! ┌ Trace 0000…0039 · 9 spans · 358ms · 2 errors · ◆ critical path ──┬ Span ─────────────────┐
//! │ SPAN                                   DURATION  0      179ms  358ms│ checkout: POST /charge│
//! │ ▾ frontend GET /checkout           ◆    358ms   ████████████████│ CLIENT · ERROR · 300ms│
//! │   ▸ checkout POST /charge        ✗ ◆    300ms        ████████   │ Logs (2)              │
//! │                                                                  │ +3ms ERROR declined   │
//! │                                                                  │ attributes …          │
//! └──────────────────────────────────────────────────────────────────┴───────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, widgets};
use crate::model::log::LogRecord;
use crate::model::span::{Span as ModelSpan, StatusCode};
use crate::store::trace::Trace;
use crate::tui::app::{Hits, UiState, WaterfallUi};
use crate::tui::theme::Theme;

/// Renders the waterfall (and the span panel when open) into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let Some(w) = &s.waterfall else { return };
    let Some(t) = &w.trace else {
        let b = block(" Trace ", theme);
        let inner = b.inner(area);
        f.render_widget(b, area);
        f.render_widget(
            Paragraph::new(
                "This trace is no longer retained (evicted by --retention or --max-spans).",
            )
            .style(theme.dim),
            inner,
        );
        return;
    };
    let (main, side) = if w.details && area.width >= 90 {
        let [a, b] =
            Layout::horizontal([Constraint::Fill(3), Constraint::Length(area.width * 2 / 5)])
                .areas(area);
        (a, Some(b))
    } else {
        (area, None)
    };
    let title = Line::from(vec![
        Span::styled(
            format!(" Trace {} · ", hex::encode(t.trace_id())),
            theme.accent,
        ),
        Span::styled(
            format!(
                "{} spans · {} · ",
                t.spans.len(),
                widgets::ns(t.duration_ns())
            ),
            theme.text,
        ),
        Span::styled(
            format!("{} errors", t.error_count()),
            if t.error_count() > 0 {
                theme.bad
            } else {
                theme.text
            },
        ),
        Span::styled(" · ◆ critical path ", theme.critical),
    ]);
    let b = block(title, theme);
    let inner = b.inner(main);
    f.render_widget(b, main);
    rows(f, inner, w, t, theme, hits);
    if let Some(side) = side {
        panel(f, side, s, w, t, theme);
    }
}

fn rows(f: &mut Frame, inner: Rect, w: &WaterfallUi, t: &Trace, theme: &Theme, hits: &mut Hits) {
    let height = inner.height.saturating_sub(1) as usize;
    let offset = w.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;
    let label_w = (inner.width as usize * 2 / 5).clamp(16, 60);
    let dur_w = 9usize;
    let bar_w = (inner.width as usize)
        .saturating_sub(label_w + dur_w + 2)
        .max(4);
    let (t0, total) = (t.start_ns(), t.duration_ns().max(1));
    let mut lines = Vec::with_capacity(height + 1);
    lines.push(Line::from(vec![
        Span::styled(
            format!("{:<label_w$} {:>dur_w$} ", "SPAN", "DURATION"),
            theme.accent,
        ),
        Span::styled(axis(total, bar_w), theme.dim),
    ]));
    for (ri, &node_ix) in w.visible.iter().enumerate().skip(offset).take(height) {
        let node = &w.tree.nodes[node_ix as usize];
        let span = &t.spans[node.span as usize];
        let critical = w.tree.is_critical(node.span);
        let error = span.is_error();
        let fold = if node.descendants == 0 {
            "  "
        } else if w.collapsed.contains(&span.span_id) {
            "▸ "
        } else {
            "▾ "
        };
        let marks = format!(
            "{}{}",
            if error { "✗" } else { " " },
            if critical { "◆" } else { " " }
        );
        let indent = "  ".repeat((node.depth as usize).min(12));
        let text = format!("{indent}{fold}{} {}", span.service(), span.name);
        let label = widgets::fit(&text, label_w.saturating_sub(3));
        let label = format!("{label:<lw$}{marks} ", lw = label_w - 3);
        let bar_style = if error {
            theme.bad
        } else if critical {
            theme.critical
        } else {
            theme.span_bar
        };
        let mut line = Line::from(vec![
            Span::styled(label, if error { theme.bad } else { theme.text }),
            Span::styled(
                format!("{:>dur_w$} ", widgets::ns(span.duration_ns())),
                theme.dim,
            ),
            Span::styled(bar(span, t0, total, bar_w), bar_style),
        ]);
        if ri == w.nav.selected {
            line = line.style(theme.selected);
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn axis(total: u64, w: usize) -> String {
    let mid = widgets::ns(total / 2);
    let end = widgets::ns(total);
    let left = "0";
    let gap1 = (w / 2).saturating_sub(left.len() + mid.len() / 2);
    let gap2 = w.saturating_sub(left.len() + gap1 + mid.len() + end.len());
    format!("{left}{}{mid}{}{end}", " ".repeat(gap1), " ".repeat(gap2))
}

fn bar(span: &ModelSpan, t0: u64, total: u64, w: usize) -> String {
    let scale = |ns: u64| ((ns.saturating_sub(t0)) as f64 / total as f64 * w as f64) as usize;
    let a = scale(span.start_ns).min(w.saturating_sub(1));
    let b = scale(span.end_ns).clamp(a + 1, w);
    format!("{}{}", " ".repeat(a), "█".repeat(b - a))
}

fn panel(f: &mut Frame, area: Rect, s: &UiState, w: &WaterfallUi, t: &Trace, theme: &Theme) {
    let b = block(" Span (e: go to its dependency) ", theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(ix) = w.selected_span() else { return };
    let span = &t.spans[ix];
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::styled(
        format!("{}: {}", span.service(), span.name),
        theme.accent,
    ));
    let status = match span.status {
        StatusCode::Error => Span::styled("ERROR", theme.bad),
        // An error only by its log records (or HTTP/gRPC code): say so.
        _ if span.is_error() => Span::styled("error", theme.bad),
        StatusCode::Ok => Span::styled("OK", theme.ok),
        StatusCode::Unset => Span::styled("unset", theme.dim),
    };
    lines.push(Line::from(vec![
        Span::raw(format!("{} · ", span.kind.label())),
        status,
        Span::raw(format!(
            " · {} at +{}",
            widgets::ns(span.duration_ns()),
            widgets::ns(span.start_ns.saturating_sub(t.start_ns()))
        )),
    ]));
    let own = w.tree.critical_ns.get(ix).copied().unwrap_or(0);
    if w.tree.is_critical(ix as u32) {
        lines.push(Line::styled(
            format!("◆ on the critical path ({} own)", widgets::ns(own)),
            theme.critical,
        ));
    }
    if let Some(edge) = s.edge_of_span(t, ix) {
        lines.push(Line::styled(
            format!("edge {} → {}", edge.caller, edge.dependency),
            theme.dim,
        ));
    }
    lines.push(Line::styled(
        format!("span {}", hex::encode(span.span_id)),
        theme.dim,
    ));
    if let Some(msg) = span
        .extras
        .as_ref()
        .and_then(|e| e.status_message.as_deref())
    {
        lines.push(Line::styled(format!("status: {msg}"), theme.bad));
    }
    let logs = t.logs_of(Some(&span.span_id));
    if !logs.is_empty() {
        section_owned(&mut lines, format!("Logs ({})", logs.len()), theme);
        for l in logs {
            lines.push(log_line(l, span.start_ns, theme));
        }
    }
    section(&mut lines, "Attributes", theme);
    for kv in span.attributes.iter() {
        lines.push(kv_line(kv.key, &kv.value.to_display(), theme));
    }
    if !span.events().is_empty() {
        section(&mut lines, "Events", theme);
        for e in span.events() {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("+{} ", widgets::ns(e.time_ns.saturating_sub(span.start_ns))),
                    theme.dim,
                ),
                Span::raw(e.name.to_string()),
            ]));
            for kv in e.attributes.iter() {
                lines.push(kv_line(
                    &format!("  {}", kv.key),
                    &kv.value.to_display(),
                    theme,
                ));
            }
        }
    }
    if let Some(links) = span
        .extras
        .as_ref()
        .map(|e| &e.links)
        .filter(|l| !l.is_empty())
    {
        section(&mut lines, "Links", theme);
        for l in links {
            lines.push(Line::raw(format!(
                "{} / {}",
                hex::encode(l.trace_id),
                hex::encode(l.span_id)
            )));
        }
    }
    section(&mut lines, "Resource", theme);
    for kv in span.resource.attributes.iter() {
        lines.push(kv_line(kv.key, &kv.value.to_display(), theme));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// One log record of the span: offset from the span's start, severity, body, exception.
fn log_line(l: &LogRecord, start_ns: u64, theme: &Theme) -> Line<'static> {
    let sev = if l.is_error() { theme.bad } else { theme.text };
    let mut body = l.body.replace('\n', "⏎ ");
    if let Some((ty, msg)) = l.exception() {
        let ex = [ty, msg]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        body.push_str(&format!(" [{ex}]"));
    }
    let offset = match l.time_ns.checked_sub(start_ns) {
        Some(d) => format!("+{} ", widgets::ns(d)),
        None => format!("-{} ", widgets::ns(start_ns - l.time_ns)),
    };
    Line::from(vec![
        Span::styled(offset, theme.dim),
        Span::styled(format!("{:<5} ", l.severity_label()), sev),
        Span::raw(body),
    ])
}

fn section_owned(lines: &mut Vec<Line>, title: String, theme: &Theme) {
    lines.push(Line::raw(""));
    lines.push(Line::styled(title, theme.accent));
}

fn section(lines: &mut Vec<Line>, title: &'static str, theme: &Theme) {
    lines.push(Line::raw(""));
    lines.push(Line::styled(title, theme.accent));
}

fn kv_line(k: &str, v: &str, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k} "), theme.dim),
        Span::raw(v.to_string()),
    ])
}
