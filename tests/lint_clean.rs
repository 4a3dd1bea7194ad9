//! Precision on a realistic clean system: tests/py/clean_system/system.py runs a dozen services
//! built right (OpenTelemetry Python SDK, real HTTP on 127.0.0.1, `requests` with real timeouts,
//! `tenacity` jittered retries, SQLite) but full of what naive detectors mistake for
//! anti-patterns — long-polls, keyset/offset/API paging, a shared auth service with a call-back,
//! a stray call, a fan-out with one retry per layer, a batch job backing off through a 503
//! outage, a loop posting successive items through it, a stateless service scaled in — and
//! exports to a running `faultline record`. `faultline lint` must report nothing above `info`.
//! Precision (findings above info, 0) and the per-rule judged counts are printed; the rules the
//! system exercises must have judged something (a clean result from judging nothing would prove
//! nothing).
//!
//! The venv comes from scripts/test-deps.sh; without it this test fails (it never skips).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{FAULTLINE, Recorder, root, venv_python, wait_timeout};
use serde_json::Value;

fn lint(cap: &std::path::Path, args: &[&str]) -> (String, i32) {
    let out = Command::new(FAULTLINE)
        .arg("lint")
        .arg(cap)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run faultline lint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error"), "lint stderr: {stderr}");
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        out.status.code().unwrap_or(-1),
    )
}

/// The text report's coverage table: rule → (judged, findings, undecided).
fn coverage(text: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let mut out = BTreeMap::new();
    let mut on = false;
    for line in text.lines() {
        if line.starts_with("coverage:") {
            on = true;
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if !on || cols.len() < 6 || cols[0] == "RULE" {
            continue;
        }
        let n = |i: usize| {
            cols[i]
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("bad coverage row: {line}"))
        };
        out.insert(cols[0].to_string(), (n(2), n(3), n(4)));
    }
    out
}

#[test]
fn a_clean_realistic_system_has_no_finding_above_info() {
    let started = Instant::now();
    let py = venv_python();
    let rec = Recorder::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.json");
    let mut sys = Command::new(py)
        .arg(root().join("tests/py/clean_system/system.py"))
        .arg(rec.http_url(""))
        .arg(&summary)
        .env("NO_PROXY", "*")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn the clean system");
    let st = wait_timeout(&mut sys, Duration::from_secs(100));
    if st.is_none() {
        let _ = sys.kill();
        let _ = sys.wait();
    }
    let st = st.expect("the clean system did not finish within 100 s");
    assert!(st.success(), "the clean system failed: {st:?}");
    let stopped = rec.stop();
    stopped.assert_clean();
    let cap = stopped.out.clone();

    // The system did what it is for: long-polls that waited, an outage the jobs went through.
    let sum: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    let num = |k: &str| sum[k].as_u64().unwrap_or(0);
    assert!(num("slow_polls") >= 20, "too few 30 s long-polls: {sum}");
    assert!(num("polls") >= 200, "too few polls: {sum}");
    assert!(
        num("ledger_503") >= 20,
        "the ledger outage was not seen: {sum}"
    );
    assert!(
        num("export_failures") >= 10,
        "the item loop saw no outage: {sum}"
    );

    let (json, code) = lint(&cap, &["--format", "json"]);
    let all: Vec<Value> = serde_json::from_str(&json).expect("lint JSON");
    let findings: Vec<&Value> = all.iter().filter(|f| f["outcome"] == "finding").collect();
    let above: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| format!("{} {} {}", f["rule"], f["severity"], f["message"]))
        .collect();
    let info: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"] == "info")
        .map(|f| format!("{} {}", f["rule"], f["message"]))
        .collect();
    let (text, _) = lint(&cap, &[]);
    let cov = coverage(&text);
    let judged: Vec<String> = cov
        .iter()
        .map(|(r, (j, f, u))| format!("{r} judged {j} findings {f} undecided {u}"))
        .collect();
    eprintln!(
        "clean system: {} finding(s) above info (precision: must be 0), {} info; {:.1} s\n  per rule: {}\n  info: {info:?}\n  summary: {sum}",
        above.len(),
        info.len(),
        started.elapsed().as_secs_f64(),
        judged.join("; ")
    );
    assert!(
        above.is_empty(),
        "findings above info on the clean system: {above:#?}"
    );
    assert_eq!(code, 0, "no error finding, so lint exits 0");
    // Every rule the system exercises judged something.
    for rule in [
        "CYC-001", "TMO-001", "N1-001", "N1-002", "RTY-003", "STA-001",
    ] {
        let (j, _, _) = cov.get(rule).copied().unwrap_or_default();
        assert!(j > 0, "{rule} judged nothing on the clean system:\n{text}");
    }
    let (j, _, u) = cov.get("RTY-001").copied().unwrap_or_default();
    assert!(
        j + u > 0,
        "RTY-001 saw no retry chain (the batch job's):\n{text}"
    );
}
