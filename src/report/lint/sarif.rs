//! `faultline lint --format sarif`: SARIF 2.1.0 that GitHub code scanning accepts.
//!
//! Every result has a physical location (GitHub requires one): the rule file and the line of
//! the rule's `id`, which is where a finding is silenced with an `allow` entry. The subject is a
//! logical location: a service (`kind: module`) or an edge (`kind: resource`, named
//! `caller -> dependency`). Insufficient-data results become tool notifications, not results.
//! `partialFingerprints` identify a finding by rule and subject, so alerts stay stable across
//! runs.

use serde_json::{Value, json};

use crate::model::finding::{Finding, Severity};
use crate::rules::{LintReport, RuleSet};

use super::fnv_hex;

/// SARIF level of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn logical_locations(f: &Finding) -> Vec<Value> {
    let mut v = Vec::new();
    match (&f.caller, &f.dependency) {
        (Some(c), Some(d)) => {
            v.push(json!({
                "name": format!("{c} -> {d}"),
                "fullyQualifiedName": format!("edge:{c}->{d}"),
                "kind": "resource",
            }));
            v.push(json!({ "name": c, "fullyQualifiedName": format!("service:{c}"), "kind": "module" }));
        }
        _ => {
            if let Some(s) = f
                .service
                .as_ref()
                .or(f.caller.as_ref())
                .or(f.dependency.as_ref())
            {
                v.push(json!({ "name": s, "fullyQualifiedName": format!("service:{s}"), "kind": "module" }));
            }
        }
    }
    v
}

/// The artifact URI of a rule file: relative paths as given (forward slashes), absolute ones
/// reduced to `rules/NAME`.
fn artifact_uri(file: &str) -> String {
    let f = file.replace('\\', "/");
    if f.starts_with('/') {
        let name = f.rsplit('/').next().unwrap_or(&f);
        format!("rules/{name}")
    } else {
        f.trim_start_matches("./").to_string()
    }
}

/// Renders the report as a SARIF log.
pub fn render(r: &LintReport, rules: &RuleSet) -> String {
    let enabled: Vec<_> = rules.rules.iter().filter(|x| x.spec.enabled).collect();
    let descriptors: Vec<Value> = enabled
        .iter()
        .map(|x| {
            json!({
                "id": x.spec.id,
                "name": x.spec.title.split_whitespace().map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                }).collect::<String>().chars().filter(|c| c.is_alphanumeric()).collect::<String>(),
                "shortDescription": { "text": if x.spec.title.is_empty() { x.spec.id.clone() } else { x.spec.title.clone() } },
                "fullDescription": { "text": format!("{} (detector `{}`, {})", x.def.summary, x.def.name, x.def.implements) },
                "help": { "text": x.spec.remediation, "markdown": format!("**Fix:** {}\n\nSee docs/rules.md, detector `{}`.", x.spec.remediation, x.def.name) },
                "defaultConfiguration": { "level": level(x.spec.severity) },
                "properties": { "tags": ["resilience", "architecture", x.def.name] },
            })
        })
        .collect();
    let index = |id: &str| enabled.iter().position(|x| x.spec.id == id);
    let mut results = Vec::new();
    let mut notes = Vec::new();
    for f in &r.findings {
        let Some(i) = index(&f.rule) else { continue };
        let spec = &enabled[i].spec;
        if !f.is_finding() {
            notes.push(json!({
                "level": "note",
                "message": { "text": format!("{}: {}", f.rule, f.message) },
                "descriptor": { "id": f.rule, "index": i },
            }));
            continue;
        }
        let mut text = f.message.clone();
        if !f.trace_ids.is_empty() {
            text.push_str(&format!(" Exemplar traces: {}.", f.trace_ids.join(", ")));
        }
        let evidence: serde_json::Map<String, Value> = f
            .evidence
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    serde_json::to_value(v).unwrap_or(Value::Null),
                )
            })
            .collect();
        results.push(json!({
            "ruleId": f.rule,
            "ruleIndex": i,
            "level": level(f.severity),
            "message": { "text": text },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": artifact_uri(&spec.file) },
                    "region": { "startLine": spec.line.max(1) },
                },
                "logicalLocations": logical_locations(f),
            }],
            "partialFingerprints": {
                "faultlineSubject/v1": fnv_hex(&[
                    &f.rule,
                    f.caller.as_deref().unwrap_or(""),
                    f.dependency.as_deref().unwrap_or(""),
                    f.service.as_deref().unwrap_or(""),
                    f.operation().unwrap_or(""),
                ]),
            },
            "properties": {
                "detector": f.detector,
                "caller": f.caller,
                "dependency": f.dependency,
                "service": f.service,
                "operation": f.operation(),
                "evidence": evidence,
                "traceIds": f.trace_ids,
                "samples": f.samples,
            },
        }));
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "faultline",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }},
            "automationDetails": { "id": "faultline/lint/" },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notes,
            }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".into()) + "\n"
}
