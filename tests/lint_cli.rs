//! `faultline lint` and `faultline rules` as a user runs them: exit codes 0/1/2, rule errors on
//! stderr, `--fail-on`, and `lint --live` receiving OTLP/JSON over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// One OTLP/JSON trace request: `n` calls api → pay, 5 of them hanging 45 s (no timeout).
fn request(n: usize, base_ns: u64) -> String {
    let mut spans = Vec::new();
    for i in 0..n {
        let start = base_ns + i as u64 * 10_000_000;
        let dur: u64 = if i < 5 { 45_000_000_000 } else { 12_000_000 };
        spans.push(format!(
            r#"{{"traceId":"{:032x}","spanId":"{:016x}","name":"GET /charge","kind":3,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}","attributes":[{{"key":"http.request.method","value":{{"stringValue":"GET"}}}},{{"key":"server.address","value":{{"stringValue":"pay"}}}},{{"key":"http.response.status_code","value":{{"intValue":"200"}}}}]}}"#,
            i + 1,
            i + 1,
            start + dur
        ));
    }
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
}

fn write_capture(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("cap.jsonl");
    std::fs::write(&p, request(210, 1_767_225_600_000_000_000) + "\n").expect("write capture");
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(FAULTLINE)
        .args(args)
        .output()
        .expect("run faultline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = write_capture(dir.path());
    let cap = cap.to_str().unwrap_or_default();
    // TMO-001 is a warning (raised to error: the edge is all the caller does) ...
    let (code, out, _) = run(&["lint", cap, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let tmo = v
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|f| f["rule"] == "TMO-001" && f["outcome"] == "finding")
        })
        .cloned();
    let tmo = tmo.unwrap_or_else(|| panic!("no TMO-001 finding: {out}"));
    let sev = tmo["severity"].as_str().unwrap_or_default().to_string();
    assert_eq!(code, i32::from(sev == "error"), "default --fail-on error");
    assert_eq!(run(&["lint", cap, "--fail-on", "warning"]).0, 1);
    assert_eq!(run(&["lint", cap, "--fail-on", "info"]).0, 1);
    // --fail-on none: the same findings are reported, the exit is 0.
    let (code, none_out, _) = run(&["lint", cap, "--format", "json", "--fail-on", "none"]);
    assert_eq!(code, 0, "--fail-on none never fails");
    assert!(none_out.contains("TMO-001"), "{none_out}");
    // A rule set with nothing that fires: exit 0 (insufficient data does not fail).
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(rules.join("a.toml"), "[[rule]]\nid = \"CYC-001\"\ndetector = \"cyclic-dependency\"\nseverity = \"error\"\nremediation = \"r\"\n").expect("write");
    let (code, out, _) = run(&[
        "lint",
        cap,
        "--rules",
        rules.to_str().unwrap_or_default(),
        "--fail-on",
        "info",
    ]);
    assert_eq!(code, 0, "{out}");
    // Bad rules: exit 2, every problem on stderr.
    std::fs::write(
        rules.join("b.toml"),
        "[[rule]]\nid = \"B-1\"\ndetector = \"nope\"\nseverity = \"fatal\"\nremediation = \"r\"\n",
    )
    .expect("write");
    let (code, _, err) = run(&["lint", cap, "--rules", rules.to_str().unwrap_or_default()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("b.toml: rule B-1: severity: expected info, warning or error, got \"fatal\""),
        "{err}"
    );
    let (code, _, err) = run(&[
        "rules",
        "check",
        "--rules",
        rules.to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 2, "{err}");
    // Bad input: exit 2.
    assert_eq!(run(&["lint", "/nonexistent/capture.jsonl"]).0, 2);
    let (code, out, _) = run(&["rules", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("STA-001") && out.contains("params.keys"),
        "{out}"
    );
}

#[test]
fn lint_live_receives_otlp_and_lints_it() {
    let mut child = Command::new(FAULTLINE)
        .args([
            "lint",
            "--live",
            "--duration",
            "4s",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--format",
            "json",
            "--fail-on",
            "info",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lint --live");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("lint --live printed no address");
        if let Some(a) = line.strip_prefix("faultline: listening otlp-http=") {
            break a.trim().to_string();
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let body = request(210, now - 60_000_000_000);
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(s, "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("send");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "a finding at info or above: {out}");
    assert!(
        out.contains("\"TMO-001\"") && out.contains("\"dependency\": \"pay\""),
        "{out}"
    );
}

/// `lint --live` installs its signal handlers before binding (the one handler every command
/// uses): a SIGTERM sent the moment it says it is listening ends it cleanly, with its report.
#[test]
fn lint_live_stops_cleanly_on_a_signal_right_after_listening() {
    let mut child = Command::new(FAULTLINE)
        .args([
            "lint",
            "--live",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lint --live");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("lint --live printed no address");
        if line.starts_with("faultline: listening otlp-grpc=") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child, not yet reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "a clean exit, no findings: {out}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "the JSON report: {out}"
    );
}
