//! Field-by-field reading of rule files, shared by the lint's `[[rule]]` tables
//! ([`super::spec`]) and the alerts' `[[alert]]` tables (the `alerts` module's spec): one collector of
//! [`RuleError`]s, the TOML parse with its line, required and optional strings, glob lists, and
//! the line a rule is written on. Both schemas report problems the same way because they use
//! these.

use super::params::describe;
use super::spec::RuleError;

/// Collects the problems of one file; `rule` names the rule being read, when known.
pub(crate) struct Errs<'a> {
    /// The file, as reported.
    pub file: &'a str,
    /// The rule's id or name, or `#N` before it is known.
    pub rule: Option<String>,
    /// Where problems go.
    pub out: &'a mut Vec<RuleError>,
}

impl Errs<'_> {
    /// Records a problem with `field`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.out.push(RuleError {
            file: self.file.to_string(),
            rule: self.rule.clone(),
            field: field.into(),
            message: message.into(),
        });
    }
}

/// "unknown field; expected one of: …".
pub(crate) fn unknown(known: &[&str]) -> String {
    format!("unknown field; expected one of: {}", known.join(", "))
}

/// Parses a rule file's text, or records "line N: invalid TOML: …" and returns `None`.
pub(crate) fn parse_toml(
    file: &str,
    text: &str,
    errors: &mut Vec<RuleError>,
) -> Option<toml::Table> {
    match text.parse() {
        Ok(t) => Some(t),
        Err(e) => {
            let e: toml::de::Error = e;
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            errors.push(RuleError {
                file: file.to_string(),
                rule: None,
                field: String::new(),
                message: format!("{at}invalid TOML: {}", e.message().trim()),
            });
            None
        }
    }
}

/// Whether `s` is a valid rule id or alert name: 1–64 letters, digits, `-`, `_`, `.`.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The 1-based line where `key = "VALUE"` is written (1 when not found).
pub(crate) fn find_line(text: &str, key: &str, value: &str) -> usize {
    let quoted = format!("\"{value}\"");
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(key) && l.contains(&quoted)
        })
        .map_or(1, |i| i + 1)
}

/// A required, non-blank string field, trimmed.
pub(crate) fn req_str(t: &toml::Table, key: &str, errs: &mut Errs<'_>) -> Option<String> {
    match t.get(key) {
        None => {
            errs.push(key, "missing required field");
            None
        }
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(toml::Value::String(_)) => {
            errs.push(key, "must not be empty");
            None
        }
        Some(other) => {
            errs.push(key, format!("expected a string, got {}", describe(other)));
            None
        }
    }
}

/// An optional string field. A blank one is an error unless `allow_blank` (then it is kept as
/// written).
pub(crate) fn opt_str(
    t: &toml::Table,
    key: &str,
    allow_blank: bool,
    errs: &mut Errs<'_>,
) -> Option<String> {
    match t.get(key) {
        None => None,
        Some(toml::Value::String(s)) if allow_blank => Some(s.clone()),
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(toml::Value::String(_)) => {
            errs.push(key, "must not be empty (leave the field out instead)");
            None
        }
        Some(other) => {
            errs.push(key, format!("expected a string, got {}", describe(other)));
            None
        }
    }
}

/// Appends the globs of `scope.<key>` (a string or an array of strings) to `target`.
pub(crate) fn glob_list(key: &str, v: &toml::Value, target: &mut Vec<String>, errs: &mut Errs<'_>) {
    match v {
        toml::Value::String(one) => target.push(one.clone()),
        toml::Value::Array(a) => {
            for (j, item) in a.iter().enumerate() {
                match item {
                    toml::Value::String(g) => target.push(g.clone()),
                    other => errs.push(
                        format!("scope.{key}[{j}]"),
                        format!("expected a string, got {}", describe(other)),
                    ),
                }
            }
        }
        other => errs.push(
            format!("scope.{key}"),
            format!(
                "expected a string or an array of strings, got {}",
                describe(other)
            ),
        ),
    }
}
