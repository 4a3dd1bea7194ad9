//! Alerts end to end with real components: a Python service with the OpenTelemetry SDK
//! (tests/py/alert_spike.py) exports to `faultline record --alertmanager URL --alert-webhook
//! URL`; its calls to `payments` go from 1 % to 25 % errors and back, while `ledger` always
//! fails 30 %. A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, started here
//! on a free loopback port with its own storage) must list the shipped error-spike alert for
//! `payments` through its own API while the spike lasts and drop it once faultline resolves
//! it; `ledger` never alerts; the webhook gets the firing and the resolved notification; and
//! `faultline alerts` on the capture gives the same fired/resolved interval.
//!
//! The rule is the shipped `DependencyErrorSpike` expression with shorter `for` (20 s),
//! `window` (30 s), `keep_firing_for` (0 s) and `baseline` (10 m), so the test takes minutes,
//! not a quarter of an hour.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const AM_HINT: &str = "prometheus-alertmanager is not installed: run scripts/test-deps.sh";

/// A running Alertmanager on a free loopback port.
struct Alertmanager {
    _proc: KillOnDrop,
    url: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Alertmanager {
    fn start() -> Alertmanager {
        let bin = Command::new("prometheus-alertmanager")
            .arg("--version")
            .output();
        assert!(bin.is_ok_and(|o| o.status.success()), "{AM_HINT}");
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(
            &cfg,
            "route:\n  receiver: 'null'\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: 'null'\n",
        )
        .unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let proc = KillOnDrop(Some(
            Command::new("prometheus-alertmanager")
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // No gossip: one instance, no cluster port.
                .arg("--cluster.listen-address=")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(AM_HINT),
        ));
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client
                .get(format!("{url}/-/ready"))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Alertmanager {
            _proc: proc,
            url,
            _dir: dir,
        }
    }

    /// The active alerts, through Alertmanager's own API.
    fn alerts(&self) -> Vec<Value> {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap();
        let body = client
            .get(format!("{}/api/v2/alerts", self.url))
            .send()
            .and_then(|r| r.text())
            .expect("GET /api/v2/alerts");
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_else(|| panic!("not a JSON array: {body}"))
    }
}

/// A plain HTTP server that keeps every JSON body posted to it.
fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
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
                && let Ok(v) = serde_json::from_slice::<Value>(&body)
            {
                keep.lock().unwrap().push(v);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// The shipped error-spike rule with test-sized durations, in a rules directory.
fn rules_dir(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("rules/alerts.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let mut spike = table["alert"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str() == Some("DependencyErrorSpike"))
        .expect("shipped DependencyErrorSpike")
        .as_table()
        .unwrap()
        .clone();
    for (k, v) in [
        ("for", "20s"),
        ("keep_firing_for", "0s"),
        ("window", "30s"),
        ("baseline", "10m"),
    ] {
        spike.insert(k.into(), toml::Value::String(v.into()));
    }
    let mut out = toml::Table::new();
    out.insert(
        "alert".into(),
        toml::Value::Array(vec![toml::Value::Table(spike)]),
    );
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("alerts.toml"), toml::to_string(&out).unwrap()).unwrap();
    rules
}

fn label<'a>(a: &'a Value, k: &str) -> &'a str {
    a["labels"][k].as_str().unwrap_or("")
}

fn wait_for(what: &str, secs: u64, ctx: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s\n{}",
            ctx()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_real_error_spike_reaches_alertmanager_and_resolves() {
    faultline::ingest::tls_files::install_default_provider();
    let py = venv_python();
    let am = Alertmanager::start();
    let (hook_url, hooks) = webhook();
    let work = tempfile::tempdir().unwrap();
    let rules = rules_dir(work.path());
    let rec = Recorder::start_with(&[
        "--rules",
        rules.to_str().unwrap(),
        "--alertmanager",
        &am.url,
        "--alert-webhook",
        &hook_url,
    ]);
    let mut svc = KillOnDrop(Some(
        Command::new(&py)
            .arg(root().join("tests/py/alert_spike.py"))
            .arg(rec.grpc.to_string())
            .args([
                "--history-min",
                "12",
                "--spike-after",
                "5",
                "--spike-s",
                "60",
            ])
            .env("NO_PROXY", "*")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn alert_spike.py"),
    ));
    let svc_err = Arc::new(Mutex::new(String::new()));
    {
        let e = svc.child().stderr.take().unwrap();
        let keep = svc_err.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(e).lines().map_while(Result::ok) {
                keep.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let ctx = || {
        format!(
            "--- service\n{}--- faultline\n{}",
            svc_err.lock().unwrap(),
            rec.stderr_so_far()
        )
    };
    let is_spike = |a: &Value| {
        label(a, "alertname") == "DependencyErrorSpike" && label(a, "dependency") == "payments"
    };
    let mut ledger_alerts = Vec::new();

    // Fires: Alertmanager lists the alert, with faultline's labels and annotations.
    let mut listed = None;
    wait_for(
        "alertmanager lists the payments error spike",
        180,
        ctx,
        || {
            let alerts = am.alerts();
            ledger_alerts.extend(
                alerts
                    .iter()
                    .filter(|a| label(a, "dependency") == "ledger")
                    .cloned(),
            );
            listed = alerts.into_iter().find(is_spike);
            listed.is_some()
        },
    );
    let a = listed.unwrap();
    assert_eq!(label(&a, "severity"), "critical", "{a}");
    assert_eq!(label(&a, "caller"), "checkout", "{a}");
    assert_eq!(a["status"]["state"], "active", "{a}");
    let summary = a["annotations"]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("checkout → payments: ") && summary.contains("of calls fail"),
        "{a}"
    );
    assert!(
        a["startsAt"].as_str().is_some_and(|s| s.starts_with("20")),
        "{a}"
    );

    // Resolves once the spike has left the window: Alertmanager no longer lists it.
    wait_for("alertmanager drops the resolved alert", 180, ctx, || {
        let alerts = am.alerts();
        ledger_alerts.extend(
            alerts
                .iter()
                .filter(|a| label(a, "dependency") == "ledger")
                .cloned(),
        );
        !alerts.iter().any(is_spike)
    });
    assert!(
        ledger_alerts.is_empty(),
        "a dependency that always fails 30 % alerted: {ledger_alerts:?}"
    );
    drop(svc.child().stdin.take());
    let st = wait_timeout(svc.child(), Duration::from_secs(90));
    assert!(
        st.is_some_and(|s| s.success()),
        "alert_spike.py failed\n{}",
        ctx()
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    let err = &stopped.stderr;
    for want in [
        "faultline: alert DependencyErrorSpike firing (critical) checkout → payments",
        "faultline: alert DependencyErrorSpike resolved (critical) checkout → payments",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    let am_line = err
        .lines()
        .find(|l| l.starts_with("faultline: alertmanager "))
        .unwrap_or_else(|| panic!("no delivery line in\n{err}"));
    assert!(am_line.contains(", failed 0, dropped 0"), "{am_line}");

    // The webhook got Alertmanager's webhook payload: firing, then resolved.
    let got = hooks.lock().unwrap().clone();
    let statuses: Vec<(String, String)> = got
        .iter()
        .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            (
                label(&a, "dependency").to_string(),
                a["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("payments".to_string(), "firing".to_string()),
            ("payments".to_string(), "resolved".to_string())
        ],
        "{got:?}"
    );
    assert!(got.iter().all(|b| b["version"] == "4"), "{got:?}");

    // The capture replays to the same story.
    let out = Command::new(FAULTLINE)
        .arg("alerts")
        .arg(&stopped.out)
        .args(["--rules", rules.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a critical alert fired: exit 1\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let pay: Vec<&Value> = rows
        .iter()
        .filter(|r| r["dependency"] == "payments")
        .collect();
    assert_eq!(pay.len(), 1, "{rows:?}");
    assert_eq!(pay[0]["state"], "resolved", "{rows:?}");
    assert!(
        pay[0]["value"].as_f64().is_some_and(|v| v > 0.1),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r["dependency"] != "ledger"), "{rows:?}");
}
