//! The real OpenTelemetry Python SDK (`opentelemetry-sdk` with the OTLP gRPC and HTTP/protobuf
//! exporters, from the venv that scripts/test-deps.sh makes) exports the multi-service scenario
//! in tests/py/scenario.py to a running `faultline record`; `faultline report` on the capture
//! must give the scenario's ground truth: the same edges, exactly the same calls and errors,
//! and p50/p95/p99/max within the sketch's 1 %.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn run(exporter: &str, compression: &str) {
    let py = venv_python();
    let rec = Recorder::start();
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    let endpoint = match exporter {
        "grpc" => rec.grpc.to_string(),
        _ => format!("http://{}", rec.http),
    };
    run_scenario_within(
        Command::new(&py)
            .arg(root().join("tests/py/scenario.py"))
            .args([exporter, &endpoint])
            .arg(&truth_path)
            .args(["--compression", compression]),
        &format!("the Python scenario ({exporter}, {compression})"),
        &rec,
        Duration::from_secs(180),
    );
    let truth = load_truth(&truth_path);

    let stopped = rec.stop();
    stopped.assert_clean();

    // The capture holds every accepted request: every span once, the metrics and the logs.
    let cap = read_capture(&stopped.out);
    assert_eq!(
        cap.spans as u64, truth.spans,
        "capture holds {} spans, the SDK exported {} (all acknowledged)",
        cap.spans, truth.spans
    );
    let mut ids = cap
        .span_ids
        .iter()
        .map(|(t, s, _)| (t, s))
        .collect::<Vec<_>>();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), cap.spans, "a span appears twice in the capture");
    for name in &truth.metric_names {
        assert!(
            cap.metric_names.iter().any(|m| m == name),
            "metric {name} missing from the capture's resourceMetrics lines (have {:?})",
            cap.metric_names
        );
    }
    assert_eq!(
        cap.log_records as u64, truth.logs,
        "log records in the capture"
    );

    let rows = report_json(&[&stopped.out]);
    assert_report_matches(&rows, &truth);

    // The text table names every caller too.
    let text = report_raw(&[&stopped.out], &["--format", "text"]);
    assert!(
        text.status.success(),
        "report --format text: {:?}",
        text.status
    );
    let text = String::from_utf8_lossy(&text.stdout);
    for svc in [
        "frontend",
        "checkout",
        "payments",
        "inventory",
        "recommendations",
    ] {
        assert!(text.contains(svc), "text report lacks {svc}:\n{text}");
    }
}

#[test]
fn python_grpc() {
    run("grpc", "none");
}

#[test]
fn python_grpc_gzip() {
    run("grpc", "gzip");
}

#[test]
fn python_http_protobuf() {
    run("http", "none");
}

#[test]
fn python_http_protobuf_gzip() {
    run("http", "gzip");
}

/// The capture is written in the Collector `file` exporter's encoding, so other tools (and the
/// Collector's own `otlpjsonfile` receiver) can read what faultline records.
#[test]
fn capture_uses_collector_json_encoding() {
    let py = venv_python();
    let rec = Recorder::start();
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    run_scenario_within(
        Command::new(&py)
            .arg(root().join("tests/py/scenario.py"))
            .args(["grpc", &rec.grpc.to_string()])
            .arg(&truth_path),
        "the Python scenario",
        &rec,
        Duration::from_secs(180),
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    let cap = read_capture(&stopped.out);
    assert!(cap.spans > 0);
    let problems = collector_encoding_problems(&cap);
    assert!(
        problems.is_empty(),
        "capture deviates from the Collector's OTLP/JSON:\n  {}",
        problems.join("\n  ")
    );
}
