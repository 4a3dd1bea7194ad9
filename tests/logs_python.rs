//! Python `logging` through the real OpenTelemetry SDK (`LoggingHandler` → `OTLPLogExporter`,
//! gRPC and HTTP/protobuf, spans through `OTLPSpanExporter`; tests/py/logs_scenario.py) exported
//! to a running `faultline record`. On the capture, `faultline trace CAPTURE TRACE_ID --format
//! json` must show each record under its span in time order, the ERROR record and the exception
//! record must make their spans errors, and the record logged outside any span must stay listed
//! by its service (the store's per-service records, read through the replay). A trace that is
//! not there exits 2 naming it; a log record with a bad id is answered with a warning naming
//! the field. `faultline review` on the same capture, in tmux: the Logs view lists the records,
//! `x` keeps the errors, `e` opens the newest one's span with its records in the span panel.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn scenario(exporter: &str) -> (Stopped, Value) {
    let py = venv_python();
    let rec = Recorder::start();
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    let endpoint = match exporter {
        "grpc" => rec.grpc.to_string(),
        _ => format!("http://{}", rec.http),
    };
    run_scenario(
        Command::new(&py)
            .arg(root().join("tests/py/logs_scenario.py"))
            .args([exporter, &endpoint])
            .arg(&truth_path),
        &format!("logs_scenario.py ({exporter})"),
        &rec,
    );
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    let stopped = rec.stop();
    stopped.assert_clean();
    (stopped, truth)
}

fn trace_cmd(capture: &Path, args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(FAULTLINE)
            .arg("trace")
            .arg(capture)
            .args(args)
            .env("NO_COLOR", "1"),
        Duration::from_secs(60),
    )
}

/// Every span of the tree, depth first.
fn spans(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = v["spans"].as_array().unwrap().iter().rev().collect();
    while let Some(s) = stack.pop() {
        out.push(s);
        stack.extend(s["children"].as_array().unwrap().iter().rev());
    }
    out
}

fn check(exporter: &str) {
    let (stopped, truth) = scenario(exporter);
    let tid = truth["trace_id"].as_str().unwrap();
    let out = trace_cmd(&stopped.out, &[tid, "--format", "json"]);
    assert!(
        out.status.success(),
        "faultline trace: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["trace_id"], tid);
    let all = spans(&doc);
    assert_eq!(all.len(), 3, "three spans: {doc:#}");
    for (name, id) in truth["spans"].as_object().unwrap() {
        let span = all
            .iter()
            .find(|s| s["span_id"] == *id)
            .unwrap_or_else(|| panic!("span {name} ({id}) not in the trace: {doc:#}"));
        assert_eq!(span["name"], name.as_str());
        let bodies: Vec<&str> = span["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["body"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = truth["logs"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(bodies, want, "records under span {name}");
        let errored = truth["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == name.as_str());
        assert_eq!(
            span["status"],
            if errored { "error" } else { "unset" },
            "status of {name} (no span sets an error status; only its records can)"
        );
        for l in span["logs"].as_array().unwrap() {
            assert_eq!(l["service"], "shop");
            assert_eq!(l["span_id"], *id);
        }
    }
    // The ERROR record of `charge` and the exception record of `audit`.
    let charge = all.iter().find(|s| s["name"] == "charge").unwrap();
    let sev: Vec<(&str, u64)> = charge["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["severity"].as_str().unwrap(),
                l["severity_number"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sev, [("WARN", 13), ("ERROR", 17)]);
    let audit = all.iter().find(|s| s["name"] == "audit").unwrap();
    assert_eq!(
        audit["logs"][0]["exception_type"],
        truth["exception"]["type"]
    );
    assert_eq!(
        audit["logs"][0]["exception_message"],
        truth["exception"]["message"]
    );
    assert_eq!(doc["error_count"], 2);
    assert_eq!(doc["log_count"], 4);
    assert_eq!(doc["logs"], Value::Array(vec![]), "every record had a span");

    // The text form nests the records under their spans.
    let text = trace_cmd(&stopped.out, &[tid]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
    };
    assert!(at("shop  charge  CLIENT") < at("ERROR payment declined"));
    assert!(at("ERROR payment declined") < at("shop  audit  INTERNAL"));
    assert!(
        lines[at("payment declined")].starts_with("    │ "),
        "{text}"
    );

    // The record logged outside any span: no trace, listed by its service and time.
    let mut r = faultline::replay::load(
        &[&stopped.out],
        faultline::store::StoreConfig::replay(usize::MAX),
    )
    .unwrap();
    let snap = r.snapshot();
    let untraced: Vec<String> = snap
        .logs
        .search(Some("shop"), 0, u64::MAX)
        .iter()
        .map(|l| l.body.to_string())
        .collect();
    let want: Vec<String> = truth["untraced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(untraced, want);
    assert!(snap.logs.search(Some("other"), 0, u64::MAX).is_empty());
    assert_eq!(snap.counters.log_records, 5);

    // A trace that is not there: exit 2, naming it.
    let missing = "0123456789abcdef0123456789abcdef";
    let out = trace_cmd(&stopped.out, &[missing]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("trace {missing} is not in")),
        "stderr: {err}"
    );
}

#[test]
fn python_logging_over_grpc() {
    check("grpc");
}

#[test]
fn review_lists_the_records_and_jumps_to_their_span() {
    use common::tmux::Session;
    let (stopped, truth) = scenario("grpc");
    let log = stopped.dir.path().join("review.log");
    let cmd = format!(
        "{FAULTLINE} review {} --log-file {}",
        stopped.out.display(),
        log.display()
    );
    let s = Session::start("logs", &cmd);
    s.wait("the review dashboard", Duration::from_secs(30), |t| {
        t.contains("faultline REVIEW")
    });
    s.keys(&["L"]);
    let list = s.wait("the Logs view", Duration::from_secs(10), |t| {
        t.contains("Logs 5 of 5")
    });
    for body in [
        "checkout started order=42",
        "card declined once, retrying",
        "payment declined",
        "audit failed [ValueError: audit ledger unavailable]",
        "background sweep done",
    ] {
        assert!(list.contains(body), "{body:?} not listed:\n{list}");
    }
    s.keys(&["x"]);
    let errors = s.wait("errors only", Duration::from_secs(10), |t| {
        t.contains("Logs 2 of 5")
    });
    assert!(!errors.contains("background sweep done"), "{errors}");
    // The newest error is the exception record of `audit`.
    s.keys(&["e"]);
    let tid = truth["trace_id"].as_str().unwrap();
    let wf = s.wait("the record's span", Duration::from_secs(10), |t| {
        t.contains(&format!("Trace {tid}")) && t.contains("Logs (1)")
    });
    assert!(
        wf.contains("shop: audit"),
        "the span panel shows audit:\n{wf}"
    );
    assert!(
        wf.contains("ERROR audit failed [ValueError: audit ledger"),
        "{wf}"
    );
    s.quit();
}

#[test]
fn python_logging_over_http() {
    check("http");
}

/// A record whose trace id has the wrong length is kept without it, and the exporter is told
/// which record and field (partial success, 0 rejected); JSON that does not parse names the
/// record and field in the 400.
#[test]
fn bad_log_records_are_named() {
    let rec = Recorder::start();
    faultline::ingest::tls_files::install_default_provider();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let post = |body: &str| {
        http.post(rec.http_url("/v1/logs"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let resp = post(
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"body":{"stringValue":"ok"}},
            {"body":{"stringValue":"short id"},"traceId":"0af7651916cd43dd"}]}]}]}"#,
    );
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedLogRecords"], "0");
    assert_eq!(
        v["partialSuccess"]["errorMessage"],
        "log record 1: traceId must be 16 bytes, got 8 (the record is kept without it)"
    );
    let resp = post(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not hex"}]}]}]}"#);
    assert_eq!(resp.status(), 400);
    let v: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("resourceLogs[0].scopeLogs[0].logRecords[0].traceId"),
        "{v}"
    );
    let stopped = rec.stop();
    stopped.assert_clean();
}
