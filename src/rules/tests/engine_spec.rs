//! Engine behaviour (templates, ordering, insufficient data) and the output renderers,
//! including SARIF's required structure.

use super::builder::*;
use crate::report::lint::{json, markdown, sarif, text};
use crate::rules::compile::compile_sources;

fn slow_edge() -> Vec<crate::model::span::Span> {
    let mut spans = Vec::new();
    for i in 0..210u64 {
        let d = if i < 205 { 10.0 } else { 40_000.0 };
        spans.push(
            sp(i + 1, 1)
                .svc("api")
                .http("GET", "pay|x", "/c")
                .at(i as f64 * 10.0, d)
                .status(200)
                .build(),
        );
    }
    spans
}

const RULES: &str = r#"
[[rule]]
id = "TMO-001"
detector = "missing-timeout"
severity = "warning"
title = "Missing client timeout"
message = "{caller} calls {dependency} without a timeout: {detail}"
remediation = "Set a timeout"

[[rule]]
id = "RTY-001"
detector = "unjittered-retry"
severity = "warning"
title = "Unjittered retry"
remediation = "Add jitter"
"#;

#[test]
fn message_template_and_insufficient_data() {
    let r = lint(slow_edge(), RULES);
    let h = hits(&r);
    assert_eq!(h.len(), 1);
    assert!(
        h[0].message
            .starts_with("api calls pay|x without a timeout: no effective timeout"),
        "{}",
        h[0].message
    );
    let u = undecided(&r);
    assert_eq!(
        u.len(),
        1,
        "RTY-001 saw no retry chain: insufficient data, not a pass"
    );
    assert_eq!(u[0].rule, "RTY-001");
    // Findings come first, then insufficient data.
    assert!(r.findings[0].is_finding());
}

#[test]
fn renderers_are_deterministic_and_complete() {
    let set = compile_sources(&[("rules/t.toml".into(), RULES.into())], "rules")
        .unwrap_or_else(|e| panic!("{e:?}"));
    let a = lint(slow_edge(), RULES);
    let b = lint(slow_edge(), RULES);
    assert_eq!(json::render(&a), json::render(&b));
    assert_eq!(text::render(&a), text::render(&b));
    let md = markdown::render(&a);
    assert!(
        md.contains("| 🟠 warning | TMO-001 | api → pay\\|x |"),
        "{md}"
    );
    let t = text::render(&a);
    assert!(
        t.contains("WARNING TMO-001  api → pay|x") && t.contains("insufficient data (not a pass)"),
        "{t}"
    );
    let j: serde_json::Value = serde_json::from_str(&json::render(&a)).unwrap_or_default();
    let f = &j[0];
    for k in [
        "rule",
        "detector",
        "severity",
        "caller",
        "dependency",
        "service",
        "message",
        "evidence",
        "trace_ids",
    ] {
        assert!(f.get(k).is_some(), "{k} missing");
    }
    assert_eq!(f["evidence"]["calls"], 210);

    // SARIF 2.1.0: the properties GitHub code scanning requires.
    let s: serde_json::Value = serde_json::from_str(&sarif::render(&a, &set)).unwrap_or_default();
    assert_eq!(s["version"], "2.1.0");
    assert!(s["$schema"].as_str().is_some_and(|x| x.contains("sarif")));
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "faultline");
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rules.len(), 2);
    for d in &rules {
        assert!(
            d["id"].is_string()
                && d["shortDescription"]["text"].is_string()
                && d["help"]["text"].is_string()
        );
        assert!(
            ["error", "warning", "note"]
                .contains(&d["defaultConfiguration"]["level"].as_str().unwrap_or(""))
        );
    }
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1);
    let res = &results[0];
    assert_eq!(res["ruleId"], "TMO-001");
    let idx = res["ruleIndex"].as_u64().unwrap_or(99) as usize;
    assert_eq!(rules[idx]["id"], "TMO-001");
    assert!(
        res["message"]["text"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(res["level"], "warning");
    let loc = &res["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "rules/t.toml"
    );
    assert_eq!(
        loc["physicalLocation"]["region"]["startLine"], 3,
        "the line of the rule's id"
    );
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "edge:api->pay|x"
    );
    assert!(
        res["partialFingerprints"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
    );
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        notes.len(),
        1,
        "insufficient data is a notification, not a result"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn every_detector_has_valid_defaults_and_docs() {
    for d in crate::rules::detectors::DETECTORS {
        assert!(!d.summary.is_empty());
        for p in d.params {
            assert!(!p.doc.is_empty(), "{}.{} lacks a doc", d.name, p.name);
        }
        let params = crate::rules::params::Params::check(d.params, None);
        assert!(
            params.is_ok(),
            "{}: defaults do not check: {:?}",
            d.name,
            params.err()
        );
    }
}
