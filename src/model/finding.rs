//! Findings: what a rule reports about a service or an edge, with its evidence.

use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// How serious a finding is; ordered so `Info < Warning < Error`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely a problem.
    Warning,
    /// A problem.
    Error,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Parses `info`, `warning` or `error`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }

    /// One level up (an `error` stays `error`).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// One level down (an `info` stays `info`).
    pub fn lowered(self) -> Severity {
        match self {
            Severity::Error => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// Whether a rule found something, or could not tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule's condition holds.
    Finding,
    /// Too few samples or missing signals to decide; never a silent pass.
    InsufficientData,
}

/// One evidence value: a number or a fact.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A count or other integer.
    Int(i64),
    /// A measurement (already rounded for display by the detector).
    Num(f64),
    /// A fact, a class, a list.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Num(v) => write!(f, "{v}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}
impl From<f64> for Value {
    /// Rounds to 4 significant decimals so output is stable and readable.
    fn from(v: f64) -> Self {
        Value::Num(round_sig(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

/// Rounds to about 4 significant digits (3 decimals at most for values ≥ 1).
pub fn round_sig(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return if v.is_finite() { 0.0 } else { v };
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (3 - mag).clamp(0, 6);
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// Evidence: named values in the order the detector gives them.
pub type Evidence = Vec<(String, Value)>;

/// Adding and reading evidence by name.
pub trait EvidenceExt {
    /// Appends a value.
    fn add(&mut self, key: &str, v: impl Into<Value>);
    /// The first value named `key`.
    fn value(&self, key: &str) -> Option<&Value>;
}

impl EvidenceExt for Evidence {
    fn add(&mut self, key: &str, v: impl Into<Value>) {
        self.push((key.to_string(), v.into()));
    }
    fn value(&self, key: &str) -> Option<&Value> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Serializes evidence as a JSON object whose keys keep the detector's order.
pub fn evidence_as_map<S: Serializer>(e: &Evidence, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(e.len()))?;
    for (k, v) in e {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// One rule result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Rule id, e.g. `TMO-001`.
    pub rule: String,
    /// Detector that produced it, e.g. `missing-timeout`.
    pub detector: String,
    /// Severity: the rule's, adjusted by the detector where the algorithm says so.
    pub severity: Severity,
    /// Finding or insufficient data.
    pub outcome: Outcome,
    /// Calling service of the edge (edge findings).
    pub caller: Option<String>,
    /// Dependency of the edge (edge findings).
    pub dependency: Option<String>,
    /// Service (service findings; the caller for edge findings).
    pub service: Option<String>,
    /// Human message with the key numbers.
    pub message: String,
    /// Key numbers and facts, in a stable order (an `operation` entry first when the finding is
    /// about one operation of an edge).
    #[serde(serialize_with = "evidence_as_map")]
    pub evidence: Evidence,
    /// Up to 5 exemplar trace ids (hex).
    pub trace_ids: Vec<String>,
    /// Window analysed, Unix nanoseconds [from, to).
    pub window: (u64, u64),
    /// Samples the decision rests on (the confidence).
    pub samples: u64,
    /// How to fix it.
    pub remediation: String,
}

impl Finding {
    /// A short subject: `caller → dependency`, the service, or `-`.
    pub fn subject(&self) -> String {
        match (&self.caller, &self.dependency, &self.service) {
            (Some(c), Some(d), _) => format!("{c} → {d}"),
            (None, Some(d), _) => d.clone(),
            (_, None, Some(s)) => s.clone(),
            (Some(c), None, None) => c.clone(),
            (None, None, None) => "-".into(),
        }
    }

    /// The operation the finding is about, when narrower than the edge.
    pub fn operation(&self) -> Option<&str> {
        match self.evidence.first() {
            Some((k, Value::Text(op))) if k == "operation" => Some(op),
            _ => None,
        }
    }

    /// Whether this is a finding (not an insufficient-data report).
    pub fn is_finding(&self) -> bool {
        self.outcome == Outcome::Finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_serializes_as_ordered_object() {
        let mut e = Evidence::default();
        e.add("z", 1u64);
        e.add("a", 2.345678);
        e.add("class", "fixed");
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        assert!(evidence_as_map(&e, &mut ser).is_ok());
        let s = String::from_utf8(out).unwrap_or_default();
        assert_eq!(s, r#"{"z":1,"a":2.346,"class":"fixed"}"#);
        assert_eq!(round_sig(0.000123456), 0.000123);
        assert_eq!(round_sig(12345.678), 12346.0);
    }
}
