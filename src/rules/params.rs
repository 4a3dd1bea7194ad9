//! Detector parameters: each detector declares its parameters (name, type, default, doc) and
//! a rule's `[params]` table is checked against that declaration, one error per problem.

use std::collections::BTreeMap;

/// The type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A non-negative integer.
    Count,
    /// A number.
    Number,
    /// A number in [0, 1].
    Ratio,
    /// A duration string such as `250ms`, `30s`, `5m`.
    Duration,
    /// A string.
    Text,
    /// An array of strings.
    TextList,
    /// `true` or `false`.
    Flag,
    /// Any TOML value; the detector checks it when it builds.
    Table,
}

impl ParamKind {
    /// What a value of this kind looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            ParamKind::Count => "a non-negative integer",
            ParamKind::Number => "a number",
            ParamKind::Ratio => "a number between 0 and 1",
            ParamKind::Duration => "a duration such as \"250ms\", \"30s\" or \"5m\"",
            ParamKind::Text => "a string",
            ParamKind::TextList => "an array of strings",
            ParamKind::Flag => "true or false",
            ParamKind::Table => "a table or array",
        }
    }
}

/// One declared parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    /// Name in `[params]`.
    pub name: &'static str,
    /// Type.
    pub kind: ParamKind,
    /// Default as a TOML value literal (`"30s"`, `200`, `["session.id"]`).
    pub default: &'static str,
    /// What it controls.
    pub doc: &'static str,
}

/// A checked parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// Count.
    Count(u64),
    /// Number or ratio.
    Number(f64),
    /// Duration in nanoseconds.
    Duration(u64),
    /// Text.
    Text(String),
    /// Text list.
    TextList(Vec<String>),
    /// Flag.
    Flag(bool),
    /// Raw TOML.
    Table(toml::Value),
}

/// Checked parameters of one rule: every declared parameter has a value of its kind.
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
}

/// Converts one TOML value to a parameter of `kind`, or says why not.
pub fn convert(kind: ParamKind, v: &toml::Value) -> Result<ParamValue, String> {
    let got = || format!("expected {}, got {}", kind.expected(), describe(v));
    Ok(match (kind, v) {
        (ParamKind::Count, toml::Value::Integer(i)) if *i >= 0 => ParamValue::Count(*i as u64),
        (ParamKind::Number, toml::Value::Integer(i)) => ParamValue::Number(*i as f64),
        (ParamKind::Number, toml::Value::Float(f)) if f.is_finite() => ParamValue::Number(*f),
        (ParamKind::Ratio, toml::Value::Integer(i)) if (0..=1).contains(i) => {
            ParamValue::Number(*i as f64)
        }
        (ParamKind::Ratio, toml::Value::Float(f)) if (0.0..=1.0).contains(f) => {
            ParamValue::Number(*f)
        }
        (ParamKind::Duration, toml::Value::String(s)) => match humantime::parse_duration(s) {
            Ok(d) => ParamValue::Duration(d.as_nanos().min(u64::MAX as u128) as u64),
            Err(_) => return Err(got()),
        },
        (ParamKind::Text, toml::Value::String(s)) => ParamValue::Text(s.clone()),
        (ParamKind::TextList, toml::Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for item in a {
                match item {
                    toml::Value::String(s) => out.push(s.clone()),
                    _ => return Err(got()),
                }
            }
            ParamValue::TextList(out)
        }
        (ParamKind::Flag, toml::Value::Boolean(b)) => ParamValue::Flag(*b),
        (ParamKind::Table, v @ (toml::Value::Table(_) | toml::Value::Array(_))) => {
            ParamValue::Table(v.clone())
        }
        _ => return Err(got()),
    })
}

/// A short description of a TOML value for error messages.
pub fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// Parses a default literal.
fn default_value(def: &ParamDef) -> Result<ParamValue, String> {
    let table: toml::Table = format!("v = {}", def.default)
        .parse()
        .map_err(|e| format!("default of {} does not parse: {e}", def.name))?;
    let v = table
        .get("v")
        .ok_or_else(|| format!("default of {} is empty", def.name))?;
    convert(def.kind, v)
}

impl Params {
    /// Checks `given` against `defs`; fills defaults. Errors are (field, message) pairs, one per
    /// problem, with fields named `params.NAME`.
    pub fn check(
        defs: &'static [ParamDef],
        given: Option<&toml::Table>,
    ) -> Result<Params, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut values = BTreeMap::new();
        if let Some(given) = given {
            for (k, v) in given {
                match defs.iter().find(|d| d.name == k) {
                    None => {
                        let known: Vec<&str> = defs.iter().map(|d| d.name).collect();
                        let hint = if known.is_empty() {
                            "this detector takes no parameters".to_string()
                        } else {
                            format!("expected one of: {}", known.join(", "))
                        };
                        errors.push((format!("params.{k}"), format!("unknown parameter; {hint}")));
                    }
                    Some(d) => match convert(d.kind, v) {
                        Ok(pv) => {
                            values.insert(d.name, pv);
                        }
                        Err(e) => errors.push((format!("params.{k}"), e)),
                    },
                }
            }
        }
        for d in defs {
            if values.contains_key(d.name) {
                continue;
            }
            match default_value(d) {
                Ok(v) => {
                    values.insert(d.name, v);
                }
                Err(e) => errors.push((format!("params.{}", d.name), e)),
            }
        }
        if errors.is_empty() {
            Ok(Params { values })
        } else {
            Err(errors)
        }
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    // Getters: `check` guarantees every declared parameter holds a value of its kind, so the
    // fallbacks below are only reached for a name the detector did not declare (a bug caught
    // by the detector's own tests).

    /// A count parameter.
    pub fn count(&self, name: &str) -> u64 {
        match self.get(name) {
            Some(ParamValue::Count(v)) => *v,
            _ => 0,
        }
    }
    /// A number or ratio parameter.
    pub fn number(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(ParamValue::Number(v)) => *v,
            Some(ParamValue::Count(v)) => *v as f64,
            _ => 0.0,
        }
    }
    /// A duration parameter, in nanoseconds.
    pub fn duration_ns(&self, name: &str) -> u64 {
        match self.get(name) {
            Some(ParamValue::Duration(v)) => *v,
            _ => 0,
        }
    }
    /// A duration parameter, in seconds.
    pub fn secs(&self, name: &str) -> f64 {
        self.duration_ns(name) as f64 / 1e9
    }
    /// A text parameter.
    pub fn text(&self, name: &str) -> &str {
        match self.get(name) {
            Some(ParamValue::Text(v)) => v,
            _ => "",
        }
    }
    /// A text-list parameter.
    pub fn list(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(ParamValue::TextList(v)) => v,
            _ => &[],
        }
    }
    /// A flag parameter.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(ParamValue::Flag(true)))
    }
    /// A raw table parameter.
    pub fn table(&self, name: &str) -> Option<&toml::Value> {
        match self.get(name) {
            Some(ParamValue::Table(v)) => Some(v),
            _ => None,
        }
    }
}

/// Renders a parameter value for `rules list` and docs.
pub fn display(v: &ParamValue) -> String {
    match v {
        ParamValue::Count(c) => c.to_string(),
        ParamValue::Number(n) => n.to_string(),
        ParamValue::Duration(ns) => {
            humantime::format_duration(std::time::Duration::from_nanos(*ns)).to_string()
        }
        ParamValue::Text(s) => format!("\"{s}\""),
        ParamValue::TextList(l) => format!(
            "[{}]",
            l.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ParamValue::Flag(b) => b.to_string(),
        ParamValue::Table(t) => t.to_string(),
    }
}
