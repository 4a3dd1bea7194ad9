//! faultline's metric sources against real components, all on 127.0.0.1 and bounded in time:
//! - a Node service with a real opossum breaker (opossum-prometheus), scraped while its
//!   dependency fails and recovers: open → half-open → closed, at the times opossum reports;
//! - a Python service with prometheus_client exposing resilience4j- and Hystrix-shaped series,
//!   and HAProxy with `maxconn 1` in front of a slow backend: breaker states and the backend
//!   queue depth HAProxy itself reports;
//! - a real Prometheus server scraping the Python service, queried by faultline with PromQL:
//!   transitions, and percentiles equal to Prometheus' own `histogram_quantile`.
//!
//! Each records with `faultline record` and checks `faultline report` on the capture. Needs
//! `scripts/test-deps-metrics.sh`; a missing component fails the test, never skips it.

mod metrics_support;

use std::process::Command;
use std::time::Duration;

use metrics_support::*;

const SECS: Duration = Duration::from_secs(1);

fn transitions(row: &serde_json::Value) -> Vec<(i64, String, String)> {
    row["breaker_transitions"]
        .as_array()
        .expect("breaker_transitions")
        .iter()
        .map(|t| {
            (
                rfc3339_ms(t["at"].as_str().expect("at")),
                t["from"].as_str().expect("from").to_owned(),
                t["to"].as_str().expect("to").to_owned(),
            )
        })
        .collect()
}

fn names(ts: &[(i64, String, String)]) -> Vec<(&str, &str)> {
    ts.iter().map(|t| (t.1.as_str(), t.2.as_str())).collect()
}

#[test]
fn opossum_breaker_open_half_open_closed_with_timing() {
    let dir = node_metrics_dir();
    require("node");
    let app = spawn(
        "node breaker_app",
        Command::new("node")
            .arg(dir.join("breaker_app.js"))
            .env("RESET_MS", "2000"),
    );
    let ready = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true);
    let metrics = format!("http://127.0.0.1:{}/metrics", ready["metrics"]);
    let control = format!("http://127.0.0.1:{}", ready["control"]);

    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("opossum.jsonl");
    let scrape = format!("shop={metrics}");
    let rec = record(
        &cap,
        "9s",
        &["--scrape", &scrape, "--scrape-interval", "200ms"],
    );
    std::thread::sleep(2 * SECS);
    assert_eq!(http_get(&format!("{control}/down")).0, 200);
    let opened = app.wait_json("open event", 5 * SECS, |v| v["event"] == "open");
    assert_eq!(http_get(&format!("{control}/up")).0, 200);
    let half = app.wait_json("halfOpen event", 5 * SECS, |v| v["event"] == "halfOpen");
    let closed = app.wait_json("close event", 5 * SECS, |v| v["event"] == "close");
    wait_exit(rec, 30 * SECS);

    let rows = report_json(&cap);
    let r = row(&rows, "shop", "inventory");
    assert_eq!(r["breaker"], "closed", "{r:#}");
    assert_eq!(r["breaker_source"], "opossum:*circuit");
    let ts = transitions(r);
    assert_eq!(
        names(&ts),
        vec![
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed")
        ],
        "{r:#}"
    );
    // Each transition is seen at the first scrape after it: within one interval (200 ms) plus
    // scheduling slack of what opossum itself reported.
    let at = |v: &serde_json::Value| v["at_ms"].as_i64().expect("at_ms");
    for ((t, _, to), event) in ts.iter().zip([&opened, &half, &closed]) {
        let lag = t - at(event);
        assert!(
            (-50..=1000).contains(&lag),
            "{to} seen {lag} ms after opossum's event"
        );
    }
    let open_for = ts[1].0 - ts[0].0;
    assert!(
        (1500..=2800).contains(&open_for),
        "open for {open_for} ms, resetTimeout is 2000 ms"
    );
    assert!(
        r["rejected_rate"].as_f64().is_some_and(|x| x > 0.0),
        "rejected calls while open: {r:#}"
    );
    assert_eq!(r["latency_source"], "summary");
}

/// Several transitions between two scrapes (a scrape interval longer than opossum's reset
/// timeout): opened, re-opened by failed trials, closed by a good one, all between scrape 1 and
/// scrape 2. opossum-prometheus counts `open` and `close` but not `halfOpen`, so the counters
/// alone fit "closed" and "closed, then opened again"; the breaker is closed and calls pass
/// after it, and `report` must say closed (it said half_open: the end was taken as open, and
/// the passing calls then read as a trial).
#[test]
fn opossum_several_transitions_between_two_scrapes_end_closed() {
    let dir = node_metrics_dir();
    require("node");
    let app = spawn(
        "node breaker_app",
        Command::new("node")
            .arg(dir.join("breaker_app.js"))
            .env("RESET_MS", "300"),
    );
    let ready = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true);
    let metrics = format!("http://127.0.0.1:{}/metrics", ready["metrics"]);
    let control = format!("http://127.0.0.1:{}", ready["control"]);

    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("opossum-flaps.jsonl");
    let scrape = format!("shop={metrics}");
    let rec = record(
        &cap,
        "21s",
        &["--scrape", &scrape, "--scrape-interval", "8s"],
    );
    let is_scrape = |v: &serde_json::Value| v["scrape"].is_u64();
    let first = app.wait_json("scrape 1", 20 * SECS, is_scrape);
    assert_eq!(http_get(&format!("{control}/down")).0, 200);
    // Every line until the close: transitions, and no scrape among them.
    let mut events: Vec<serde_json::Value> = Vec::new();
    let mut recovering = false;
    loop {
        let v = app.wait_json("breaker events", 6 * SECS, |v| {
            v["event"].is_string() || v["scrape"].is_u64()
        });
        assert!(
            !is_scrape(&v),
            "a scrape fell between the transitions ({v}; events so far {events:?}): \
             the case needs them all between two scrapes"
        );
        let ev = v["event"].as_str().expect("event").to_owned();
        events.push(v);
        let opens = events.iter().filter(|e| e["event"] == "open").count();
        // Opened, then re-opened by a failed trial: now let the next trial succeed.
        if opens >= 2 && !recovering {
            assert_eq!(http_get(&format!("{control}/up")).0, 200);
            recovering = true;
        }
        if ev == "close" {
            break;
        }
    }
    let second = app.wait_json("scrape 2", 12 * SECS, is_scrape);
    // Calls pass after the close; a third scrape sees them (the evidence after the sample).
    app.wait_json("scrape 3", 12 * SECS, is_scrape);
    wait_exit(rec, 30 * SECS);

    let at = |v: &serde_json::Value| v["at_ms"].as_i64().expect("at_ms");
    assert!(
        events
            .iter()
            .all(|e| at(e) > at(&first) && at(e) < at(&second)),
        "all transitions between scrape 1 and scrape 2"
    );
    let opens = events.iter().filter(|e| e["event"] == "open").count();
    let rows = report_json(&cap);
    let r = row(&rows, "shop", "inventory");
    assert_eq!(r["breaker"], "closed", "{r:#}");
    let ts = transitions(r);
    assert_eq!(
        ts.first().map(|t| (t.1.as_str(), t.2.as_str())),
        Some(("closed", "open")),
        "{r:#}"
    );
    assert_eq!(
        ts.last().map(|t| (t.1.as_str(), t.2.as_str())),
        Some(("half_open", "closed")),
        "{r:#}"
    );
    assert_eq!(
        ts.iter().filter(|t| t.2 == "open").count(),
        opens,
        "one open per open opossum counted: {r:#}"
    );
    // All seen at scrape 2 (its time as faultline stamps it, within scheduling slack).
    for (t, from, to) in &ts {
        let lag = t - at(&second);
        assert!(
            (-100..=1000).contains(&lag),
            "{from} → {to} at {lag} ms from scrape 2"
        );
    }
}

fn haproxy_config(fe: u16, stats: u16, backend: u16) -> String {
    format!(
        "global\n  maxconn 100\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\n\
         frontend fe\n  bind 127.0.0.1:{fe}\n  default_backend slow\n\
         frontend stats\n  bind 127.0.0.1:{stats}\n  http-request use-service prometheus-exporter if {{ path /metrics }}\n\
         backend slow\n  server s1 127.0.0.1:{backend} maxconn 1\n"
    )
}

#[test]
fn resilience4j_hystrix_and_haproxy_queue_from_scrapes() {
    let py = python();
    let haproxy = require("haproxy");
    let script = repo().join("tests/py-metrics/app.py");
    let app = spawn(
        "python metrics app",
        Command::new(&py).arg(&script).arg("metrics"),
    );
    let port = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"].clone();
    let base = format!("http://127.0.0.1:{port}");
    let slow = spawn(
        "python slow backend",
        Command::new(&py).arg(&script).args(["slow", "20"]),
    );
    let backend = slow.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"]
        .as_u64()
        .expect("port") as u16;

    let tmp = tempfile::tempdir().expect("tempdir");
    let (fe, stats) = (free_port(), free_port());
    let cfg = tmp.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(fe, stats, backend)).expect("write haproxy.cfg");
    let _hap = spawn(
        "haproxy",
        Command::new(&haproxy).args(["-db", "-f"]).arg(&cfg),
    );
    let hap_metrics = format!("http://127.0.0.1:{stats}/metrics");
    wait_for("haproxy metrics", 10 * SECS, || {
        (std::net::TcpStream::connect(("127.0.0.1", stats)).is_ok()).then_some(())
    });

    let cap = tmp.path().join("scrape.jsonl");
    let (a, h) = (
        format!("checkout={base}/metrics"),
        format!("edge={hap_metrics}"),
    );
    let rec = record(
        &cap,
        "7s",
        &["--scrape", &a, "--scrape", &h, "--scrape-interval", "250ms"],
    );
    std::thread::sleep(SECS);
    // Five concurrent requests to a backend server with maxconn 1: one runs, four queue.
    let clients: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || http_get(&format!("http://127.0.0.1:{fe}/"))))
        .collect();
    http_get(&format!("{base}/state?state=open"));
    http_get(&format!("{base}/reject?n=40"));
    http_get(&format!("{base}/hystrix?open=1&short=12"));
    http_get(&format!("{base}/queue?depth=7"));
    std::thread::sleep(2 * SECS);
    http_get(&format!("{base}/state?state=half_open"));
    std::thread::sleep(SECS);
    // HAProxy queues a request on the backend, or on the server when a thread assigned it as
    // the server filled (seen in CI: 3 + 1), so the backend's queue is both gauges' sum.
    let queued = wait_for("haproxy to queue 4 requests", 10 * SECS, || {
        let (_, body) = http_get(&hap_metrics);
        let q: f64 = body
            .lines()
            .filter(|l| {
                l.starts_with("haproxy_backend_current_queue{proxy=\"slow\"}")
                    || l.starts_with("haproxy_server_current_queue{proxy=\"slow\",")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (q == 4.0).then_some(q)
    });
    wait_exit(rec, 30 * SECS);
    drop(clients);

    let rows = report_json(&cap);
    let r = row(&rows, "checkout", "payments");
    assert_eq!(r["breaker"], "half_open", "{r:#}");
    assert_eq!(
        r["breaker_source"],
        "resilience4j:resilience4j_circuitbreaker_state"
    );
    assert_eq!(
        names(&transitions(r)),
        vec![("closed", "open"), ("open", "half_open")]
    );
    assert_eq!(r["queue_depth"], 7.0);
    assert_eq!(r["queue_capacity"], 100.0);
    assert!(
        r["rejected_rate"].as_f64().is_some_and(|x| x > 0.0),
        "{r:#}"
    );
    let u = row(&rows, "checkout", "users");
    assert_eq!(u["breaker"], "open", "{u:#}");
    assert!(
        u["rejected_rate"].as_f64().is_some_and(|x| x > 0.0),
        "{u:#}"
    );
    let q = row(&rows, "edge", "slow");
    assert_eq!(q["queue_depth"], queued, "{q:#}");
}

#[test]
fn prometheus_server_queried_with_promql() {
    let py = python();
    let prometheus = require("prometheus");
    let script = repo().join("tests/py-metrics/app.py");
    let app = spawn(
        "python metrics app",
        Command::new(&py).arg(&script).arg("metrics"),
    );
    let port = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"].clone();
    let base = format!("http://127.0.0.1:{port}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let prom_port = free_port();
    let cfg = tmp.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: checkout\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let _prom = spawn(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=warn"),
    );
    let prom = format!("http://127.0.0.1:{prom_port}");
    wait_for("Prometheus to scrape the app", 30 * SECS, || {
        let (status, body) = std::net::TcpStream::connect(("127.0.0.1", prom_port))
            .ok()
            .map(|_| http_get(&format!("{prom}/api/v1/query?query=up")))?;
        (status == 200 && body.contains("\"checkout\"") && body.contains("\"1\"")).then_some(())
    });

    let cap = tmp.path().join("promql.jsonl");
    let rec = record(
        &cap,
        "12s",
        &[
            "--prometheus",
            &prom,
            "--prometheus-interval",
            "1s",
            "--prometheus-lookback",
            "30s",
        ],
    );
    std::thread::sleep(2 * SECS);
    for v in [("0.02", 10), ("0.2", 10), ("2", 1)] {
        http_get(&format!("{base}/observe?v={}&n={}", v.0, v.1));
    }
    let opened = now_ms();
    http_get(&format!("{base}/state?state=open"));
    std::thread::sleep(3 * SECS);
    let half = now_ms();
    http_get(&format!("{base}/state?state=half_open"));
    std::thread::sleep(3 * SECS);
    let closed = now_ms();
    http_get(&format!("{base}/state?state=closed"));
    wait_exit(rec, 40 * SECS);

    let rows = report_json(&cap);
    let r = row(&rows, "checkout", "payments");
    assert_eq!(r["breaker"], "closed", "{r:#}");
    let ts = transitions(r);
    assert_eq!(
        names(&ts),
        vec![
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed")
        ],
        "{r:#}"
    );
    // Seen at Prometheus' next scrape (1 s) after the change.
    for ((t, _, to), set) in ts.iter().zip([opened, half, closed]) {
        let lag = t - set;
        assert!(
            (-100..=2500).contains(&lag),
            "{to} seen {lag} ms after it was set"
        );
    }
    // Percentiles equal Prometheus' own histogram_quantile over the same buckets.
    assert_eq!(r["latency_source"], "histogram", "{r:#}");
    for (field, q) in [("p50_ms", "0.5"), ("p95_ms", "0.95"), ("p99_ms", "0.99")] {
        let query =
            format!("histogram_quantile({q},%20resilience4j_circuitbreaker_calls_seconds_bucket)");
        let (_, body) = http_get(&format!("{prom}/api/v1/query?query={query}"));
        let v: serde_json::Value = serde_json::from_str(&body).expect("Prometheus JSON");
        let want: f64 = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no answer from Prometheus: {body}"));
        let got = r[field]
            .as_f64()
            .unwrap_or_else(|| panic!("no {field}: {r:#}"));
        assert!(
            (got - want * 1e3).abs() < 1e-3 * want.max(1.0),
            "{field}: faultline {got} ms, Prometheus {} ms",
            want * 1e3
        );
    }
    // 1 of 21 observations lies above the last bound: p99 is only "at least 1 s".
    assert_eq!(r["latency_at_least"], serde_json::json!(["p99"]), "{r:#}");
}
