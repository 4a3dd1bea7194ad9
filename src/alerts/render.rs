//! `faultline alerts` output: an aligned text table or a JSON array, one row per time an alert
//! fired, with the fields `alert, severity, caller, dependency, state, from, to, value,
//! threshold` (JSON adds `pending_since`, `peak`, `summary`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::expr::format_num;
use super::replay::{Interval, Review};

/// Unix nanoseconds as RFC 3339 UTC (seconds; evaluation instants are whole seconds).
pub fn time(ns: u64) -> String {
    DateTime::<Utc>::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
        .map_or_else(
            || ns.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), format_num)
}

/// The text table, with a summary line.
pub fn text(r: &Review, origin: &str) -> String {
    let mut out = String::new();
    if r.steps == 0 {
        out.push_str("no data in the capture: nothing evaluated\n");
        return out;
    }
    out.push_str(&format!(
        "{} alert rules from {origin}, evaluated every 10s from {} to {} ({} evaluations)\n",
        r.rules,
        time(r.span.0),
        time(r.span.1),
        r.steps
    ));
    if r.intervals.is_empty() {
        out.push_str("no alert fired\n");
    } else {
        let head = [
            "alert",
            "severity",
            "caller",
            "dependency",
            "state",
            "from",
            "to",
            "value",
            "threshold",
        ];
        let rows: Vec<[String; 9]> = r.intervals.iter().map(row).collect();
        let mut width = head.map(str::len);
        for row in &rows {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut l = String::new();
            for (i, (c, w)) in cells.iter().zip(width).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    l.push_str(c);
                    l.push_str(&" ".repeat(w - c.chars().count() + 2));
                }
            }
            l.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&head.map(String::from)));
        for row in &rows {
            out.push_str(&line(row));
        }
        let firing = r.intervals.iter().filter(|i| i.to_ns.is_none()).count();
        out.push_str(&format!(
            "{} fired, {} resolved, {} still firing at the end\n",
            r.intervals.len(),
            r.intervals.len() - firing,
            firing
        ));
    }
    if r.eval_errors > 0 {
        out.push_str(&format!(
            "{} evaluations could not be decided (a number was unknown) and counted as not holding\n",
            r.eval_errors
        ));
    }
    out
}

fn row(i: &Interval) -> [String; 9] {
    [
        i.alert.clone(),
        i.severity.as_str().into(),
        i.caller.clone(),
        i.dependency.clone(),
        i.status.as_str().into(),
        time(i.from_ns),
        i.to_ns.map_or_else(|| "-".into(), time),
        num(i.value),
        num(i.threshold),
    ]
}

/// The JSON array.
pub fn json(r: &Review) -> String {
    let rows: Vec<Value> = r
        .intervals
        .iter()
        .map(|i| {
            json!({
                "alert": i.alert,
                "severity": i.severity.as_str(),
                "caller": i.caller,
                "dependency": i.dependency,
                "state": i.status.as_str(),
                "pending_since": time(i.pending_ns),
                "from": time(i.from_ns),
                "to": i.to_ns.map(time),
                "value": i.value,
                "threshold": i.threshold,
                "peak": i.peak,
                "summary": i.summary,
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into()) + "\n"
}
