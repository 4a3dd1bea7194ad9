//! `faultline report` on a capture written in the OpenTelemetry Collector `file` exporter's
//! format (one ExportTrace/Metrics/LogsServiceRequest per line, OTLP/JSON: hex ids, kind and
//! status code as integers, 64-bit integers as decimal strings).
//!
//! No Collector binary can run here (none is packaged in the registries this project may use),
//! and the `rotel` PyPI wheel (0.0.1a15; its exporters are otlp, blackhole, datadog,
//! clickhouse, aws-xray and kafka) has no file exporter. So the capture is the hand-written
//! fixture tests/fixtures/collector-file-exporter.jsonl, in exactly the Collector's encoding
//! (see tests/fixtures/README.md for what it holds).

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn fixture() -> PathBuf {
    root().join("tests/fixtures/collector-file-exporter.jsonl")
}

fn find<'a>(rows: &'a [Row], caller: &str, pred: impl Fn(&str) -> bool) -> &'a Row {
    let hits: Vec<&Row> = rows
        .iter()
        .filter(|r| r.caller == caller && pred(&r.dependency))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one row for caller {caller}, got {hits:?} in {rows:#?}"
    );
    hits[0]
}

fn close(got: f64, want: f64) -> bool {
    within(got, want)
}

/// The rows the whole fixture must give. `cart_calls` is 4 for the whole file (the 4th call is
/// the 40 ms failure on line 5) and 3 when line 5 is cut off.
fn assert_fixture_rows(rows: &[Row], whole: bool) {
    assert_eq!(rows.len(), 3, "three edges in the fixture: {rows:#?}");

    // shop-frontend -> cart: the SERVER child in `cart` names the dependency.
    let cart = find(rows, "shop-frontend", |d| d == "cart");
    assert_eq!(cart.kind, "http");
    assert_eq!(cart.calls, if whole { 4 } else { 3 });
    assert_eq!(cart.errors, if whole { 1 } else { 0 });
    assert!(close(cart.p50_ms, 10.0), "p50 {} want 10 ms", cart.p50_ms);
    if whole {
        assert!(close(cart.max_ms, 40.0), "max {} want 40 ms", cart.max_ms);
        // p95/p99 of {10, 10, 10, 40} depend on the quantile definition: anywhere in [10, 40].
        for q in [cart.p95_ms, cart.p99_ms] {
            assert!(
                (10.0 * 0.99..=40.0 * 1.01).contains(&q),
                "p95/p99 {q} outside [10, 40]"
            );
        }
        assert!(
            (cart.error_ratio - 0.25).abs() < 1e-3,
            "error_ratio {}",
            cart.error_ratio
        );
    } else {
        assert!(close(cart.max_ms, 10.0), "max {} want 10 ms", cart.max_ms);
    }

    // cart -> redis (old semconv: db.system + net.peer.name), no server side.
    let redis = find(rows, "cart", |d| d.contains("redis"));
    assert!(
        redis.dependency.contains("cart-cache"),
        "db dependency names the host: {redis:?}"
    );
    assert_eq!(redis.kind, "db");
    assert_eq!((redis.calls, redis.errors), (3, 0));
    for q in [redis.p50_ms, redis.p95_ms, redis.p99_ms, redis.max_ms] {
        assert!(
            close(q, 2.5),
            "redis latencies are all 2.5 ms, got {redis:?}"
        );
    }

    // shop-frontend -> ads: peer.service wins over net.peer.name and http.url.
    let ads = find(rows, "shop-frontend", |d| d == "ads");
    assert_eq!(ads.kind, "http");
    assert_eq!((ads.calls, ads.errors), (2, 0));
    for q in [ads.p50_ms, ads.p95_ms, ads.p99_ms, ads.max_ms] {
        assert!(close(q, 7.0), "ads latencies are all 7 ms, got {ads:?}");
    }
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A stderr line that names both the file and the line number (`FILE:N` or `... line N ...`).
fn names_file_and_line(stderr: &str, file: &Path, line: usize) -> bool {
    let fname = file.file_name().unwrap().to_string_lossy().to_string();
    stderr.lines().any(|l| {
        l.contains(&fname)
            && (l.contains(&format!("line {line}")) || l.contains(&format!(":{line}")))
    })
}

#[test]
fn fixture_is_in_the_collector_encoding() {
    // Guard the fixture itself: if someone edits it, it must stay in the Collector's format.
    let cap = read_capture(&fixture());
    assert_eq!(
        (cap.lines, cap.span_lines, cap.metric_lines, cap.log_lines),
        (5, 3, 1, 1)
    );
    assert_eq!(cap.spans, 4 * 3 + 3 + 2);
    let p = collector_encoding_problems(&cap);
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn report_on_collector_capture() {
    let rows = report_json(&[&fixture()]);
    assert_fixture_rows(&rows, true);
}

#[test]
fn report_on_gzipped_and_json_copies() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture()).unwrap();
    let gz = write(dir.path(), "collector-file-exporter.jsonl.gz", &gzip(&data));
    assert_fixture_rows(&report_json(&[&gz]), true);
    let json = write(dir.path(), "capture.json", &data);
    assert_fixture_rows(&report_json(&[&json]), true);
}

#[test]
fn report_on_capture_split_across_files() {
    // Children in one file, parents in the other: traces are assembled across files.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let a = write(
        dir.path(),
        "a.jsonl",
        format!("{}\n{}\n", lines[0], lines[1]).as_bytes(),
    );
    let b = write(
        dir.path(),
        "b.jsonl",
        format!("{}\n{}\n{}\n", lines[2], lines[3], lines[4]).as_bytes(),
    );
    assert_fixture_rows(&report_json(&[&a, &b]), true);
}

#[test]
fn capture_cut_mid_line_loads_whole_lines_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let last_start = text[..text.len() - 1].rfind('\n').unwrap() + 1;
    let cut_at = last_start + (text.len() - last_start) / 2;
    let cut = write(dir.path(), "cut.jsonl", &text.as_bytes()[..cut_at]);

    let out = report_raw(&[&cut], &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        names_file_and_line(&stderr, &cut, 5),
        "a capture cut mid-line must say which line was bad (cut.jsonl line 5); stderr:\n{stderr}"
    );
    match out.status.code() {
        // Partial load reported as a warning: the report covers the 4 whole lines.
        Some(0) => {
            let rows: Vec<Row> = serde_json::from_slice(&out.stdout).expect("report JSON");
            assert_fixture_rows(&rows, false);
        }
        Some(2) => {} // input error, per the CLI's exit codes
        other => panic!(
            "exit {other:?}: a cut capture gives 0 (partial, with the warning) or 2; stderr:\n{stderr}"
        ),
    }

    // The same, gzipped and cut mid-stream.
    let gz = gzip(text.as_bytes());
    let gz_cut = write(dir.path(), "cut.jsonl.gz", &gz[..gz.len() * 2 / 3]);
    let out = report_raw(&[&gz_cut], &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "a truncated .gz gives 0 (partial) or 2, not {:?}; stderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("cut.jsonl.gz"),
        "the message names the file; stderr:\n{stderr}"
    );
}

#[test]
fn garbage_line_in_the_middle_is_an_input_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(
        2,
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":",
    );
    let bad = write(
        dir.path(),
        "bad.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let out = report_raw(&[&bad], &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad input exits 2; stderr:\n{stderr}"
    );
    assert!(
        names_file_and_line(&stderr, &bad, 3),
        "the message names bad.jsonl and line 3; stderr:\n{stderr}"
    );
    assert!(stderr.trim().lines().count() >= 1);
}

#[test]
fn wrong_types_in_a_line_is_an_input_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = r#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c8031ff","spanId":"f000000000000001","name":"x","kind":3,"startTimeUnixNano":{"oops":1},"endTimeUnixNano":"2"}]}]}]}"#.to_string();
    let bad = write(
        dir.path(),
        "types.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let out = report_raw(&[&bad], &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad input exits 2; stderr:\n{stderr}"
    );
    assert!(
        names_file_and_line(&stderr, &bad, 4),
        "the message names types.jsonl and line 4; stderr:\n{stderr}"
    );
}

#[test]
fn missing_file_is_an_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-capture.jsonl");
    let out = report_raw(&[&missing], &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("no-such-capture.jsonl"),
        "stderr:\n{stderr}"
    );
}
