//! `faultline alerts FILE...` as a user runs it on a capture: when each shipped alert fired and
//! resolved (text and JSON, the same every run), exit codes 0/1 at `--fail-on` and 2 for bad
//! rules or captures.
//!
//! The capture (OTLP/JSON lines) holds an hour of `checkout` calling three dependencies twice a
//! second: `payments` fails 1 % of its calls except for five minutes at 25 %; `ledger` always
//! fails 30 % (its normal: no alert); `cache` answers steadily for 40 minutes, then nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");
const T0: u64 = 1_767_225_600_000_000_000;
const S: u64 = 1_000_000_000;

/// A deterministic generator (the test needs no randomness crate to be reproducible).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn span(id: u64, dep: &str, start: u64, fail: bool) -> String {
    let code = if fail { 503 } else { 200 };
    let status = if fail { r#","status":{"code":2}"# } else { "" };
    format!(
        r#"{{"traceId":"{id:032x}","spanId":"{id:016x}","name":"POST /{dep}","kind":3,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}","attributes":[{{"key":"peer.service","value":{{"stringValue":"{dep}"}}}},{{"key":"http.response.status_code","value":{{"intValue":"{code}"}}}}]{status}}}"#,
        start + 15_000_000
    )
}

fn write_capture(dir: &Path) -> PathBuf {
    let mut rng = Lcg(7);
    let mut lines = Vec::new();
    let mut id = 0u64;
    // One request per 10 seconds of traffic.
    for chunk in 0..360u64 {
        let mut spans = Vec::new();
        for i in 0..20u64 {
            let t = T0 + chunk * 10 * S + i * S / 2;
            let minute = (t - T0) / (60 * S);
            let pay_err = if (45..50).contains(&minute) {
                0.25
            } else {
                0.01
            };
            for (dep, err, until) in [
                ("payments", pay_err, 60),
                ("ledger", 0.30, 60),
                ("cache", 0.0, 40),
            ] {
                if minute < until {
                    id += 1;
                    spans.push(span(id, dep, t, rng.next() < err));
                }
            }
        }
        lines.push(format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        ));
    }
    let p = dir.join("cap.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").expect("write capture");
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(FAULTLINE)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run faultline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn a_capture_gives_the_fired_and_resolved_intervals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = write_capture(dir.path());
    let cap = cap.to_str().unwrap_or_default();

    let (code, out, err) = run(&["alerts", cap, "--format", "json"]);
    assert_eq!(code, 1, "a critical alert fired: exit 1\n{out}\n{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
    let find = |alert: &str, dep: &str| {
        rows.iter()
            .filter(|r| r["alert"] == alert && r["dependency"] == dep)
            .cloned()
            .collect::<Vec<_>>()
    };
    let spike = find("DependencyErrorSpike", "payments");
    assert_eq!(spike.len(), 1, "{out}");
    let s = &spike[0];
    assert_eq!(
        (&s["severity"], &s["caller"], &s["state"]),
        (&"critical".into(), &"checkout".into(), &"resolved".into()),
        "{s}"
    );
    // The spike runs 45:00–50:00 (2026-01-01T00:45Z); `for` is 2 minutes.
    let from = s["from"].as_str().unwrap_or_default();
    let to = s["to"].as_str().unwrap_or_default();
    assert!(
        ("2026-01-01T00:47:10Z"..="2026-01-01T00:47:30Z").contains(&from),
        "{s}"
    );
    assert!(
        ("2026-01-01T00:51:00Z"..="2026-01-01T00:52:30Z").contains(&to),
        "{s}"
    );
    assert!(s["value"].as_f64().is_some_and(|v| v > 0.15), "{s}");
    assert!(
        s["threshold"].as_f64().is_some_and(|v| v > 0.04 && v < 0.1),
        "{s}"
    );
    let silent = find("DependencySilent", "cache");
    assert_eq!(silent.len(), 1, "{out}");
    assert_eq!(
        silent[0]["state"], "firing",
        "still silent at the end: {out}"
    );
    assert_eq!(silent[0]["to"], serde_json::Value::Null);
    assert!(
        rows.iter().all(|r| r["dependency"] != "ledger"),
        "a dependency that always fails 30 % alerted: {out}"
    );

    // Text: the same intervals, the same every run.
    let (code, text, _) = run(&["alerts", cap]);
    assert_eq!(code, 1);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("evaluated every 10s")),
        "{text}"
    );
    let head = text.lines().nth(1).unwrap_or_default();
    assert_eq!(
        head.split_whitespace().collect::<Vec<_>>(),
        [
            "alert",
            "severity",
            "caller",
            "dependency",
            "state",
            "from",
            "to",
            "value",
            "threshold"
        ]
    );
    assert!(
        text.contains("DependencyErrorSpike") && text.contains("resolved"),
        "{text}"
    );
    assert_eq!(run(&["alerts", cap]).1, text, "deterministic");

    // --fail-on: only the warning (silence) from a rules directory without the spike rule.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/alerts.toml"))
            .expect("shipped");
    let silent_only: String = shipped
        .split("[[alert]]")
        .filter(|part| part.contains("name = \"DependencySilent\""))
        .map(|p| format!("[[alert]]{p}"))
        .collect();
    std::fs::write(rules.join("alerts.toml"), silent_only).expect("write");
    let r = rules.to_str().unwrap_or_default();
    assert_eq!(
        run(&["alerts", cap, "--rules", r]).0,
        0,
        "warnings pass --fail-on critical"
    );
    assert_eq!(
        run(&["alerts", cap, "--rules", r, "--fail-on", "warning"]).0,
        1
    );
    assert_eq!(
        run(&["alerts", cap, "--rules", r, "--fail-on", "none"]).0,
        0,
        "--fail-on none never fails"
    );
}

#[test]
fn bad_rules_and_captures_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("a.toml"),
        "[[alert]]\nname = \"A\"\nexpr = \"calls >\"\nfor = \"soon\"\n[alert.labels]\nseverity = \"high\"\n",
    )
    .expect("write");
    let cap = write_capture(dir.path());
    let (code, _, err) = run(&[
        "alerts",
        cap.to_str().unwrap_or_default(),
        "--rules",
        rules.to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 2, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "one error per problem:\n{err}");
    for (line, field) in lines.iter().zip(["for", "labels.severity", "expr"]) {
        assert!(
            line.starts_with("faultline: error: ")
                && line.contains(&format!("a.toml: rule A: {field}: ")),
            "{line}"
        );
    }
    let (code, _, err) = run(&["alerts", "/nonexistent/capture.jsonl"]);
    assert_eq!(code, 2, "{err}");
}
