//! The schema of `rules/*.toml`, checked field by field so that every problem is reported once,
//! naming the file, the rule id and the field.
//!
//! ```toml
//! [[rule]]
//! id = "TMO-001"                   # unique across the rule set
//! detector = "missing-timeout"     # a built-in algorithm (`faultline rules list`)
//! severity = "warning"             # info | warning | error
//! title = "Missing client timeout" # one line
//! enabled = true                   # optional, default true
//! message = "{detail}"             # optional template: {caller} {dependency} {service} {operation} {detail} {rule}
//! remediation = "Set a client timeout near the p99.9 latency"
//! [rule.params]                    # detector parameters; unknown names are errors
//! hard_floor = "30s"
//! [rule.scope]                     # globs; an empty or absent list matches everything
//! caller = ["checkout*"]
//! dependency = ["*"]
//! kind = ["http", "rpc"]           # http | rpc | db | messaging | other
//! operation = ["GET *"]
//! service = ["*"]                  # for findings about a service rather than an edge
//! [[rule.allow]]                   # silence named subjects, with a reason
//! caller = "reports"
//! dependency = "export-api"
//! reason = "nightly export runs long by design"
//! ```

use std::fmt;

use crate::model::finding::Severity;

use super::params::describe;
use super::toml_fields::{
    Errs, find_line, glob_list, opt_str, parse_toml, req_str, unknown, valid_name,
};

/// One problem in a rule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The file (as given, or `builtin:NAME` for the embedded set).
    pub file: String,
    /// The rule id, when known.
    pub rule: Option<String>,
    /// The field, e.g. `params.hard_floor` or `scope.caller[1]`; empty for file-level problems.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(r) = &self.rule {
            write!(f, "rule {r}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Scope selectors (globs). Empty lists match everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeSpec {
    /// Calling service of an edge.
    pub caller: Vec<String>,
    /// Dependency of an edge.
    pub dependency: Vec<String>,
    /// Dependency kinds.
    pub kind: Vec<String>,
    /// Operations.
    pub operation: Vec<String>,
    /// Services (for service findings).
    pub service: Vec<String>,
}

/// One `[[rule.allow]]` entry: silences matching findings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllowSpec {
    /// Caller glob.
    pub caller: Option<String>,
    /// Dependency glob.
    pub dependency: Option<String>,
    /// Service glob.
    pub service: Option<String>,
    /// Operation glob.
    pub operation: Option<String>,
    /// Why this is allowed (required).
    pub reason: String,
}

/// One rule as written.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    /// Rule id.
    pub id: String,
    /// Detector name.
    pub detector: String,
    /// Severity.
    pub severity: Severity,
    /// One-line title.
    pub title: String,
    /// Whether the rule runs.
    pub enabled: bool,
    /// Message template (`None`: the detector's message).
    pub message: Option<String>,
    /// How to fix.
    pub remediation: String,
    /// Detector parameters as written.
    pub params: toml::Table,
    /// Scope.
    pub scope: ScopeSpec,
    /// Allow entries.
    pub allow: Vec<AllowSpec>,
    /// File it came from.
    pub file: String,
    /// 1-based line of its `id` in the file (for SARIF locations).
    pub line: usize,
}

const RULE_FIELDS: &[&str] = &[
    "id",
    "detector",
    "severity",
    "title",
    "enabled",
    "message",
    "remediation",
    "params",
    "scope",
    "allow",
];
const SCOPE_FIELDS: &[&str] = &["caller", "dependency", "kind", "operation", "service"];
const ALLOW_FIELDS: &[&str] = &["caller", "dependency", "service", "operation", "reason"];

/// Parses one rule file. Returns the rules that parsed cleanly and appends every problem to
/// `errors`.
pub fn parse_file(file: &str, text: &str, errors: &mut Vec<RuleError>) -> Vec<RuleSpec> {
    let Some(table) = parse_toml(file, text, errors) else {
        return Vec::new();
    };
    let mut errs = Errs {
        file,
        rule: None,
        out: errors,
    };
    for k in table.keys() {
        // `[[alert]]` tables are the alert rules (the `alerts` module reads them).
        if k != "rule" && k != "alert" {
            errs.push(
                k.clone(),
                "unknown top-level key; rule files hold [[rule]] and [[alert]] tables",
            );
        }
    }
    let rules = match table.get("rule") {
        None if table.contains_key("alert") => return Vec::new(),
        None => {
            errs.push("rule", "no [[rule]] or [[alert]] table in the file");
            return Vec::new();
        }
        Some(toml::Value::Array(a)) => a,
        Some(other) => {
            errs.push(
                "rule",
                format!("expected [[rule]] tables, got {}", describe(other)),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let Some(t) = r.as_table() else {
            errs.push(format!("rule[{i}]"), "expected a table");
            continue;
        };
        if let Some(spec) = parse_rule(i, t, text, &mut errs) {
            out.push(spec);
        }
    }
    out
}

fn parse_rule(i: usize, t: &toml::Table, text: &str, errs: &mut Errs<'_>) -> Option<RuleSpec> {
    errs.rule = None;
    let id = match t.get("id") {
        Some(toml::Value::String(s)) if valid_name(s) => Some(s.clone()),
        Some(toml::Value::String(s)) => {
            errs.rule = Some(format!("#{}", i + 1));
            errs.push(
                "id",
                format!("\"{s}\" is not a valid id (letters, digits, '-', '_', '.')"),
            );
            None
        }
        Some(other) => {
            errs.rule = Some(format!("#{}", i + 1));
            errs.push("id", format!("expected a string, got {}", describe(other)));
            None
        }
        None => {
            errs.rule = Some(format!("#{}", i + 1));
            errs.push("id", "missing required field");
            None
        }
    };
    if let Some(id) = &id {
        errs.rule = Some(id.clone());
    }
    for k in t.keys() {
        if !RULE_FIELDS.contains(&k.as_str()) {
            errs.push(k.clone(), unknown(RULE_FIELDS));
        }
    }
    let detector = req_str(t, "detector", errs);
    let severity = match t.get("severity") {
        None => {
            errs.push("severity", "missing required field");
            None
        }
        Some(toml::Value::String(s)) => match Severity::parse(s) {
            Some(sev) => Some(sev),
            None => {
                errs.push(
                    "severity",
                    format!("expected info, warning or error, got \"{s}\""),
                );
                None
            }
        },
        Some(other) => {
            errs.push(
                "severity",
                format!("expected info, warning or error, got {}", describe(other)),
            );
            None
        }
    };
    let title = opt_str(t, "title", true, errs).unwrap_or_default();
    let enabled = match t.get("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            errs.push(
                "enabled",
                format!("expected true or false, got {}", describe(other)),
            );
            true
        }
    };
    let message = opt_str(t, "message", true, errs);
    let remediation = req_str(t, "remediation", errs);
    let params = match t.get("params") {
        None => toml::Table::new(),
        Some(toml::Value::Table(p)) => p.clone(),
        Some(other) => {
            errs.push(
                "params",
                format!("expected a table, got {}", describe(other)),
            );
            toml::Table::new()
        }
    };
    let scope = parse_scope(t.get("scope"), errs);
    let allow = parse_allow(t.get("allow"), errs);
    // Parts that are wrong are reported above; a rule whose required fields are usable is still
    // compiled so that its other problems are reported too (the set fails as a whole).
    let id = id?;
    let line = find_line(text, "id", &id);
    Some(RuleSpec {
        id,
        detector: detector?,
        severity: severity?,
        title,
        enabled,
        message,
        remediation: remediation?,
        params,
        scope,
        allow,
        file: errs.file.to_string(),
        line,
    })
}

fn parse_scope(v: Option<&toml::Value>, errs: &mut Errs<'_>) -> ScopeSpec {
    let mut s = ScopeSpec::default();
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
            "operation" => &mut s.operation,
            "service" => &mut s.service,
            _ => {
                errs.push(format!("scope.{k}"), unknown(SCOPE_FIELDS));
                continue;
            }
        };
        glob_list(k, v, target, errs);
    }
    s
}

fn parse_allow(v: Option<&toml::Value>, errs: &mut Errs<'_>) -> Vec<AllowSpec> {
    let Some(v) = v else { return Vec::new() };
    let Some(items) = v.as_array() else {
        errs.push(
            "allow",
            format!("expected [[rule.allow]] tables, got {}", describe(v)),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let field = |f: &str| format!("allow[{j}].{f}");
        let Some(t) = item.as_table() else {
            errs.push(
                format!("allow[{j}]"),
                format!("expected a table, got {}", describe(item)),
            );
            continue;
        };
        let mut a = AllowSpec::default();
        let mut ok = true;
        for (k, v) in t {
            let target = match k.as_str() {
                "caller" => &mut a.caller,
                "dependency" => &mut a.dependency,
                "service" => &mut a.service,
                "operation" => &mut a.operation,
                "reason" => {
                    match v.as_str() {
                        Some(r) => a.reason = r.to_string(),
                        None => {
                            errs.push(field(k), format!("expected a string, got {}", describe(v)));
                            ok = false;
                        }
                    }
                    continue;
                }
                _ => {
                    errs.push(field(k), unknown(ALLOW_FIELDS));
                    ok = false;
                    continue;
                }
            };
            match v.as_str() {
                Some(g) => *target = Some(g.to_string()),
                None => {
                    errs.push(field(k), format!("expected a string, got {}", describe(v)));
                    ok = false;
                }
            }
        }
        if a.reason.trim().is_empty() && !t.contains_key("reason") {
            errs.push(
                field("reason"),
                "missing required field: say why this is allowed",
            );
            ok = false;
        } else if a.reason.trim().is_empty() && ok {
            errs.push(
                field("reason"),
                "must not be empty: say why this is allowed",
            );
            ok = false;
        }
        if a.caller.is_none()
            && a.dependency.is_none()
            && a.service.is_none()
            && a.operation.is_none()
            && ok
        {
            errs.push(
                format!("allow[{j}]"),
                "names nothing: give caller, dependency, service or operation",
            );
            ok = false;
        }
        if ok {
            out.push(a);
        }
    }
    out
}
