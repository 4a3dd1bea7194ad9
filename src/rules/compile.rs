//! Turns parsed rule specs into runnable rules: looks up the detector, checks and types the
//! parameters, builds the detector, compiles scope and allow globs, checks message templates.
//! Every problem becomes one [`RuleError`].

use std::path::Path;

use globset::{Glob, GlobMatcher};

use crate::model::dependency::DepKind;
use crate::model::finding::Severity;

use super::detectors::{self, Detector, DetectorDef};
use super::files;
use super::params::Params;
use super::spec::{self, AllowSpec, RuleError, RuleSpec};

/// A list of globs; empty matches everything.
#[derive(Clone, Debug, Default)]
pub struct Globs(Vec<GlobMatcher>);

impl Globs {
    /// Whether `s` matches (or the list is empty).
    pub fn matches(&self, s: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|g| g.is_match(s))
    }
    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether `s` matches a non-empty list.
    pub fn matches_some(&self, s: &str) -> bool {
        self.0.iter().any(|g| g.is_match(s))
    }
}

/// Compiles one glob; `*` also matches `/` (names are not paths).
pub fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| format!("invalid glob \"{pattern}\": {}", e.kind()))
}

/// Compiles a list of globs, naming `field[i]` in errors.
pub fn globs(field: &str, patterns: &[String]) -> Result<Globs, Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        match glob(p) {
            Ok(g) => out.push(g),
            Err(e) => errors.push((format!("{field}[{i}]"), e)),
        }
    }
    if errors.is_empty() {
        Ok(Globs(out))
    } else {
        Err(errors)
    }
}

/// A rule's scope, compiled.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    caller: Globs,
    dependency: Globs,
    kinds: Vec<DepKind>,
    operation: Globs,
    service: Globs,
}

impl Scope {
    /// Whether an edge is in scope.
    pub fn edge(&self, caller: &str, dep: &str, kind: DepKind) -> bool {
        self.caller.matches(caller)
            && self.dependency.matches(dep)
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
    /// Whether an operation is in scope.
    pub fn operation(&self, op: &str) -> bool {
        self.operation.matches(op)
    }
    /// Whether a service is in scope.
    pub fn service(&self, s: &str) -> bool {
        self.service.matches(s)
    }
}

/// One allow entry, compiled.
#[derive(Clone, Debug)]
pub struct Allow {
    caller: Option<GlobMatcher>,
    dependency: Option<GlobMatcher>,
    service: Option<GlobMatcher>,
    operation: Option<GlobMatcher>,
    /// Why.
    pub reason: String,
}

impl Allow {
    /// Whether the entry silences a finding about this subject. Every selector given must match.
    pub fn matches(
        &self,
        caller: Option<&str>,
        dep: Option<&str>,
        service: Option<&str>,
        op: Option<&str>,
    ) -> bool {
        let one = |g: &Option<GlobMatcher>, v: Option<&str>| match g {
            None => true,
            Some(g) => v.is_some_and(|v| g.is_match(v)),
        };
        // A service selector also matches the caller of an edge finding.
        let svc_ok = match &self.service {
            None => true,
            Some(g) => service.or(caller).is_some_and(|v| g.is_match(v)),
        };
        one(&self.caller, caller)
            && one(&self.dependency, dep)
            && svc_ok
            && one(&self.operation, op)
    }
}

/// A runnable rule.
#[derive(Debug)]
pub struct Rule {
    /// The spec as written.
    pub spec: RuleSpec,
    /// The detector's declaration.
    pub def: &'static DetectorDef,
    /// Checked parameters.
    pub params: Params,
    /// The built detector.
    pub detector: Box<dyn Detector>,
    /// Scope.
    pub scope: Scope,
    /// Allow entries.
    pub allow: Vec<Allow>,
}

impl Rule {
    /// Rule id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    /// Rule severity.
    pub fn severity(&self) -> Severity {
        self.spec.severity
    }
}

/// Placeholders a message template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "caller",
    "dependency",
    "service",
    "operation",
    "detail",
    "rule",
];

/// Checks a template's `{name}` placeholders.
fn check_template(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("unclosed '{' in template".into());
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; expected one of: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fills a template.
pub fn fill_template(t: &str, vars: &[(&str, &str)]) -> String {
    let mut out = t.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn compile_allow(a: &AllowSpec, j: usize) -> Result<Allow, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut one = |name: &str, v: &Option<String>| match v {
        None => None,
        Some(p) => match glob(p) {
            Ok(g) => Some(g),
            Err(e) => {
                errors.push((format!("allow[{j}].{name}"), e));
                None
            }
        },
    };
    let allow = Allow {
        caller: one("caller", &a.caller),
        dependency: one("dependency", &a.dependency),
        service: one("service", &a.service),
        operation: one("operation", &a.operation),
        reason: a.reason.clone(),
    };
    if errors.is_empty() {
        Ok(allow)
    } else {
        Err(errors)
    }
}

/// Compiles one spec; errors are (field, message) pairs.
fn compile_rule(spec: RuleSpec) -> Result<Rule, Vec<(String, String)>> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let def = detectors::find(&spec.detector);
    if def.is_none() {
        let names: Vec<&str> = detectors::DETECTORS.iter().map(|d| d.name).collect();
        errors.push((
            "detector".into(),
            format!(
                "unknown detector \"{}\"; expected one of: {}",
                spec.detector,
                names.join(", ")
            ),
        ));
    }
    let mut scope = Scope::default();
    let s = &spec.scope;
    for (field, list, target) in [
        ("scope.caller", &s.caller, &mut scope.caller),
        ("scope.dependency", &s.dependency, &mut scope.dependency),
        ("scope.operation", &s.operation, &mut scope.operation),
        ("scope.service", &s.service, &mut scope.service),
    ] {
        match globs(field, list) {
            Ok(g) => *target = g,
            Err(e) => errors.extend(e),
        }
    }
    for (i, k) in s.kind.iter().enumerate() {
        match parse_kind(k) {
            Some(kind) => scope.kinds.push(kind),
            None => errors.push((
                format!("scope.kind[{i}]"),
                format!("unknown kind \"{k}\"; expected one of: http, rpc, db, messaging, other"),
            )),
        }
    }
    let mut allow = Vec::new();
    for (j, a) in spec.allow.iter().enumerate() {
        match compile_allow(a, j) {
            Ok(a) => allow.push(a),
            Err(e) => errors.extend(e),
        }
    }
    if let Some(m) = &spec.message
        && let Err(e) = check_template(m)
    {
        errors.push(("message".into(), e));
    }
    let Some(def) = def else {
        return Err(errors);
    };
    let built = Params::check(def.params, Some(&spec.params))
        .and_then(|params| (def.build)(&params).map(|d| (params, d)));
    match built {
        Ok((params, detector)) if errors.is_empty() => Ok(Rule {
            spec,
            def,
            params,
            detector,
            scope,
            allow,
        }),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// Parses a dependency kind name.
pub fn parse_kind(k: &str) -> Option<DepKind> {
    Some(match k {
        "http" => DepKind::Http,
        "rpc" => DepKind::Rpc,
        "db" => DepKind::Db,
        "messaging" => DepKind::Messaging,
        "other" => DepKind::Other,
        _ => return None,
    })
}

/// A compiled rule set, rules in id order.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// The rules (disabled ones included; the engine skips them).
    pub rules: Vec<Rule>,
    /// Where they came from: a directory, or `built-in`.
    pub origin: String,
}

/// The shipped default set, embedded so the binary works without `./rules`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("rules/audits.toml", include_str!("../../rules/audits.toml")),
    (
        "rules/timeouts.toml",
        include_str!("../../rules/timeouts.toml"),
    ),
    (
        "rules/retries.toml",
        include_str!("../../rules/retries.toml"),
    ),
    ("rules/state.toml", include_str!("../../rules/state.toml")),
    (
        "rules/breakers.toml",
        include_str!("../../rules/breakers.toml"),
    ),
    (
        "rules/topology.toml",
        include_str!("../../rules/topology.toml"),
    ),
    (
        "rules/chattiness.toml",
        include_str!("../../rules/chattiness.toml"),
    ),
    ("rules/data.toml", include_str!("../../rules/data.toml")),
    ("rules/cache.toml", include_str!("../../rules/cache.toml")),
];

/// Compiles rule files given as (name, text) pairs.
pub fn compile_sources(
    sources: &[(String, String)],
    origin: &str,
) -> Result<RuleSet, Vec<RuleError>> {
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    for (file, text) in sources {
        specs.extend(spec::parse_file(file, text, &mut errors));
    }
    let key = files::Key {
        field: "id",
        duplicate: "duplicate rule id",
    };
    let key_of = |s: &RuleSpec| (s.file.clone(), s.id.clone());
    let mut rules = files::compile_unique(specs, &key, key_of, compile_rule, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    rules.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    Ok(RuleSet {
        rules,
        origin: origin.to_string(),
    })
}

/// Loads every `*.toml` in `dir` (sorted by name).
pub fn load_dir(dir: &Path) -> Result<RuleSet, Vec<RuleError>> {
    let sources = files::read_toml_dir(dir, true)?;
    compile_sources(&sources, &dir.display().to_string())
}

/// The embedded default set.
pub fn builtin() -> Result<RuleSet, Vec<RuleError>> {
    let sources: Vec<(String, String)> = BUILTIN
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    compile_sources(&sources, "built-in")
}

/// `--rules DIR` when given, else `./rules` when it exists, else the built-in set.
pub fn load(dir: Option<&Path>) -> Result<RuleSet, Vec<RuleError>> {
    match dir {
        Some(d) => load_dir(d),
        None if Path::new("rules").is_dir() => load_dir(Path::new("rules")),
        None => builtin(),
    }
}
