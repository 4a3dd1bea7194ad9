//! The lint on real instrumented services: tests/py/lint_scenario/scenario.py (OpenTelemetry
//! Python SDK, `requests`, `tenacity`, SQLite, HTTP servers on 127.0.0.1) plants each anti-pattern
//! (unjittered fixed and exponential retries, a missing timeout, a stateful handler behind sticky
//! routing, N+1 queries, a synchronous call-back cycle) on one edge or service and its correct
//! twin on another, exports OTLP to a running
//! `faultline record`, and `faultline lint` must find every planted problem, in all four output
//! formats, and flag none of the twins. Precision and recall are printed.
//!
//! The venv comes from scripts/test-deps.sh; without it this test fails (it never skips).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{finding_about as about, json_str as s};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    let py = root().join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/test-deps.sh (it makes the Python venv with opentelemetry-sdk, requests, tenacity, pybreaker)",
        py.display()
    );
    let ok = Command::new(&py)
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http.trace_exporter, requests, tenacity"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the venv at .venv lacks opentelemetry-sdk, the OTLP exporter, requests or tenacity: run scripts/test-deps.sh"
    );
    py
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `faultline record`, the scenario against it, stops the recorder with SIGTERM.
fn record_scenario(dir: &Path) -> (PathBuf, Value) {
    let py = venv_python();
    let cap = dir.join("capture.jsonl");
    let mut rec = Kill(
        Command::new(FAULTLINE)
            .arg("record")
            .arg("--out")
            .arg(&cap)
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn faultline record"),
    );
    let stderr = rec.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut http = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("faultline record did not print its otlp-http address");
        if let Some(a) = line.strip_prefix("faultline: listening otlp-http=") {
            http = Some(a.trim().to_string());
        }
    }
    let truth = dir.join("truth.json");
    let mut scen = Kill(
        Command::new(py)
            .arg(root().join("tests/py/lint_scenario/scenario.py"))
            .arg(format!("http://{}", http.unwrap_or_default()))
            .arg(&truth)
            .env("NO_PROXY", "*")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the scenario"),
    );
    let st = wait(&mut scen.0, Duration::from_secs(120))
        .expect("the scenario did not finish within 120 s");
    assert!(st.success(), "the Python scenario failed: {st:?}");
    let pid = rec.0.id().to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let st = wait(&mut rec.0, Duration::from_secs(20))
        .expect("faultline record did not stop on SIGTERM");
    assert!(st.success(), "faultline record exited with {st:?}");
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(&truth).expect("truth file"))
        .expect("truth json");
    (cap, truth)
}

fn lint(cap: &Path, args: &[&str]) -> (String, i32) {
    let out = Command::new(FAULTLINE)
        .arg("lint")
        .arg(cap)
        .args(args)
        .output()
        .expect("run lint");
    assert!(
        out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("error"),
        "lint stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn lint_finds_every_planted_anti_pattern_and_no_twin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let (cap, truth) = record_scenario(dir.path());
    let planted = truth["planted"].as_array().expect("planted").clone();
    let twins = truth["twins"].as_array().expect("twins").clone();

    // JSON: the stable fields, every planted problem, no twin.
    let (json, code) = lint(&cap, &["--format", "json"]);
    assert_eq!(
        code, 1,
        "an error-severity finding (STA-001) must exit 1 with the default --fail-on error"
    );
    let all: Vec<Value> = serde_json::from_str(&json).expect("lint JSON");
    for f in &all {
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
            assert!(f.get(k).is_some(), "finding lacks `{k}`: {f}");
        }
    }
    let findings: Vec<&Value> = all
        .iter()
        .filter(|f| s(f, "outcome") == Some("finding"))
        .collect();
    let mut found = 0;
    for p in &planted {
        let hit = findings
            .iter()
            .find(|f| s(f, "rule") == s(p, "rule") && about(f, p));
        match hit {
            Some(f) => {
                found += 1;
                assert!(
                    f["trace_ids"].as_array().is_some_and(|t| !t.is_empty()),
                    "no exemplar traces: {f}"
                );
                assert!(
                    f["evidence"].as_object().is_some_and(|e| !e.is_empty()),
                    "no evidence: {f}"
                );
            }
            None => panic!(
                "planted {} not found ({}); findings:\n{}",
                p,
                p["what"],
                serde_json::to_string_pretty(&findings).unwrap_or_default()
            ),
        }
    }
    for t in &twins {
        let flagged: Vec<&&Value> = findings.iter().filter(|f| about(f, t)).collect();
        assert!(
            flagged.is_empty(),
            "twin {} ({}) flagged: {:?}",
            t,
            t["what"],
            flagged
        );
    }
    let tp = findings
        .iter()
        .filter(|f| {
            planted
                .iter()
                .any(|p| s(f, "rule") == s(p, "rule") && about(f, p))
        })
        .count();
    let precision = tp as f64 / findings.len().max(1) as f64;
    let recall = found as f64 / planted.len() as f64;
    let others: Vec<String> = findings
        .iter()
        .filter(|f| {
            !planted
                .iter()
                .any(|p| s(f, "rule") == s(p, "rule") && about(f, p))
        })
        .map(|f| {
            format!(
                "{} {} {}",
                s(f, "rule").unwrap_or(""),
                s(f, "severity").unwrap_or(""),
                s(f, "message").unwrap_or("")
            )
        })
        .collect();
    eprintln!(
        "lint scenario: {found}/{} planted found (recall {recall:.2}), {tp}/{} findings planted (precision {precision:.2}), {} twins clean; unplanted findings: {others:?}; {:.1} s",
        planted.len(),
        findings.len(),
        twins.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(recall, 1.0);
    assert_eq!(precision, 1.0, "findings that were not planted: {others:?}");

    // The same results in text, Markdown and SARIF.
    let (text, code) = lint(&cap, &[]);
    assert_eq!(code, 1);
    let (md, code) = lint(&cap, &["--format", "markdown"]);
    assert_eq!(code, 1);
    let (sarif, code) = lint(&cap, &["--format", "sarif"]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&sarif).expect("SARIF JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(
        results.len(),
        findings.len(),
        "SARIF results = JSON findings"
    );
    for p in &planted {
        let rule = s(p, "rule").unwrap_or("");
        let subj = match (s(p, "caller"), s(p, "dependency"), s(p, "service")) {
            (Some(c), Some(d), _) => format!("{c} → {d}"),
            (_, _, Some(svc)) => svc.to_string(),
            _ => unreachable!(),
        };
        assert!(
            text.contains(rule) && text.contains(&subj),
            "text lacks {rule} {subj}:\n{text}"
        );
        assert!(
            md.contains(rule) && md.contains(&subj.replace('_', "\\_")),
            "markdown lacks {rule} {subj}:\n{md}"
        );
        let logical = match (s(p, "caller"), s(p, "dependency"), s(p, "service")) {
            (Some(c), Some(d), _) => format!("edge:{c}->{d}"),
            (_, _, Some(svc)) => format!("service:{svc}"),
            _ => unreachable!(),
        };
        assert!(
            results.iter().any(|r| r["ruleId"] == rule
                && r["locations"][0]["logicalLocations"]
                    .as_array()
                    .is_some_and(|l| l
                        .iter()
                        .any(|x| x["fullyQualifiedName"] == logical.as_str()))),
            "SARIF lacks {rule} at {logical}"
        );
    }
    // No finding header in the text or the Markdown table names a twin.
    for t in &twins {
        let subj = match (s(t, "caller"), s(t, "dependency"), s(t, "service")) {
            (Some(c), Some(d), _) => format!("{c} → {d}"),
            (_, _, Some(svc)) => svc.to_string(),
            _ => unreachable!(),
        };
        for line in text
            .lines()
            .filter(|l| l.starts_with("ERROR") || l.starts_with("WARNING") || l.starts_with("INFO"))
        {
            let subject = line
                .split_whitespace()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                !subject.starts_with(&subj),
                "text flags twin {subj}: {line}"
            );
        }
        for line in md
            .lines()
            .filter(|l| l.starts_with("| 🔴") || l.starts_with("| 🟠") || l.starts_with("| 🔵"))
        {
            let cells: Vec<&str> = line.split(" | ").collect();
            assert!(
                !cells.get(2).is_some_and(|c| c.starts_with(&subj)),
                "markdown flags twin {subj}: {line}"
            );
        }
    }

    // Exit codes: nothing at or above a threshold above every finding would be 0; --fail-on
    // info still fails; deterministic output for the same input.
    let (json2, _) = lint(&cap, &["--format", "json"]);
    assert_eq!(
        json, json2,
        "lint output differs between two runs on the same capture"
    );
    let (_, code) = lint(&cap, &["--format", "json", "--fail-on", "info"]);
    assert_eq!(code, 1);
    eprintln!("lint_scenario: {:.1?} in all", started.elapsed());
}
