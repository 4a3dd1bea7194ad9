//! Fleet scale from the metrics pipeline: the dependencies table from the OpenTelemetry
//! Collector's service-graph and span-metrics series in a real Prometheus and a real
//! VictoriaMetrics, with no span sent to faultline (tests/fleet_support, tests/py/fleet_gen.py).
//! - 2,000 services, 20,000 service-graph edges and 2,000 span-metrics database edges: every
//!   edge is one row of `report --prometheus`, with calls, errors and p50/p95/p99 as the
//!   generator wrote them; a span-metrics series of an edge the service graph has is not a
//!   second row; SERVER spans are no edge. `lint` over the same range says `insufficient data`
//!   for every rule (they need spans or breaker/queue series), it finds nothing.
//! - The dashboard (`watch --prometheus`, in tmux) shows the metric rows and the age of the
//!   answer; when the server goes away the last answer stays on screen with the failure.
//! - `review --prometheus --from --to` shows a past range with no capture.

mod common;
mod fleet_support;

use std::process::Command;
use std::time::Duration;

use common::tmux::Session;
use fleet_support::*;

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn range_args(b: &Backend) -> Vec<String> {
    vec![
        "--from".into(),
        rfc3339(b.now - 300),
        "--to".into(),
        rfc3339(b.now),
    ]
}

fn report(b: &Backend) -> Vec<serde_json::Value> {
    let out = run_with_timeout(
        faultline()
            .args(["report", "--prometheus", &b.url, "--format", "json"])
            .args(range_args(b)),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "report --prometheus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report JSON")
}

fn row<'a>(rows: &'a [serde_json::Value], caller: &str, dep: &str) -> &'a serde_json::Value {
    let found: Vec<_> = rows
        .iter()
        .filter(|r| r["caller"] == caller && r["dependency"] == dep)
        .collect();
    assert_eq!(found.len(), 1, "{caller} → {dep}: {} rows", found.len());
    found[0]
}

fn close(got: &serde_json::Value, want: f64) -> bool {
    got.as_f64().is_some_and(|g| (g - want).abs() < 0.01)
}

/// What the generator wrote, at any scale; the counter increase over the range is 1200 per edge
/// (600 a step) — Prometheus extrapolates to the range's edges (× 300/240), VictoriaMetrics does
/// not, so calls lie in [1200, 1500] and ratios are exact.
fn check_rows(rows: &[serde_json::Value], b: &Backend) {
    assert_eq!(rows.len(), b.edges, "one row per edge");
    let hot = row(rows, "svc-0000", "svc-0001");
    let calls = hot["calls"].as_u64().expect("calls");
    assert!((1200..=1500).contains(&calls), "calls {calls}");
    assert!(close(&hot["error_ratio"], 0.30), "{hot}");
    assert!(close(&hot["p50_ms"], 75.0), "{hot}");
    assert!(close(&hot["p95_ms"], 97.5), "{hot}");
    assert!(close(&hot["p99_ms"], 99.5), "{hot}");
    assert_eq!(hot["latency_source"], "histogram");
    // Metric rows carry no retries, timeouts or rejections: unknown, not zero.
    for k in [
        "retry_rate",
        "retries",
        "retry_ratio",
        "timeouts",
        "timeout_ratio",
        "short_circuits",
    ] {
        assert!(hot[k].is_null(), "{k}: {hot}");
    }
    let calm = row(rows, "svc-1999", "svc-0000");
    assert!(close(&calm["error_ratio"], 0.01), "{calm}");
    // Span metrics: the db client edge named as an unpaired span would be.
    let db = row(rows, "svc-0042", "postgresql db-0042/orders");
    assert_eq!(db["kind"], "db");
    assert!(close(&db["p50_ms"], 17.5), "{db}");
    let db_calls = db["calls"].as_u64().expect("calls");
    assert!((246..=308).contains(&db_calls), "db calls {db_calls}");
    // svc-0000's span-metrics series with peer_service=svc-0001 is the service graph's edge.
    assert!(!rows.iter().any(|r| r["dependency"] == ""));
}

/// The text of `line` under the header label `col` (the header is the line holding it; cells
/// are right-aligned to the label's end).
fn cell_under(screen: &str, col: &str, line: &str) -> String {
    let header = screen
        .lines()
        .find(|l| l.contains(col))
        .unwrap_or_else(|| panic!("no {col} column:\n{screen}"));
    let chars: Vec<char> = header.chars().collect();
    let pat: Vec<char> = col.chars().collect();
    let start = (0..chars.len())
        .find(|&i| chars[i..].starts_with(&pat))
        .unwrap_or_default();
    line.chars().skip(start).take(pat.len()).collect()
}

#[test]
fn prometheus_at_fleet_scale_report_and_lint() {
    let b = prometheus(2000, 10);
    assert_eq!(b.edges, 22_000);
    check_rows(&report(&b), &b);
    let out = run_with_timeout(
        faultline()
            .args(["lint", "--prometheus", &b.url, "--format", "json"])
            .args(range_args(&b)),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "lint --prometheus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(!findings.is_empty());
    for f in &findings {
        assert_eq!(
            f["outcome"], "insufficient_data",
            "a guess from metrics: {f}"
        );
    }
}

#[test]
fn victoria_metrics_at_fleet_scale_report() {
    let b = victoria(2000, 10);
    assert_eq!(b.edges, 22_000);
    check_rows(&report(&b), &b);
}

#[test]
fn watch_shows_metric_rows_and_keeps_the_last_answer_when_the_server_goes() {
    let mut b = victoria(20, 3);
    let s = Session::start(
        "fleet-watch",
        &format!(
            "{} watch --prometheus {} --prometheus-interval 1s --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0",
            env!("CARGO_BIN_EXE_faultline"),
            b.url
        ),
    );
    let screen = s.wait("metric rows", Duration::from_secs(60), |s| {
        s.contains("metrics 80 edges") && s.contains("svc-0000 → svc-0001")
    });
    assert!(screen.contains("s old"), "{screen}");
    assert!(
        screen.contains("svc-0000 → postgresql db-0000/orders"),
        "{screen}"
    );
    // The 30 % edge sorts by its error rate, 4 calls a second (1200 in 5 minutes).
    let line = screen
        .lines()
        .find(|l| l.contains("svc-0000 → svc-0001"))
        .expect("row");
    assert!(line.contains(" 30 "), "{line}");
    assert!(line.contains("75.0ms"), "{line}");
    // RTY% and TMO% are unknown for metric rows (`–`), not 0.
    for col in ["RTY%", "TMO%"] {
        let cell = cell_under(&screen, col, line);
        assert_eq!(cell.trim(), "–", "{col} of {line}\n{screen}");
    }
    // The report says the same: unknown is null in JSON, not 0.
    let rows = report(&b);
    let hot = row(&rows, "svc-0000", "svc-0001");
    for k in ["retries", "retry_ratio", "timeouts", "timeout_ratio"] {
        assert!(hot[k].is_null(), "{k}: {hot}");
    }
    // The server goes away: the rows stay, with the failure and their age.
    let mut server = b.proc.take();
    server.kill().expect("kill victoria-metrics");
    server.wait().expect("reap victoria-metrics");
    let screen = s.wait("the failure", Duration::from_secs(60), |s| {
        s.contains("query failed")
    });
    assert!(screen.contains("svc-0000 → svc-0001"), "{screen}");
    assert!(screen.contains("metrics 80 edges"), "{screen}");
    s.quit();
}

#[test]
fn review_from_victoria_metrics_without_a_capture() {
    let b = victoria(20, 3);
    let [_, from, _, to] = <[String; 4]>::try_from(range_args(&b)).expect("four");
    let s = Session::start(
        "fleet-review",
        &format!(
            "{} review --prometheus {} --from {from} --to {to}",
            env!("CARGO_BIN_EXE_faultline"),
            b.url
        ),
    );
    let screen = s.wait("metric rows", Duration::from_secs(60), |s| {
        s.contains("svc-0000 → svc-0001") && s.contains("metrics 80 edges")
    });
    assert!(screen.contains("REVIEW"), "{screen}");
    s.quit();
}
