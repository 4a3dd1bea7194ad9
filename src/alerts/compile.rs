//! Alert specs → runnable alert rules: expressions compiled and checked, scope globs, annotation
//! templates; the built-in set (`rules/alerts.toml`, embedded). Every problem is one
//! [`RuleError`] naming the file, the alert and the field.

use std::path::Path;

use crate::model::dependency::DepKind;
use crate::rules::RuleError;
use crate::rules::compile::{Globs, globs, parse_kind};
use crate::rules::files;

use super::expr::{self, Expr, Template, Yields};
use super::spec::{self, AlertSpec};
use super::vars::Need;

/// An alert rule's scope, compiled.
#[derive(Clone, Debug, Default)]
pub struct AlertScope {
    caller: Globs,
    dependency: Globs,
    kinds: Vec<DepKind>,
}

impl AlertScope {
    /// Whether a dependency is in scope.
    pub fn matches(&self, caller: &str, dep: &str, kind: DepKind) -> bool {
        self.caller.matches(caller)
            && self.dependency.matches(dep)
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// A runnable alert rule.
#[derive(Debug)]
pub struct AlertRule {
    /// The spec as written.
    pub spec: AlertSpec,
    /// The condition.
    pub expr: Expr,
    /// The extra clearing condition.
    pub resolve: Option<Expr>,
    /// The value shown.
    pub value: Option<Expr>,
    /// The threshold shown.
    pub threshold: Option<Expr>,
    /// Annotation templates by name.
    pub annotations: Vec<(String, Template)>,
    /// Scope.
    pub scope: AlertScope,
    /// The variable groups its expressions and templates read.
    pub need: Need,
}

impl AlertRule {
    /// The alertname.
    pub fn name(&self) -> &str {
        &self.spec.name
    }
}

/// A compiled set of alert rules, in name order.
#[derive(Debug, Default)]
pub struct AlertSet {
    /// The rules (disabled ones included; the engine skips them).
    pub rules: Vec<AlertRule>,
    /// Where they came from: a directory, or `built-in`.
    pub origin: String,
}

/// The shipped alert rules, embedded so the binary works without `./rules`.
pub const BUILTIN: &[(&str, &str)] =
    &[("rules/alerts.toml", include_str!("../../rules/alerts.toml"))];

fn compile_rule(spec: AlertSpec) -> Result<AlertRule, Vec<(String, String)>> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut one = |field: &str, src: Option<&String>, yields: Yields| -> Option<Expr> {
        let src = src?;
        match expr::compile(src, yields) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push((field.to_string(), e));
                None
            }
        }
    };
    // An empty `expr` was reported missing when the file was parsed.
    let condition = one(
        "expr",
        Some(&spec.expr).filter(|e| !e.is_empty()),
        Yields::Bool,
    );
    let resolve = one("resolve", spec.resolve.as_ref(), Yields::Bool);
    let value = one("value", spec.value.as_ref(), Yields::Num);
    let threshold = one("threshold", spec.threshold.as_ref(), Yields::Num);
    let mut scope = AlertScope::default();
    for (field, list, target) in [
        ("scope.caller", &spec.scope.caller, &mut scope.caller),
        (
            "scope.dependency",
            &spec.scope.dependency,
            &mut scope.dependency,
        ),
    ] {
        match globs(field, list) {
            Ok(g) => *target = g,
            Err(e) => errors.extend(e),
        }
    }
    for (i, k) in spec.scope.kind.iter().enumerate() {
        match parse_kind(k) {
            Some(kind) => scope.kinds.push(kind),
            None => errors.push((
                format!("scope.kind[{i}]"),
                format!("unknown kind \"{k}\"; expected one of: http, rpc, db, messaging, other"),
            )),
        }
    }
    let mut annotations = Vec::new();
    for (k, src) in &spec.annotations {
        match expr::template(src) {
            Ok(t) => annotations.push((k.clone(), t)),
            Err(e) => errors.push((format!("annotations.{k}"), e)),
        }
    }
    let Some(condition) = condition.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let names = [
        Some(&condition),
        resolve.as_ref(),
        value.as_ref(),
        threshold.as_ref(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|e| e.variables.iter().copied())
    .chain(
        annotations
            .iter()
            .flat_map(|(_, t)| t.variables.iter().copied()),
    )
    .collect::<Vec<_>>();
    Ok(AlertRule {
        need: Need::of(names),
        spec,
        expr: condition,
        resolve,
        value,
        threshold,
        annotations,
        scope,
    })
}

/// Compiles the `[[alert]]` tables of rule files given as (name, text) pairs.
pub fn compile_sources(
    sources: &[(String, String)],
    origin: &str,
) -> Result<AlertSet, Vec<RuleError>> {
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    for (file, text) in sources {
        specs.extend(spec::parse_file(file, text, &mut errors));
    }
    let key = files::Key {
        field: "name",
        duplicate: "duplicate alert name",
    };
    let key_of = |s: &AlertSpec| (s.file.clone(), s.name.clone());
    let mut rules = files::compile_unique(specs, &key, key_of, compile_rule, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    rules.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok(AlertSet {
        rules,
        origin: origin.to_string(),
    })
}

/// Loads the `[[alert]]` tables of every `*.toml` in `dir` (sorted by name; a directory with no
/// rule files has no alerts).
pub fn load_dir(dir: &Path) -> Result<AlertSet, Vec<RuleError>> {
    let sources = files::read_toml_dir(dir, false)?;
    compile_sources(&sources, &dir.display().to_string())
}

/// The embedded default set.
pub fn builtin() -> Result<AlertSet, Vec<RuleError>> {
    let sources: Vec<(String, String)> = BUILTIN
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    compile_sources(&sources, "built-in")
}

/// `--rules DIR` when given, else `./rules` when it exists, else the built-in set (as the lint
/// loads its rules: a directory replaces the shipped set).
pub fn load(dir: Option<&Path>) -> Result<AlertSet, Vec<RuleError>> {
    match dir {
        Some(d) => load_dir(d),
        None if Path::new("rules").is_dir() => load_dir(Path::new("rules")),
        None => builtin(),
    }
}
