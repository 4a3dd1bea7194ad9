//! Alerts on the dashboard, with the real binary in a real terminal (tmux, `tests/common/tmux.rs`):
//!
//! 1. `faultline demo` on free ports: the simulated payments breaker opens (its resilience4j
//!    metric) about 14 s in; the dashboard's alert engine (the shipped rules) fires
//!    `DependencyBreakerOpen`, the header shows the banner, `a` lists the alert firing on
//!    `checkout → payments` with its history, and `e` opens the payments detail.
//! 2. `faultline review` on a capture the real recorder made from 90 s of the demo's traffic: the
//!    capture is replayed through the alert rules as `faultline alerts` does — the Alerts view
//!    lists the alerts `faultline alerts --format json` prints for the same file, and the
//!    timeline's alert row marks the firing (`!`).
//!
//! 3. `faultline watch --rules DIR --alert-webhook URL`, DIR holding one alert rule of its own
//!    (`TestAnyCall`: any call, info): traffic (the demo's, backfilled over gRPC) makes the banner
//!    name it, and the Alerts view lists only it — the directory replaces the shipped set, as for
//!    `record` — with the webhook's delivery: the webhook (a plain HTTP server in the test) gets
//!    the firing alert, and the view says `sent` and how many requests the sink accepted.
//!
//! Needs tmux (`scripts/test-deps.sh`); a missing one fails the test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::FAULTLINE as BIN;
use common::tmux::Session;

const SECS: Duration = Duration::from_secs(1);

#[test]
fn demo_breaker_raises_the_banner_and_lists_the_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("demo.log");
    let cmd = format!(
        "{BIN} demo --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --log-file {}",
        log.display()
    );
    let s = Session::start("alerts-demo", &cmd);
    s.wait("the dashboard", 20 * SECS, |t| {
        t.contains("faultline DEMO") && t.contains("a Alerts")
    });
    // The breaker opens at 14 s; the boundary after it is evaluated once 10 s have passed.
    let t = s.wait("the alert banner", 120 * SECS, |t| {
        t.lines()
            .next()
            .is_some_and(|l| l.contains("FIRING") && l.contains("checkout → payments"))
    });
    let banner = t.lines().next().unwrap_or_default();
    assert!(
        banner.contains("ALERT FIRING") || banner.contains("ALERTS FIRING"),
        "{banner}"
    );
    s.keys(&["a"]);
    let t = s.wait(
        "the Alerts view listing the breaker alert",
        20 * SECS,
        |t| {
            t.lines().any(|l| {
                l.contains("firing")
                    && l.contains("critical")
                    && l.contains("DependencyBreakerOpen")
                    && l.contains("checkout → payments")
            })
        },
    );
    assert!(t.contains("history"), "the selected alert's history:\n{t}");
    // Select the breaker alert (firing alerts come first; critical before warning), open its
    // dependency.
    let rows: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.contains("STATE"))
        .skip(1)
        .take_while(|l| l.contains("firing") || l.contains("pending") || l.contains("resolved"))
        .collect();
    let at = rows
        .iter()
        .position(|l| l.contains("DependencyBreakerOpen") && l.contains("payments"))
        .unwrap_or_else(|| panic!("the breaker row among\n{}", rows.join("\n")));
    for _ in 0..at {
        s.keys(&["Down"]);
    }
    s.wait("the breaker alert selected", 10 * SECS, |t| {
        t.contains("DependencyBreakerOpen · checkout → payments")
    });
    s.keys(&["e"]);
    s.wait("the payments detail", 20 * SECS, |t| {
        t.contains("checkout → payments") && t.contains("Recent and slowest calls")
    });
    s.keys(&["Escape"]);
    s.wait("back on the alerts", 10 * SECS, |t| t.contains("STATE"));
    s.quit();
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Sends `seconds` of the demo's traffic, ending now, to the gRPC receiver on `port` (waiting
/// for it to listen).
fn backfill(port: u16, seconds: u64) {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sent = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match faultline::demo::backfill(11, addr, seconds).await {
                Ok(n) => break n,
                Err(e) if Instant::now() < deadline && e.contains("connect") => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("backfill: {e}"),
            }
        }
    });
    assert!(sent > 1_000, "{sent} spans");
}

/// A plain HTTP server that keeps every JSON body posted to it (answers 200).
fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Ok(read) = conn.try_clone() else { continue };
            let mut r = BufReader::new(read);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_ok()
                && let Ok(v) = serde_json::from_slice(&body)
            {
                keep.lock().expect("lock").push(v);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn watch_evaluates_the_alert_rules_of_its_rules_directory_and_delivers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("mine.toml"),
        r#"[[alert]]
name = "TestAnyCall"
expr = "calls >= 1"
for = "0s"
value = "calls"
[alert.labels]
severity = "info"
[alert.annotations]
summary = "{caller} → {dependency}: {calls} calls"
"#,
    )
    .expect("rule file");
    let port = free_port();
    let (hook, posted) = webhook();
    let cmd = format!(
        "{BIN} watch --rules {} --alert-webhook {hook} --otlp-grpc 127.0.0.1:{port} --otlp-http 127.0.0.1:0 --log-file {}",
        rules.display(),
        dir.path().join("watch.log").display()
    );
    let s = Session::start("alerts-watch", &cmd);
    s.wait("the live dashboard", 20 * SECS, |t| {
        t.contains("faultline LIVE") && t.contains("a Alerts")
    });
    backfill(port, 30);
    s.wait("the banner naming the directory's rule", 60 * SECS, |t| {
        t.lines()
            .next()
            .is_some_and(|l| l.contains("FIRING") && l.contains("TestAnyCall"))
    });
    s.keys(&["a"]);
    // The row says `sent` once the webhook accepted the notification.
    let t = s.wait("the Alerts view with the delivery", 30 * SECS, |t| {
        t.contains("· 1 rule ·")
            && t.lines().any(|l| {
                l.contains("firing")
                    && l.contains("TestAnyCall")
                    && l.contains("checkout → payments")
                    && l.contains("sent")
            })
            && t.contains(&format!("delivery webhook {hook}: sent "))
    });
    assert!(
        !t.contains("DependencyBreakerOpen") && !t.contains("DependencyErrorSpike"),
        "the directory replaces the shipped rules:\n{t}"
    );
    let bodies = posted.lock().expect("lock").clone();
    assert!(
        bodies.iter().any(|b| b["status"] == "firing"
            && b["alerts"].as_array().is_some_and(|a| a
                .iter()
                .any(|x| x["labels"]["alertname"] == "TestAnyCall"
                    && x["labels"]["dependency"] == "payments"))),
        "the webhook got the firing alert: {bodies:?}"
    );
    s.quit();
}

/// Records 90 s of the demo's traffic with the real recorder (`faultline record`).
fn record_capture(dir: &Path) -> PathBuf {
    let out = dir.join("capture.jsonl");
    let port = free_port();
    let rec = Command::new(BIN)
        .args(["record", "--out"])
        .arg(&out)
        .args([
            "--otlp-grpc",
            &format!("127.0.0.1:{port}"),
            "--otlp-http",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faultline record");
    backfill(port, 90);
    // SAFETY: kill(2) on the recorder this test started.
    assert_eq!(unsafe { libc::kill(rec.id() as i32, libc::SIGTERM) }, 0);
    let done = rec.wait_with_output().expect("record exit");
    assert!(
        done.status.success(),
        "record: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

#[test]
fn review_replays_the_alerts_like_faultline_alerts_and_marks_the_timeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = record_capture(dir.path());
    // What `faultline alerts` says about the capture.
    let out = Command::new(BIN)
        .args(["alerts", "--format", "json", "--fail-on", "info"])
        .arg(&capture)
        .output()
        .expect("faultline alerts");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let fired: Vec<(String, String, String)> = json
        .as_array()
        .expect("an array")
        .iter()
        .map(|a| {
            let f = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (f("alert"), f("caller"), f("dependency"))
        })
        .collect();
    assert!(
        fired
            .iter()
            .any(|(a, c, d)| a == "DependencyBreakerOpen" && c == "checkout" && d == "payments"),
        "the demo's breaker alert fires over the capture: {fired:?}"
    );

    let log = dir.path().join("review.log");
    let cmd = format!(
        "{BIN} review {} --log-file {}",
        capture.display(),
        log.display()
    );
    let s = Session::start("alerts-review", &cmd);
    let t = s.wait("the timeline's alert row", 60 * SECS, |t| {
        t.contains("faultline REVIEW") && t.contains("! alert fired")
    });
    let row = t
        .lines()
        .skip_while(|l| !l.contains("Incident"))
        .nth(3)
        .unwrap_or_default();
    assert!(row.contains('!'), "the alert row marks the firing:\n{t}");
    s.keys(&["a"]);
    let t = s.wait("the replayed alerts", 20 * SECS, |t| {
        t.contains("replayed over the capture") && t.contains("DependencyBreakerOpen")
    });
    for (alert, caller, dep) in &fired {
        let edge = format!("{caller} → {dep}");
        assert!(
            t.lines()
                .any(|l| l.contains(alert.as_str()) && l.contains(&edge)),
            "{alert} {edge} listed as `faultline alerts` prints it:\n{t}"
        );
    }
    s.quit();
}
