//! `faultline trace`: one trace with its spans as a tree and each span's log records under it,
//! as text (for pasting into an incident document) or JSON (for scripts).
//!
//! [`TraceDoc::of`] builds the document from a retained trace; [`render_text`] and
//! [`render_json`] print it. Spans are ordered by start time under their parent; a span whose
//! parent is missing is a root. Log records of a span are in time order under it; records
//! without a span id, or with a span id not in the trace, are listed after the tree.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::log::LogRecord;
use crate::model::span::{Span, StatusCode};
use crate::store::trace::Trace;

use super::text::time;

/// One log record as `faultline trace` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogLine {
    /// Event time, RFC 3339.
    pub time: String,
    /// Event time, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// Severity as shown (the sender's text, else the OTLP range).
    pub severity: String,
    /// OTLP severity number (0: unspecified).
    pub severity_number: u8,
    /// The body as text.
    pub body: String,
    /// The producing service.
    pub service: String,
    /// The span id (hex), when the record carries one.
    pub span_id: Option<String>,
    /// `exception.type`, for exception records.
    pub exception_type: Option<String>,
    /// `exception.message`, for exception records.
    pub exception_message: Option<String>,
    /// Whether the record is error evidence for its span.
    pub error: bool,
    /// The record's attributes in display form.
    pub attributes: BTreeMap<String, String>,
}

impl LogLine {
    /// The line of `rec`.
    pub fn of(rec: &LogRecord) -> Self {
        let (ty, msg) = rec.exception().unwrap_or((None, None));
        LogLine {
            time: time(rec.time_ns),
            time_unix_nano: rec.time_ns,
            severity: rec.severity_label().to_owned(),
            severity_number: rec.severity,
            body: rec.body.to_string(),
            service: rec.service().to_owned(),
            span_id: rec.span_id.map(hex::encode),
            exception_type: ty.map(str::to_owned),
            exception_message: msg.map(str::to_owned),
            error: rec.is_error(),
            attributes: rec
                .attributes
                .iter()
                .map(|a| (a.key.to_string(), a.value.to_display()))
                .collect(),
        }
    }
}

/// One span and what happened under it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanNode {
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id (hex), empty for a root.
    pub parent_span_id: String,
    /// The producing service.
    pub service: String,
    /// Span name.
    pub name: String,
    /// Span kind (`SERVER`, `CLIENT`, ...).
    pub kind: String,
    /// Start, RFC 3339.
    pub start: String,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// `error` when the span failed (status, HTTP/gRPC code, or an error log record), else the
    /// OTLP status (`ok`, `unset`).
    pub status: String,
    /// The span's log records, in time order.
    pub logs: Vec<LogLine>,
    /// Child spans, by start time.
    pub children: Vec<SpanNode>,
}

/// One trace as `faultline trace` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceDoc {
    /// Trace id (hex).
    pub trace_id: String,
    /// Earliest span start (or record time when there is no span), RFC 3339.
    pub start: String,
    /// From the earliest span start to the latest end, milliseconds.
    pub duration_ms: f64,
    /// Spans in the trace.
    pub span_count: usize,
    /// Spans that failed.
    pub error_count: u32,
    /// Log records in the trace.
    pub log_count: usize,
    /// Root spans (and spans whose parent is missing), by start time.
    pub spans: Vec<SpanNode>,
    /// Records of the trace without a span id, or whose span is not in the trace, in time order.
    pub logs: Vec<LogLine>,
}

impl TraceDoc {
    /// The document of `t`.
    pub fn of(t: &Trace) -> Self {
        let mut order: Vec<usize> = (0..t.spans.len()).collect();
        order.sort_by_key(|&i| (t.spans[i].start_ns, i));
        let mut placed = vec![false; t.spans.len()];
        let mut roots = Vec::new();
        for &i in &order {
            let s = &t.spans[i];
            let parent_here = s.has_parent()
                && s.parent_span_id != s.span_id
                && t.position(&s.parent_span_id).is_some();
            if !parent_here && !placed[i] {
                roots.push(node(t, i, &order, &mut placed));
            }
        }
        // Spans in a parent cycle (no root reaches them) are listed as roots.
        for &i in &order {
            if !placed[i] {
                roots.push(node(t, i, &order, &mut placed));
            }
        }
        let mut logs: Vec<&LogRecord> = t
            .logs
            .iter()
            .filter(|l| l.span_id.is_none_or(|id| t.position(&id).is_none()))
            .collect();
        logs.sort_by_key(|l| l.time_ns);
        let start_ns = if t.spans.is_empty() {
            logs.first().map_or(0, |l| l.time_ns)
        } else {
            t.start_ns()
        };
        TraceDoc {
            trace_id: hex::encode(t.trace_id()),
            start: time(start_ns),
            duration_ms: t.duration_ns() as f64 / 1e6,
            span_count: t.spans.len(),
            error_count: t.error_count(),
            log_count: t.logs.len(),
            spans: roots,
            logs: logs.into_iter().map(LogLine::of).collect(),
        }
    }
}

fn node(t: &Trace, i: usize, order: &[usize], placed: &mut [bool]) -> SpanNode {
    placed[i] = true;
    let s = &t.spans[i];
    let mut children = Vec::new();
    for &j in order {
        let c = &t.spans[j];
        if !placed[j] && c.has_parent() && c.parent_span_id == s.span_id {
            children.push(node(t, j, order, placed));
        }
    }
    SpanNode {
        span_id: hex::encode(s.span_id),
        parent_span_id: if s.has_parent() {
            hex::encode(s.parent_span_id)
        } else {
            String::new()
        },
        service: s.service().to_owned(),
        name: s.name.to_string(),
        kind: s.kind.label().to_owned(),
        start: time(s.start_ns),
        start_unix_nano: s.start_ns,
        duration_ms: s.duration_ns() as f64 / 1e6,
        status: status(s).to_owned(),
        logs: t
            .logs_of(Some(&s.span_id))
            .into_iter()
            .map(LogLine::of)
            .collect(),
        children,
    }
}

fn status(s: &Span) -> &'static str {
    if s.is_error() {
        "error"
    } else if s.status == StatusCode::Ok {
        "ok"
    } else {
        "unset"
    }
}

/// Renders the document as pretty JSON.
pub fn render_json(doc: &TraceDoc) -> String {
    // Plain structs of strings and numbers always serialize; fall back to an empty object.
    serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".into()) + "\n"
}

/// Renders the document as an indented tree: one line per span (service, name, kind, duration,
/// status), its log records under it marked `│`, then the records without a span.
pub fn render_text(doc: &TraceDoc) -> String {
    let mut out = format!(
        "trace {}  {}  {:.1} ms  {} spans, {} errors, {} logs\n",
        doc.trace_id, doc.start, doc.duration_ms, doc.span_count, doc.error_count, doc.log_count
    );
    for n in &doc.spans {
        span_text(n, 0, &mut out);
    }
    if !doc.logs.is_empty() {
        out.push_str("logs without a span:\n");
        for l in &doc.logs {
            log_text(l, "  ", true, &mut out);
        }
    }
    out
}

fn span_text(n: &SpanNode, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    out.push_str(&format!(
        "{pad}{}  {}  {}  {:.1} ms  {}\n",
        n.service, n.name, n.kind, n.duration_ms, n.status
    ));
    for l in &n.logs {
        log_text(l, &format!("{pad}  │ "), false, out);
    }
    for c in &n.children {
        span_text(c, depth + 1, out);
    }
}

fn log_text(l: &LogLine, prefix: &str, with_service: bool, out: &mut String) {
    // Only the time of day: the trace line gives the date.
    let clock = l.time.split_once('T').map_or(l.time.as_str(), |(_, t)| t);
    let mut line = format!("{prefix}{clock} {:<5} ", l.severity);
    if with_service {
        line.push_str(&l.service);
        line.push_str("  ");
    }
    // One line per record: a multi-line body (a traceback) is shown with its breaks escaped.
    line.push_str(&l.body.replace('\n', "⏎ "));
    match (&l.exception_type, &l.exception_message) {
        (Some(t), Some(m)) => line.push_str(&format!("  [{t}: {m}]")),
        (Some(t), None) => line.push_str(&format!("  [{t}]")),
        (None, Some(m)) => line.push_str(&format!("  [{m}]")),
        (None, None) => {}
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use crate::store::{Store, StoreConfig};
    use crate::testkit::{self, MS, T0};

    fn sample() -> std::sync::Arc<Trace> {
        let mut s = Store::new(StoreConfig::replay(100));
        s.apply(
            vec![
                testkit::span(1, 1, 0, "web", "GET /", SpanKind::Server, T0, 20 * MS).build(),
                testkit::span(1, 3, 1, "web", "later", SpanKind::Internal, T0 + 9 * MS, MS).build(),
                testkit::span(1, 2, 1, "web", "POST", SpanKind::Client, T0 + MS, 5 * MS).build(),
            ],
            0,
        );
        s.apply_logs(
            vec![
                testkit::log("web", T0 + 3 * MS, 17, "payment failed")
                    .of(1, 2)
                    .attr("exception.type", "ValueError")
                    .attr("exception.message", "bad card")
                    .build(),
                testkit::log("web", T0 + 2 * MS, 9, "calling\npayments")
                    .of(1, 2)
                    .build(),
                testkit::log("web", T0, 9, "no span").of(1, 0).build(),
            ],
            1,
        );
        let snap = s.snapshot(None);
        snap.traces[0].clone()
    }

    #[test]
    fn spans_nest_by_start_with_their_logs_in_time_order() {
        let doc = TraceDoc::of(&sample());
        assert_eq!(doc.spans.len(), 1);
        let root = &doc.spans[0];
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["POST", "later"]);
        let post = &root.children[0];
        assert_eq!(post.status, "error", "the error record marks the span");
        let bodies: Vec<&str> = post.logs.iter().map(|l| l.body.as_str()).collect();
        assert_eq!(bodies, ["calling\npayments", "payment failed"]);
        assert_eq!(post.logs[1].exception_type.as_deref(), Some("ValueError"));
        assert_eq!(doc.logs.len(), 1);
        assert_eq!(doc.logs[0].body, "no span");
        assert_eq!((doc.span_count, doc.error_count, doc.log_count), (3, 1, 3));
    }

    #[test]
    fn text_is_an_indented_tree() {
        let text = render_text(&TraceDoc::of(&sample()));
        let want = [
            "trace 00000000000000000000000000000001  2025-01-01T12:00:00.000Z  20.0 ms  3 spans, 1 errors, 3 logs",
            "web  GET /  SERVER  20.0 ms  unset",
            "  web  POST  CLIENT  5.0 ms  error",
            "    │ 12:00:00.002Z INFO  calling⏎ payments",
            "    │ 12:00:00.003Z ERROR payment failed  [ValueError: bad card]",
            "  web  later  INTERNAL  1.0 ms  unset",
            "logs without a span:",
            "  12:00:00.000Z INFO  web  no span",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
        let json: serde_json::Value =
            match serde_json::from_str(&render_json(&TraceDoc::of(&sample()))) {
                Ok(v) => v,
                Err(e) => panic!("{e}"),
            };
        assert_eq!(
            json["spans"][0]["children"][0]["logs"][1]["severity_number"],
            17
        );
    }
}
