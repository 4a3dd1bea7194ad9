//! Findings: what a rule reports about a service or an edge, with its evidence.

use serde::Serialize;

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
}

/// Whether a rule found something, or could not tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule's condition holds.
    Finding,
    /// Too few samples or missing signals to decide; never a silent pass.
    InsufficientData,
}

/// One rule result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Rule id, e.g. `TMO-001`.
    pub rule: String,
    /// Detector that produced it, e.g. `missing-timeout`.
    pub detector: String,
    /// Severity from the rule file.
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
    /// Key numbers and facts, name → value, in a stable order.
    pub evidence: Vec<(String, String)>,
    /// Up to 5 exemplar trace ids (hex).
    pub trace_ids: Vec<String>,
    /// Window analysed, Unix nanoseconds [from, to).
    pub window: (u64, u64),
    /// Samples the decision rests on.
    pub samples: u64,
    /// How to fix it.
    pub remediation: String,
}
