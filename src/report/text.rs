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

/// Renders the table; `range` is the [from, to) window in Unix nanoseconds.
pub fn render(rows: &[EdgeRow], range: (u64, u64)) -> String {
    let header = [
        "CALLER",
        "DEPENDENCY",
        "KIND",
        "CALLS",
        "ERRORS",
        "ERR%",
        "P50ms",
        "P95ms",
        "P99ms",
        "MAXms",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.caller.clone(),
                r.dependency.clone(),
                r.kind.clone(),
                r.calls.to_string(),
                r.errors.to_string(),
                format!("{:.1}", r.error_ratio * 100.0),
                ms(r.p50_ms),
                ms(r.p95_ms),
                ms(r.p99_ms),
                ms(r.max_ms),
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
            if i < 3 {
                s.push_str(&format!("{c:<w$}  "));
            } else {
                s.push_str(&format!("{c:>w$}  "));
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
    out
}
