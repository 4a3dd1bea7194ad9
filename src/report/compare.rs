//! `faultline compare`: two traces side by side (`analysis::compare`), as text or JSON.
//!
//! Text: a summary line per trace, the counts of matched, added and missing spans, one row per
//! span of the merged tree (`+` added in B, `-` missing from B, `◆` on B's critical path, `◇` on
//! A's only) with A's and B's total and self time and the deltas, then where the critical path
//! moved. JSON: the [`Comparison`] with durations in nanoseconds and the deltas spelled out.

use serde::Serialize;

use crate::analysis::compare::{Comparison, SpanDiff, delta, duration, path_mark, shift_word};

/// The comparison as text.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    for (tag, t) in [("A", &c.a), ("B", &c.b)] {
        out.push_str(&format!(
            "{tag}  {}  {}  {}  {} spans{}\n",
            t.trace_id,
            duration(t.duration_ns),
            t.root,
            t.spans,
            if t.errors > 0 {
                format!(", {} errors", t.errors)
            } else {
                String::new()
            }
        ));
    }
    out.push_str(&format!(
        "B − A: {} · {} matched · {} added · {} missing\n\n",
        delta(c.duration_delta_ns()),
        c.matched,
        c.added,
        c.missing
    ));
    let name_w = c
        .rows
        .iter()
        .map(|r| r.depth as usize * 2 + r.service.chars().count() + r.name.chars().count() + 2)
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    out.push_str(&format!(
        "    {:<name_w$}  {:>9} {:>9} {:>9}  {:>9} {:>9} {:>9}\n",
        "SPAN", "A TOTAL", "B TOTAL", "Δ TOTAL", "A SELF", "B SELF", "Δ SELF"
    ));
    let opt = |t: &Option<crate::analysis::compare::SpanTimes>,
               f: fn(&crate::analysis::compare::SpanTimes) -> u64| {
        t.as_ref().map_or("–".to_string(), |t| duration(f(t)))
    };
    for r in &c.rows {
        let label = format!("{}{}: {}", "  ".repeat(r.depth as usize), r.service, r.name);
        let label: String = label.chars().take(name_w).collect();
        out.push_str(&format!(
            "{}{} {:<name_w$}  {:>9} {:>9} {:>9}  {:>9} {:>9} {:>9}\n",
            r.presence.mark(),
            path_mark(r),
            label,
            opt(&r.a, |t| t.total_ns),
            opt(&r.b, |t| t.total_ns),
            delta(r.total_delta_ns()),
            opt(&r.a, |t| t.self_ns),
            opt(&r.b, |t| t.self_ns),
            delta(r.self_delta_ns()),
        ));
    }
    out.push_str("\nCritical path moved:\n");
    if c.critical_shifts.is_empty() {
        out.push_str("  (no change)\n");
    }
    for s in &c.critical_shifts {
        out.push_str(&format!(
            "  {:<8} {:>9}  {}\n",
            shift_word(s.shift),
            delta(s.delta_ns),
            s.path
        ));
    }
    out
}

#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a SpanDiff,
    total_delta_ns: i64,
    self_delta_ns: i64,
    critical_delta_ns: i64,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    a: &'a crate::analysis::compare::TraceSide,
    b: &'a crate::analysis::compare::TraceSide,
    duration_delta_ns: i64,
    matched: usize,
    added: usize,
    missing: usize,
    spans: Vec<JsonRow<'a>>,
    critical_shifts: &'a [crate::analysis::compare::PathShift],
}

/// The comparison as pretty JSON.
pub fn render_json(c: &Comparison) -> String {
    let doc = JsonDoc {
        a: &c.a,
        b: &c.b,
        duration_delta_ns: c.duration_delta_ns(),
        matched: c.matched,
        added: c.added,
        missing: c.missing,
        spans: c
            .rows
            .iter()
            .map(|r| JsonRow {
                row: r,
                total_delta_ns: r.total_delta_ns(),
                self_delta_ns: r.self_delta_ns(),
                critical_delta_ns: r.critical_delta_ns(),
            })
            .collect(),
        critical_shifts: &c.critical_shifts,
    };
    // Serializing plain structs of strings and numbers cannot fail.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
