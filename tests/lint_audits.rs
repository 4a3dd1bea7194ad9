//! The architecture audits on real instrumented services: tests/py/audits/scenario.py
//! (OpenTelemetry Python SDK, `requests`, HTTP servers on 127.0.0.1) plants a missing bulkhead
//! (BLK-002), a critical path without fallback (DEP-001), a recovery herd (RTY-002), broken
//! context propagation (CTX-001) and lockstep services (ARC-001), each beside a correct twin,
//! exporting OTLP to a running `faultline record`; `faultline lint` on the capture must find every
//! planted pattern, with evidence and exemplar traces, and flag no twin under its rule.
//! Precision and recall per rule are printed (and kept in docs/rules.md).
//!
//! The venv comes from scripts/test-deps.sh; without it this test fails (it never skips).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{
    FAULTLINE, Recorder, finding_about as about, json_str as s, root, run_scenario,
    run_with_timeout, venv_python,
};

const RULES: [&str; 5] = ["BLK-002", "DEP-001", "RTY-002", "CTX-001", "ARC-001"];

#[test]
fn audits_find_every_planted_pattern_and_no_twin() {
    let py = venv_python();
    let started = Instant::now();
    let rec = Recorder::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let truth_path = dir.path().join("truth.json");
    run_scenario(
        Command::new(py)
            .arg(root().join("tests/py/audits/scenario.py"))
            .arg(rec.http_url(""))
            .arg(&truth_path),
        "the audits scenario",
        &rec,
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("truth file"))
            .expect("truth json");
    let lint = run_with_timeout(
        Command::new(FAULTLINE)
            .arg("lint")
            .arg(&stopped.out)
            .args(["--format", "json"]),
        Duration::from_secs(60),
    );
    let all: Vec<Value> = serde_json::from_slice(&lint.stdout).unwrap_or_else(|e| {
        panic!(
            "lint JSON: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        )
    });
    let findings: Vec<&Value> = all
        .iter()
        .filter(|f| s(f, "outcome") == Some("finding"))
        .collect();
    let planted = truth["planted"].as_array().expect("planted");
    let twins = truth["twins"].as_array().expect("twins");

    let mut missed = Vec::new();
    let mut table = BTreeMap::new();
    for rule in RULES {
        let mine: Vec<&&Value> = findings
            .iter()
            .filter(|f| s(f, "rule") == Some(rule))
            .collect();
        let want: Vec<&Value> = planted
            .iter()
            .filter(|p| s(p, "rule") == Some(rule))
            .collect();
        let tp = mine
            .iter()
            .filter(|f| want.iter().any(|p| about(f, p)))
            .count();
        let found = want
            .iter()
            .filter(|p| mine.iter().any(|f| about(f, p)))
            .count();
        for p in &want {
            match mine.iter().find(|f| about(f, p)) {
                Some(f) => {
                    assert!(
                        f["trace_ids"].as_array().is_some_and(|t| !t.is_empty()),
                        "no exemplar traces: {f}"
                    );
                    assert!(
                        f["evidence"].as_object().is_some_and(|e| !e.is_empty()),
                        "no evidence: {f}"
                    );
                }
                None => missed.push(format!("{rule} {} ({})", p, p["what"])),
            }
        }
        for t in twins.iter().filter(|t| s(t, "rule") == Some(rule)) {
            let flagged: Vec<&&&Value> = mine.iter().filter(|f| about(f, t)).collect();
            assert!(
                flagged.is_empty(),
                "twin {t} ({}) flagged by {rule}: {flagged:?}",
                t["what"]
            );
        }
        let precision = tp as f64 / mine.len().max(1) as f64;
        let recall = found as f64 / want.len().max(1) as f64;
        eprintln!(
            "audits scenario {rule}: precision {precision:.2} ({tp}/{} findings planted), recall {recall:.2} ({found}/{} planted found)",
            mine.len(),
            want.len()
        );
        table.insert(rule, (precision, recall));
    }
    let others: Vec<String> = findings
        .iter()
        .filter(|f| !RULES.contains(&s(f, "rule").unwrap_or("")))
        .map(|f| {
            format!(
                "{} {}",
                s(f, "rule").unwrap_or(""),
                s(f, "message").unwrap_or("")
            )
        })
        .collect();
    eprintln!(
        "audits scenario: {:.1} s (scenario {} s); findings of other rules: {others:?}",
        started.elapsed().as_secs_f64(),
        truth["seconds"]
    );
    assert!(
        missed.is_empty(),
        "planted patterns not found: {missed:?}\nfindings:\n{}",
        serde_json::to_string_pretty(&findings).unwrap_or_default()
    );
    for (rule, (p, r)) in table {
        assert_eq!(r, 1.0, "{rule} recall");
        assert_eq!(p, 1.0, "{rule} precision");
    }
}
