//! `faultline lint --format json`: an array of findings. Field names are the stable surface:
//! `rule, detector, severity, outcome, caller, dependency, service, operation, message,
//! evidence, trace_ids, samples, window_start, window_end, remediation`.

use serde::Serialize;

use crate::model::finding::{Evidence, Finding, evidence_as_map};
use crate::report::text::time;
use crate::rules::LintReport;

/// Evidence as an ordered JSON object.
struct EvMap<'a>(&'a Evidence);

impl Serialize for EvMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        evidence_as_map(self.0, s)
    }
}

/// One finding as JSON.
#[derive(Serialize)]
struct Row<'a> {
    rule: &'a str,
    detector: &'a str,
    severity: &'a str,
    outcome: crate::model::finding::Outcome,
    caller: Option<&'a str>,
    dependency: Option<&'a str>,
    service: Option<&'a str>,
    operation: Option<&'a str>,
    message: &'a str,
    evidence: EvMap<'a>,
    trace_ids: &'a [String],
    samples: u64,
    window_start: String,
    window_end: String,
    remediation: &'a str,
}

fn row(f: &Finding) -> Row<'_> {
    Row {
        rule: &f.rule,
        detector: &f.detector,
        severity: f.severity.as_str(),
        outcome: f.outcome,
        caller: f.caller.as_deref(),
        dependency: f.dependency.as_deref(),
        service: f.service.as_deref(),
        operation: f.operation(),
        message: &f.message,
        evidence: EvMap(&f.evidence),
        trace_ids: &f.trace_ids,
        samples: f.samples,
        window_start: time(f.window.0),
        window_end: time(f.window.1),
        remediation: &f.remediation,
    }
}

/// Renders the findings (insufficient-data results included, with `outcome`) as a JSON array.
pub fn render(r: &LintReport) -> String {
    let rows: Vec<Row<'_>> = r.findings.iter().map(row).collect();
    // Plain structs of strings, numbers and ordered maps always serialize.
    serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into()) + "\n"
}
