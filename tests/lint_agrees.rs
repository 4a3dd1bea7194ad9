//! One answer per dependency (issue 8): on one capture and one window, the numbers `lint`
//! cites for an edge — calls, errors, retries, retry ratio, breaker state and source — are the
//! ones `report --format json` shows. The capture is the demo system's traffic (retries,
//! a resilience4j breaker that opens, a bulkhead queue) sent over OTLP/gRPC to the real
//! `faultline record`.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{Recorder, report_raw};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn demo_capture() -> common::Stopped {
    let rec = Recorder::start();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let sent = rt
        .block_on(faultline::demo::backfill(1, rec.grpc, 120))
        .expect("demo traffic sent");
    assert!(sent > 1000, "the demo sent {sent} spans");
    let stopped = rec.stop();
    stopped.assert_clean();
    stopped
}

fn json(out: std::process::Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{what} is not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn lint(cap: &Path) -> Value {
    let out = Command::new(FAULTLINE)
        .arg("lint")
        .arg(cap)
        .args(["--format", "json", "--fail-on", "error"])
        .output()
        .expect("run faultline lint");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "lint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(out, "lint --format json")
}

#[test]
fn lint_cites_the_numbers_report_shows() {
    let cap = demo_capture();
    let rows = json(
        report_raw(&[cap.out.as_path()], &["--format", "json"]),
        "report --format json",
    );
    let rows = rows.as_array().expect("report rows");
    let findings = lint(&cap.out);
    let findings = findings.as_array().expect("lint findings");
    let mut compared = 0;
    for f in findings {
        let ev = &f["evidence"];
        if ev.get("counted_by").is_none() {
            continue;
        }
        let (caller, dep) = (&f["caller"], &f["dependency"]);
        let row = rows
            .iter()
            .find(|r| &r["caller"] == caller && &r["dependency"] == dep)
            .unwrap_or_else(|| panic!("lint cites {caller} → {dep}, which report has no row for"));
        for k in ["calls", "errors", "retries"] {
            assert_eq!(
                ev[k], row[k],
                "{k} of {caller} → {dep}: lint {f}\nreport {row}"
            );
        }
        for k in ["error_ratio", "retry_ratio"] {
            let (a, b) = (ev[k].as_f64(), row[k].as_f64());
            assert!(
                a.zip(b).is_some_and(|(a, b)| (a - b).abs() < 1e-4),
                "{k} of {caller} → {dep}: lint {a:?}, report {b:?}"
            );
        }
        assert_eq!(
            ev["breaker"], row["breaker_detail"],
            "breaker of {caller} → {dep}"
        );
        let source = row["breaker_source"].as_str().unwrap_or("none");
        assert_eq!(
            ev["breaker_source"], source,
            "breaker source of {caller} → {dep}"
        );
        compared += 1;
    }
    assert!(
        compared > 0,
        "no lint finding on the demo capture cites the dependency view: {findings:#?}"
    );
    // The retry ratio lint judges by is the one report shows: nothing on an edge whose
    // report retry ratio is under the budget.
    for f in findings
        .iter()
        .filter(|f| f["rule"] == "RTY-004" && f["outcome"] == "finding")
    {
        let row = rows
            .iter()
            .find(|r| r["caller"] == f["caller"] && r["dependency"] == f["dependency"])
            .expect("row of the RTY-004 edge");
        assert!(
            row["retries"].as_u64().unwrap_or(0) > 0,
            "RTY-004 on an edge report shows no retries on: {f}\n{row}"
        );
    }
}
