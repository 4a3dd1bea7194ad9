//! The real OpenTelemetry Node SDK with `@opentelemetry/exporter-trace-otlp-http`, which sends
//! OTLP/JSON (hex ids, string timestamps, integer enums, `intValue` as JSON numbers, chunked
//! request bodies), exports tests/node/scenario.mjs to a running `faultline record`;
//! `faultline report` on the capture must give the scenario's ground truth.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn run(compression: &str) {
    let dir = node_dir();
    let rec = Recorder::start();
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    let out = run_with_timeout(
        Command::new("node")
            .current_dir(&dir)
            .arg("scenario.mjs")
            .arg(format!("http://{}", rec.http))
            .arg(&truth_path)
            .args(["--compression", compression])
            .env("NO_PROXY", "*")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY"),
        Duration::from_secs(180),
    );
    assert!(
        out.status.success(),
        "the Node scenario ({compression}) failed: {:?}\n--- scenario stderr\n{}\n--- faultline stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        rec.stderr_so_far()
    );
    let truth = load_truth(&truth_path);
    let stopped = rec.stop();
    stopped.assert_clean();

    let cap = read_capture(&stopped.out);
    assert_eq!(
        cap.spans as u64, truth.spans,
        "every exported span is in the capture, once"
    );
    let mut ids = cap
        .span_ids
        .iter()
        .map(|(t, s, _)| (t, s))
        .collect::<Vec<_>>();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), cap.spans, "a span appears twice in the capture");

    let rows = report_json(&[&stopped.out]);
    assert_report_matches(&rows, &truth);
}

#[test]
fn node_http_json() {
    run("none");
}

#[test]
fn node_http_json_gzip() {
    run("gzip");
}
