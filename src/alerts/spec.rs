//! The schema of alert rules (`[[alert]]` tables in `rules/*.toml`, beside the lint's `[[rule]]`
//! tables), checked field by field so that every problem is reported once, naming the file, the
//! alert and the field (the lint's [`RuleError`]).
//!
//! ```toml
//! [[alert]]
//! name = "DependencyErrorSpike"      # the alertname; unique across the set
//! expr = "error_ratio > 0.1"         # CEL over the dependency's variables (docs/alerts.md)
//! for = "2m"                         # how long expr must hold before firing (default 0s)
//! keep_firing_for = "2m"             # how long it keeps firing after it stops holding (0s)
//! resolve = "error_ratio < 0.05"     # optional: firing clears only when this also holds
//! window = "1m"                      # the window numbers cover (default 1m, whole 10 s buckets)
//! baseline = "45m"                   # the trailing baseline (default 45m)
//! value = "error_ratio"              # optional number shown and sent as {value}
//! threshold = "0.1"                  # optional number shown and sent as {threshold}
//! enabled = true                     # optional
//! [alert.labels]
//! severity = "critical"              # required: info | warning | critical
//! team = "payments"                  # any other labels, sent to Alertmanager
//! [alert.annotations]
//! summary = "{caller} → {dependency}: {value:%} errors"
//! [alert.scope]                      # globs; empty or absent matches everything
//! caller = ["checkout*"]
//! dependency = ["*"]
//! kind = ["http", "rpc"]
//! ```

use std::collections::BTreeMap;

use crate::model::alert::AlertSeverity;
use crate::model::edge::BUCKET_NS;
use crate::rules::RuleError;
use crate::rules::params::describe;
use crate::rules::toml_fields::{
    Errs, find_line, glob_list, opt_str, parse_toml, req_str, unknown, valid_name,
};

/// Scope selectors (globs). Empty lists match everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertScopeSpec {
    /// Calling service.
    pub caller: Vec<String>,
    /// Dependency.
    pub dependency: Vec<String>,
    /// Dependency kinds.
    pub kind: Vec<String>,
}

/// One alert rule as written, with its durations parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSpec {
    /// The alertname.
    pub name: String,
    /// The condition (CEL).
    pub expr: String,
    /// Optional extra condition for clearing a firing alert (CEL).
    pub resolve: Option<String>,
    /// Optional number shown as the value (CEL).
    pub value: Option<String>,
    /// Optional number shown as the threshold (CEL).
    pub threshold: Option<String>,
    /// `for`, ns.
    pub for_ns: u64,
    /// `keep_firing_for`, ns.
    pub keep_firing_for_ns: u64,
    /// `window`, ns (a multiple of the 10 s bucket).
    pub window_ns: u64,
    /// `baseline`, ns.
    pub baseline_ns: u64,
    /// The `severity` label.
    pub severity: AlertSeverity,
    /// Other labels.
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// Scope.
    pub scope: AlertScopeSpec,
    /// Whether the rule runs.
    pub enabled: bool,
    /// The file it came from.
    pub file: String,
    /// 1-based line of its `name` in the file.
    pub line: usize,
}

const FIELDS: &[&str] = &[
    "name",
    "expr",
    "for",
    "keep_firing_for",
    "resolve",
    "window",
    "baseline",
    "value",
    "threshold",
    "enabled",
    "labels",
    "annotations",
    "scope",
];
const SCOPE_FIELDS: &[&str] = &["caller", "dependency", "kind"];
/// Labels faultline sets itself.
pub const RESERVED_LABELS: &[&str] = &["alertname", "caller", "dependency"];

/// Default `window`.
pub const DEFAULT_WINDOW_NS: u64 = 60 * 1_000_000_000;
/// Default `baseline`.
pub const DEFAULT_BASELINE_NS: u64 = 45 * 60 * 1_000_000_000;
/// Longest `baseline` (edge buckets are kept 6 h).
pub const MAX_BASELINE_NS: u64 = 6 * 3600 * 1_000_000_000;

/// Parses the `[[alert]]` tables of one rule file (other top-level keys belong to the lint and
/// are left alone). Returns every alert (fields that were wrong replaced by their defaults, so
/// the rest can be checked too); appends every problem to `errors`.
pub fn parse_file(file: &str, text: &str, errors: &mut Vec<RuleError>) -> Vec<AlertSpec> {
    let Some(table) = parse_toml(file, text, errors) else {
        return Vec::new();
    };
    let mut errs = Errs {
        file,
        rule: None,
        out: errors,
    };
    let items = match table.get("alert") {
        None => return Vec::new(),
        Some(toml::Value::Array(a)) => a,
        Some(other) => {
            errs.push(
                "alert",
                format!("expected [[alert]] tables, got {}", describe(other)),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        errs.rule = Some(format!("#{}", i + 1));
        let Some(t) = item.as_table() else {
            errs.push("", format!("expected a table, got {}", describe(item)));
            continue;
        };
        out.push(parse_alert(t, text, &mut errs));
    }
    out
}

fn parse_alert(t: &toml::Table, text: &str, errs: &mut Errs<'_>) -> AlertSpec {
    let name = match t.get("name") {
        Some(toml::Value::String(s)) if valid_name(s) => Some(s.clone()),
        Some(toml::Value::String(s)) => {
            errs.push(
                "name",
                format!("\"{s}\" is not a valid name (letters, digits, '-', '_', '.'; 64 at most)"),
            );
            None
        }
        Some(other) => {
            errs.push(
                "name",
                format!("expected a string, got {}", describe(other)),
            );
            None
        }
        None => {
            errs.push("name", "missing required field");
            None
        }
    };
    if let Some(n) = &name {
        errs.rule = Some(n.clone());
    }
    for k in t.keys() {
        if !FIELDS.contains(&k.as_str()) {
            errs.push(k.clone(), unknown(FIELDS));
        }
    }
    let expr = req_str(t, "expr", errs);
    let resolve = opt_str(t, "resolve", false, errs);
    let value = opt_str(t, "value", false, errs);
    let threshold = opt_str(t, "threshold", false, errs);
    let for_ns = duration(t, "for", 0, errs);
    let keep_firing_for_ns = duration(t, "keep_firing_for", 0, errs);
    let window_ns = duration(t, "window", DEFAULT_WINDOW_NS, errs).and_then(|w| {
        if w < BUCKET_NS || w % BUCKET_NS != 0 {
            errs.push(
                "window",
                "must be a whole number of 10 s buckets (10s, 30s, 1m, 5m, ...)",
            );
            None
        } else {
            Some(w)
        }
    });
    let baseline_ns = duration(t, "baseline", DEFAULT_BASELINE_NS, errs).and_then(|b| {
        let w = window_ns.unwrap_or(DEFAULT_WINDOW_NS);
        if b < 3 * w {
            errs.push(
                "baseline",
                "must cover at least three windows (its numbers are medians over window-long chunks)",
            );
            None
        } else if b > MAX_BASELINE_NS {
            errs.push("baseline", "must be at most 6h (edge buckets are kept 6 h)");
            None
        } else {
            Some(b)
        }
    });
    let enabled = match t.get("enabled") {
        None => Some(true),
        Some(toml::Value::Boolean(b)) => Some(*b),
        Some(other) => {
            errs.push(
                "enabled",
                format!("expected true or false, got {}", describe(other)),
            );
            None
        }
    };
    let (severity, labels) = parse_labels(t.get("labels"), errs);
    let annotations = string_table(t.get("annotations"), "annotations", errs);
    let scope = parse_scope(t.get("scope"), errs);
    // A field that is wrong is reported above and replaced by its default here, so that the
    // alert is still compiled and its other problems (expressions, templates, globs) are
    // reported too; the set fails as a whole.
    let line = name.as_deref().map_or(1, |n| find_line(text, "name", n));
    AlertSpec {
        name: name.or_else(|| errs.rule.clone()).unwrap_or_default(),
        expr: expr.unwrap_or_default(),
        resolve,
        value,
        threshold,
        for_ns: for_ns.unwrap_or(0),
        keep_firing_for_ns: keep_firing_for_ns.unwrap_or(0),
        window_ns: window_ns.unwrap_or(DEFAULT_WINDOW_NS),
        baseline_ns: baseline_ns.unwrap_or(DEFAULT_BASELINE_NS),
        severity: severity.unwrap_or_default(),
        labels,
        annotations: annotations.unwrap_or_default(),
        scope,
        enabled: enabled.unwrap_or(true),
        file: errs.file.to_string(),
        line,
    }
}

fn valid_label(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A duration field (`"90s"`, `"2m"`, `"1h30m"`); `default` when absent.
fn duration(t: &toml::Table, key: &str, default: u64, errs: &mut Errs<'_>) -> Option<u64> {
    match t.get(key) {
        None => Some(default),
        Some(toml::Value::String(s)) => match humantime::parse_duration(s.trim()) {
            Ok(d) => Some(d.as_nanos().min(u128::from(u64::MAX)) as u64),
            Err(e) => {
                errs.push(
                    key,
                    format!("invalid duration \"{s}\": {e} (e.g. \"90s\", \"2m\")"),
                );
                None
            }
        },
        Some(other) => {
            errs.push(
                key,
                format!(
                    "expected a duration string such as \"2m\", got {}",
                    describe(other)
                ),
            );
            None
        }
    }
}

/// A table of strings (`labels`, `annotations`).
fn string_table(
    v: Option<&toml::Value>,
    field: &str,
    errs: &mut Errs<'_>,
) -> Option<BTreeMap<String, String>> {
    let v = v?;
    let Some(t) = v.as_table() else {
        errs.push(field, format!("expected a table, got {}", describe(v)));
        return None;
    };
    let mut out = BTreeMap::new();
    for (k, v) in t {
        match v.as_str() {
            Some(s) => {
                out.insert(k.clone(), s.to_string());
            }
            None => errs.push(
                format!("{field}.{k}"),
                format!("expected a string, got {}", describe(v)),
            ),
        }
    }
    Some(out)
}

fn parse_labels(
    v: Option<&toml::Value>,
    errs: &mut Errs<'_>,
) -> (Option<AlertSeverity>, BTreeMap<String, String>) {
    if v.is_none() {
        errs.push("labels.severity", "missing required label");
        return (None, BTreeMap::new());
    }
    let Some(mut labels) = string_table(v, "labels", errs) else {
        return (None, BTreeMap::new());
    };
    for k in labels.keys() {
        if RESERVED_LABELS.contains(&k.as_str()) {
            errs.push(
                format!("labels.{k}"),
                "set by faultline itself (alertname, caller, dependency)",
            );
        } else if !valid_label(k) {
            errs.push(
                format!("labels.{k}"),
                "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)",
            );
        }
    }
    labels.retain(|k, _| !RESERVED_LABELS.contains(&k.as_str()) && valid_label(k));
    let severity = match labels.remove("severity") {
        None if v.is_some_and(|v| v.get("severity").is_some()) => None,
        None => {
            errs.push("labels.severity", "missing required label");
            None
        }
        Some(s) => match AlertSeverity::parse(&s) {
            Some(sev) => Some(sev),
            None => {
                errs.push(
                    "labels.severity",
                    format!("expected info, warning or critical, got \"{s}\""),
                );
                None
            }
        },
    };
    (severity, labels)
}

fn parse_scope(v: Option<&toml::Value>, errs: &mut Errs<'_>) -> AlertScopeSpec {
    let mut s = AlertScopeSpec::default();
    let Some(v) = v else { return s };
    let Some(t) = v.as_table() else {
        errs.push("scope", format!("expected a table, got {}", describe(v)));
        return s;
    };
    for (k, v) in t {
        let target = match k.as_str() {
            "caller" => &mut s.caller,
            "dependency" => &mut s.dependency,
            "kind" => &mut s.kind,
            _ => {
                errs.push(format!("scope.{k}"), unknown(SCOPE_FIELDS));
                continue;
            }
        };
        glob_list(k, v, target, errs);
    }
    s
}
