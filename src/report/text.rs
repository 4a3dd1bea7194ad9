//! `faultline report --format text`: an aligned table with the covered time range.

use chrono::{DateTime, Utc};

use super::rows::EdgeRow;

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

/// Formats Unix nanoseconds as an RFC 3339 UTC time.
pub fn time(ns: u64) -> String {
    DateTime::<Utc>::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
        .map_or_else(
            || ns.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        )
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

/// The breaker state; `~` marks a state inferred from traces (no breaker metric).
fn breaker(r: &EdgeRow) -> String {
    match r.breaker_source.as_deref() {
        Some(super::rows::INFERRED) => format!("{}~", r.breaker_detail),
        _ => r.breaker_detail.clone(),
    }
}

/// `7/100` from gauges; an estimate from traces (Little's law) reads `~0.42`.
fn queue(r: &EdgeRow) -> String {
    if r.queue_source.as_deref() == Some("estimated") {
        return r
            .queue_depth
            .map_or_else(|| "-".into(), |d| format!("~{d:.2}"));
    }
    match (r.queue_depth, r.queue_capacity) {
        (None, None) => "-".into(),
        (d, None) => num(d),
        (d, c) => format!("{}/{}", num(d), num(c)),
    }
}

fn latency(r: &EdgeRow, name: &str, v: Option<f64>) -> String {
    let s = ms(v);
    if r.latency_at_least.iter().any(|q| q == name) {
        format!("≥{s}")
    } else {
        s
    }
}

const COLUMNS: usize = 16;

/// Renders the table; `range` is the [from, to) window in Unix nanoseconds. Breaker
/// transitions follow the table, one line each.
pub fn render(rows: &[EdgeRow], range: (u64, u64)) -> String {
    let header = [
        "CALLER",
        "DEPENDENCY",
        "KIND",
        "CALLS",
        "ERRORS",
        "ERR%",
        "RTY%",
        "P50ms",
        "P95ms",
        "P99ms",
        "MAXms",
        "BREAKER",
        "QUEUE",
        "RETRY/s",
        "TMO/s",
        "REJ/s",
    ];
    let cells: Vec<[String; COLUMNS]> = rows
        .iter()
        .map(|r| {
            [
                r.caller.clone(),
                r.dependency.clone(),
                r.kind.clone(),
                r.calls.to_string(),
                r.errors.to_string(),
                format!("{:.1}", r.error_ratio * 100.0),
                r.retry_ratio
                    .map_or_else(|| "-".into(), |x| format!("{:.1}", x * 100.0)),
                latency(r, "p50", r.p50_ms),
                latency(r, "p95", r.p95_ms),
                latency(r, "p99", r.p99_ms),
                ms(r.max_ms),
                breaker(r),
                queue(r),
                num(r.retry_rate),
                num(r.timeout_rate),
                num(r.rejected_rate),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    if range.1 > range.0 {
        out.push_str(&format!("window {} .. {}\n", time(range.0), time(range.1)));
    }
    let line = |cols: &[String]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i < 3 || i == 11 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
                s.push_str("  ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(&header.map(String::from)));
    for row in &cells {
        out.push_str(&line(row));
    }
    if rows.is_empty() {
        out.push_str("(no dependency calls in the window)\n");
    }
    let with_transitions: Vec<&EdgeRow> = rows
        .iter()
        .filter(|r| !r.breaker_transitions.is_empty())
        .collect();
    if !with_transitions.is_empty() {
        out.push_str("\nbreaker transitions\n");
        for r in with_transitions {
            let source = r.breaker_source.as_deref().unwrap_or("-");
            for t in &r.breaker_transitions {
                out.push_str(&format!(
                    "{}  {} -> {}  {} -> {}  ({source})\n",
                    t.at, r.caller, r.dependency, t.from, t.to
                ));
            }
        }
    }
    out.push_str(&super::cache_text::render(rows));
    out
}
