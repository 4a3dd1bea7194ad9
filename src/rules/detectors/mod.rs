//! The built-in detectors. Each declares its parameters and builds a [`Detector`] from checked
//! parameters; running it over a [`Context`] gives findings ([`Hit`]), subjects it could not
//! judge ([`Undecided`]) and how many subjects it did judge, so that a rule never passes
//! silently.

use std::sync::Arc;

use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, Severity};

use super::compile::Scope;
use super::context::Context;
use super::params::{ParamDef, Params};

pub mod breaker;
pub mod bulkhead;
pub mod cache;
pub mod cycle;
pub mod default_timeout;
pub mod fallback;
pub mod fanout;
pub mod flapping;
pub mod herd;
pub mod hung;
pub mod lockstep;
pub mod long_lived;
pub mod nplusone;
pub mod policy;
pub mod pooling;
pub mod propagation;
pub mod read_replica;
pub mod requests;
pub mod retry;
pub mod retry_amplification;
pub mod retry_budget;
pub mod retry_storm;
pub mod saturation;
pub mod stateful;
pub mod threshold;
pub mod timeout;

/// What a finding is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    /// Calling service (edge findings).
    pub caller: Option<Arc<str>>,
    /// Dependency (edge findings).
    pub dependency: Option<Arc<str>>,
    /// Service (service findings).
    pub service: Option<Arc<str>>,
    /// Operation, when narrower than the edge.
    pub operation: Option<Arc<str>>,
}

impl Subject {
    /// An edge.
    pub fn edge(caller: &Arc<str>, dep: &Arc<str>) -> Subject {
        Subject {
            caller: Some(caller.clone()),
            dependency: Some(dep.clone()),
            ..Subject::default()
        }
    }
    /// A service.
    pub fn service(s: &Arc<str>) -> Subject {
        Subject {
            service: Some(s.clone()),
            ..Subject::default()
        }
    }
    /// With an operation.
    pub fn with_op(mut self, op: &Arc<str>) -> Subject {
        self.operation = Some(op.clone());
        self
    }
    /// Short display.
    pub fn label(&self) -> String {
        let mut s = match (&self.caller, &self.dependency, &self.service) {
            (Some(c), Some(d), _) => format!("{c} → {d}"),
            (_, _, Some(s)) => s.to_string(),
            (Some(c), None, None) => c.to_string(),
            (None, Some(d), None) => d.to_string(),
            (None, None, None) => "-".into(),
        };
        if let Some(op) = &self.operation {
            s.push_str(&format!(" [{op}]"));
        }
        s
    }
}

/// How a detector adjusts the rule's severity for one finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Adjust {
    /// The rule's severity.
    #[default]
    Keep,
    /// One level up: the reference's "high" conditions.
    Raise,
    /// One level down: a weaker variant of the finding.
    Lower,
    /// Informational regardless of the rule's severity.
    Info,
}

impl Adjust {
    /// Applies the adjustment.
    pub fn apply(self, s: Severity) -> Severity {
        match self {
            Adjust::Keep => s,
            Adjust::Raise => s.raised(),
            Adjust::Lower => s.lowered(),
            Adjust::Info => Severity::Info,
        }
    }
}

/// One finding as a detector reports it.
#[derive(Clone, Debug, Default)]
pub struct Hit {
    /// What it is about.
    pub subject: Subject,
    /// Severity adjustment.
    pub adjust: Adjust,
    /// One-line message with the key numbers.
    pub message: String,
    /// Evidence.
    pub evidence: Evidence,
    /// Exemplar trace ids (hex), best first; the engine keeps 5.
    pub trace_ids: Vec<String>,
    /// Samples the decision rests on.
    pub samples: u64,
}

/// A subject the detector could not judge.
#[derive(Clone, Debug, Default)]
pub struct Undecided {
    /// What it is about.
    pub subject: Subject,
    /// What is missing, e.g. "12 calls, needs 200".
    pub missing: String,
    /// Samples seen.
    pub samples: u64,
}

/// A detector's result for one rule.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Findings.
    pub hits: Vec<Hit>,
    /// Subjects that could not be judged.
    pub undecided: Vec<Undecided>,
    /// Subjects judged (passed or found).
    pub checked: usize,
    /// When nothing could be judged at all: what would be needed.
    pub missing: Option<String>,
}

/// What a detector knows of the rule it runs for.
#[derive(Clone, Copy, Debug)]
pub struct RuleCtx<'a> {
    /// Rule id.
    pub id: &'a str,
    /// Scope.
    pub scope: &'a Scope,
}

impl RuleCtx<'_> {
    /// Whether an edge is in scope (caller, dependency, kind).
    pub fn edge(&self, caller: &str, dep: &str, kind: DepKind) -> bool {
        self.scope.edge(caller, dep, kind)
    }
    /// Whether an operation is in scope.
    pub fn op(&self, op: &str) -> bool {
        self.scope.operation(op)
    }
    /// Whether a service is in scope (service findings).
    pub fn service(&self, s: &str) -> bool {
        self.scope.service(s)
    }
}

/// A built detector.
pub trait Detector: Send + Sync + std::fmt::Debug {
    /// Runs over the context for one rule.
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output;
}

/// An error building a detector: (field, message).
pub type BuildError = (String, String);

/// Builds a detector from checked parameters.
pub type BuildFn = fn(&Params) -> Result<Box<dyn Detector>, Vec<BuildError>>;

/// A detector's declaration.
#[derive(Clone, Copy, Debug)]
pub struct DetectorDef {
    /// Name used in rule files.
    pub name: &'static str,
    /// Reference rule ids it implements.
    pub implements: &'static str,
    /// One line: what it finds.
    pub summary: &'static str,
    /// Parameters.
    pub params: &'static [ParamDef],
    /// Builds it from checked parameters.
    pub build: BuildFn,
}

/// Every built-in detector, by name.
pub const DETECTORS: &[DetectorDef] = &[
    timeout::MISSING,
    timeout::DEFAULT,
    retry::UNJITTERED,
    retry_storm::STORM,
    retry_amplification::AMPLIFICATION,
    retry_budget::BUDGET,
    stateful::STATEFUL,
    breaker::MISSING,
    breaker::FLAPPING,
    saturation::SATURATION,
    cycle::CYCLE,
    fanout::FAN_OUT,
    nplusone::N_PLUS_ONE,
    policy::POLICY,
    threshold::THRESHOLD,
    bulkhead::MISSING_BULKHEAD,
    fallback::NO_FALLBACK,
    propagation::BROKEN,
    lockstep::LOCKSTEP,
    read_replica::READ_REPLICA,
    pooling::POOLING,
    cache::HIT_RATIO,
    cache::UNCACHED,
];

/// The detector named `name`.
pub fn find(name: &str) -> Option<&'static DetectorDef> {
    DETECTORS.iter().find(|d| d.name == name)
}

/// Formats milliseconds for messages: `850 ms`, `32.1 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1e3)
    } else if ms >= 1_000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}
