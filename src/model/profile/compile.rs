//! Compiling a parsed profile into the [`ProfileSet`]: validation with errors naming the field,
//! matchers, globs, and the unit helpers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::spec::{self, Encoding, ProfileSpec};
use super::{BreakerDef, Matcher, Part, ProfileError, ProfileSet, Role, Target};
use crate::model::resilience::BreakerState;
use crate::model::series::{match_key, sanitize};

impl ProfileSet {
    /// Compiles one parsed profile into the set.
    pub fn add(&mut self, file: &Path, spec: ProfileSpec) -> Result<(), ProfileError> {
        let invalid = |field: String, message: String| ProfileError::Invalid {
            file: file.to_path_buf(),
            field,
            message,
        };
        if spec.name.trim().is_empty() {
            return Err(invalid("name".into(), "must not be empty".into()));
        }
        if self.names.contains(&spec.name) {
            return Err(invalid(
                "name".into(),
                format!("a second profile named {:?}", spec.name),
            ));
        }
        let profile = self.names.len();
        self.names.push(spec.name.clone());
        self.patterns.push(Vec::new());
        let labels = |v: &[String]| -> Arc<[String]> { v.iter().map(|s| sanitize(s)).collect() };
        let dep_default = labels(&spec.dependency_labels);
        let caller_default = if spec.caller_labels.is_empty() {
            labels(&["job".to_owned()])
        } else {
            labels(&spec.caller_labels)
        };
        for (from, to) in &spec.aliases {
            self.aliases.insert(from.clone(), to.clone());
        }
        for (i, b) in spec.breaker.into_iter().enumerate() {
            let field = |f: &str| format!("breaker[{i}].{f}");
            let def = breaker_def(&spec.name, &b, &field).map_err(|(f, m)| invalid(f, m))?;
            let deps = b
                .dependency_labels
                .as_deref()
                .map_or(dep_default.clone(), labels);
            if deps.is_empty() {
                return Err(invalid(
                    field("dependency_labels"),
                    "no label names the dependency".into(),
                ));
            }
            let idx = self.breakers.len();
            self.breakers.push(def);
            let m = Matcher {
                profile,
                target: Target::Breaker(idx, Part::Main),
                filter: filter(b.matches),
                dependency_labels: deps,
                caller_labels: b
                    .caller_labels
                    .as_deref()
                    .map_or(caller_default.clone(), labels),
            };
            if let Some(total) = &b.total_metric {
                let mut t = m.clone();
                t.target = Target::Breaker(idx, Part::Total);
                t.filter.clear();
                self.insert(total, t, spec.fallback);
            }
            self.insert(&b.metric, m, spec.fallback);
        }
        for (i, s) in spec.signal.into_iter().enumerate() {
            let field = |f: &str| format!("signal[{i}].{f}");
            let role = Role::parse(&s.role)
                .ok_or_else(|| invalid(field("role"), format!("unknown role {:?}", s.role)))?;
            let factor = match s.unit.as_deref() {
                Some(u) => Some(
                    unit_factor(u)
                        .ok_or_else(|| invalid(field("unit"), format!("unknown unit {u:?}")))?,
                ),
                None => None,
            };
            let deps = s
                .dependency_labels
                .as_deref()
                .map_or(dep_default.clone(), labels);
            if deps.is_empty() {
                return Err(invalid(
                    field("dependency_labels"),
                    "no label names the dependency".into(),
                ));
            }
            if s.metric.trim().is_empty() {
                return Err(invalid(field("metric"), "must not be empty".into()));
            }
            let m = Matcher {
                profile,
                target: Target::Signal(role, factor),
                filter: filter(s.matches),
                dependency_labels: deps,
                caller_labels: s
                    .caller_labels
                    .as_deref()
                    .map_or(caller_default.clone(), labels),
            };
            self.insert(&s.metric, m, spec.fallback);
        }
        Ok(())
    }

    /// The metric names and `*` patterns of profile `i`, sanitized, without `_total`.
    pub fn patterns_of(&self, i: usize) -> Vec<String> {
        self.patterns.get(i).cloned().unwrap_or_default()
    }

    fn insert(&mut self, metric: &str, m: Matcher, fallback: bool) {
        let key = match_key(metric.trim());
        if let Some(p) = self.patterns.get_mut(m.profile) {
            let pat: Vec<String> = metric.trim().split('*').map(sanitize).collect();
            let pat = pat.join("*");
            let pat = pat
                .strip_suffix("_total")
                .map_or(pat.clone(), str::to_owned);
            if !p.contains(&pat) {
                p.push(pat);
            }
        }
        if metric.contains('*') {
            let pat: Vec<String> = metric.trim().split('*').map(sanitize).collect();
            let pat = pat.join("*");
            let pat = match pat.strip_suffix("_total") {
                Some(p) if !p.is_empty() => p.to_owned(),
                _ => pat,
            };
            if fallback {
                self.fallback_globs.push((pat, m));
            } else {
                self.globs.push((pat, m));
            }
        } else {
            self.exact.entry(key).or_default().push(m);
        }
    }
}

pub(super) fn parse(path: &Path, text: &str) -> Result<ProfileSpec, ProfileError> {
    toml::from_str(text).map_err(|e| ProfileError::Syntax {
        file: path.to_path_buf(),
        message: e.to_string().trim_end().replace('\n', " "),
    })
}

fn filter(m: std::collections::BTreeMap<String, spec::OneOrMany>) -> Vec<(String, Vec<String>)> {
    m.into_iter()
        .map(|(k, v)| (sanitize(&k), v.into_vec()))
        .collect()
}

type FieldError = (String, String);

fn breaker_def(
    profile: &str,
    b: &spec::BreakerSpec,
    field: &dyn Fn(&str) -> String,
) -> Result<BreakerDef, FieldError> {
    let state = |f: String, name: &str| {
        BreakerState::from_name(name).ok_or_else(|| (f, format!("unknown breaker state {name:?}")))
    };
    let mut map = HashMap::new();
    let need = |what: &Option<String>, f: &str| {
        what.as_deref()
            .map(sanitize)
            .ok_or_else(|| (field(f), format!("required by encoding {:?}", b.encoding)))
    };
    let label = match b.encoding {
        Encoding::OneHot => {
            for (k, v) in &b.states {
                map.insert(k.clone(), state(field(&format!("states.{k}")), v)?);
            }
            if map.is_empty() {
                return Err((field("states"), "one_hot needs a states table".into()));
            }
            Some(need(&b.state_label, "state_label")?)
        }
        Encoding::ValueMap => {
            for (k, v) in &b.values {
                let key = k.trim().parse::<f64>().map_err(|_| {
                    (
                        field(&format!("values.{k}")),
                        "keys must be numbers".to_owned(),
                    )
                })?;
                map.insert(key.to_string(), state(field(&format!("values.{k}")), v)?);
            }
            if map.is_empty() {
                return Err((field("values"), "value_map needs a values table".into()));
            }
            None
        }
        Encoding::Events => {
            for (k, v) in &b.events {
                map.insert(k.clone(), state(field(&format!("events.{k}")), v)?);
            }
            if map.is_empty() {
                return Err((field("events"), "events needs an events table".into()));
            }
            Some(need(&b.event_label, "event_label")?)
        }
        Encoding::Endpoints => {
            if b.ejected_values.is_empty() {
                return Err((
                    field("ejected_values"),
                    "endpoints needs ejected_values".into(),
                ));
            }
            Some(need(&b.state_label, "state_label")?)
        }
        Encoding::Flag | Encoding::Admission | Encoding::Ejection => None,
    };
    if b.metric.trim().is_empty() {
        return Err((field("metric"), "must not be empty".into()));
    }
    Ok(BreakerDef {
        source: Arc::from(format!("{profile}:{}", b.metric.trim())),
        encoding: b.encoding,
        label,
        map,
        ejected_values: b.ejected_values.clone(),
        probe_events: b.probe_events.clone(),
        half_open_implied: b.half_open_implied,
    })
}

/// Seconds per unit for `s`, `ms`, `us`, `ns`.
fn unit_factor(u: &str) -> Option<f64> {
    Some(match u.trim() {
        "s" | "seconds" => 1.0,
        "ms" | "milliseconds" => 1e-3,
        "us" | "microseconds" => 1e-6,
        "ns" | "nanoseconds" => 1e-9,
        _ => return None,
    })
}

/// Seconds per unit that a metric name implies by its suffix (`_milliseconds`, `_ms`, …), else 1
/// (seconds).
pub fn name_unit_factor(name: &str) -> f64 {
    let n = match_key(name);
    for (suffix, f) in [
        ("_milliseconds", 1e-3),
        ("_ms", 1e-3),
        ("_microseconds", 1e-6),
        ("_us", 1e-6),
        ("_nanoseconds", 1e-9),
        ("_ns", 1e-9),
    ] {
        if n.ends_with(suffix) {
            return f;
        }
    }
    1.0
}

/// Unit suffixes the OTel→Prometheus translation appends.
pub(super) const UNIT_SUFFIXES: &[&str] = &[
    "_seconds",
    "_milliseconds",
    "_microseconds",
    "_nanoseconds",
    "_bytes",
    "_ratio",
];

/// `*` glob over a whole string.
pub(super) fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}
