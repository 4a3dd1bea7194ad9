//! Cache hit ratios end to end (issue 12): a real Redis (`redis-server` on a free loopback port,
//! no persistence) read through `redis-py` and the OpenTelemetry Redis instrumentation by
//! tests/py/cache_app.py, whose `response_hook` records `db.response.returned_rows`; spans go over
//! OTLP/gRPC to `faultline record`, which also scrapes the app's in-process cache counters
//! (Micrometer's `cache_gets_total{result}` names through prometheus_client). The script knows
//! how many lookups hit and missed: `faultline report` (JSON and text) must show exactly those
//! counts per cache, `faultline lint` must find the Redis cache that rarely hits (CACHE-001) and
//! not the in-process one, and `faultline review` in tmux must show the `HIT%` column and the
//! cache line of the detail panel.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::{Session, dep_row};
use common::*;
use serde_json::Value;

const REDIS_HINT: &str =
    "redis-server is not installed: run scripts/test-deps.sh (it apt-get installs redis-server)";

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `redis-server` on a free loopback port, no RDB/AOF files, killed when dropped.
struct Redis {
    _proc: KillOnDrop,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let v = Command::new("redis-server").arg("--version").output();
        assert!(v.is_ok_and(|o| o.status.success()), "{REDIS_HINT}");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let proc = KillOnDrop(Some(
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server"),
        ));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Redis {
            _proc: proc,
            port,
            _dir: dir,
        }
    }
}

/// Runs the app against Redis and a recorder that scrapes it; the capture and the truth.
fn record() -> (Stopped, Value) {
    let redis = Redis::start();
    let mport = free_port();
    let scrape = format!("cache-app=http://127.0.0.1:{mport}/metrics");
    let rec = Recorder::start_with(&["--scrape", &scrape, "--scrape-interval", "300ms"]);
    let work = tempfile::tempdir().expect("tempdir");
    let truth_path = work.path().join("truth.json");
    run_scenario(
        Command::new(venv_python())
            .arg(root().join("tests/py/cache_app.py"))
            .arg(redis.port.to_string())
            .arg(format!("http://{}", rec.grpc))
            .arg(mport.to_string())
            .arg(&truth_path),
        "cache_app.py",
        &rec,
    );
    let truth: Value =
        serde_json::from_slice(&std::fs::read(&truth_path).expect("truth")).expect("truth json");
    let stopped = rec.stop();
    stopped.assert_clean();
    (stopped, truth)
}

fn n(v: &Value, cache: &str, what: &str) -> f64 {
    v[cache][what]
        .as_f64()
        .unwrap_or_else(|| panic!("truth {cache}.{what}: {v}"))
}

#[test]
fn hit_ratios_from_redis_spans_and_cache_counters_match_what_the_app_counted() {
    let (cap, truth) = record();
    // The workload is what the script says it is (so the assertions below mean something).
    assert_eq!(
        (n(&truth, "redis", "hits"), n(&truth, "redis", "misses")),
        (51.0, 101.0)
    );
    assert_eq!(
        (n(&truth, "prices", "hits"), n(&truth, "prices", "misses")),
        (190.0, 10.0)
    );

    // Parsed loosely: the metrics-only row of the in-process cache has no latency, which
    // common::Row (trace rows) does not allow.
    let json = report_raw(&[&cap.out], &["--format", "json"]);
    assert!(json.status.success(), "{json:?}");
    let rows: Value = serde_json::from_slice(&json.stdout).expect("report json");
    let rows = rows.as_array().expect("rows");
    let find = |pred: &dyn Fn(&str) -> bool| {
        rows.iter()
            .find(|r| r["caller"] == "cache-app" && r["dependency"].as_str().is_some_and(pred))
            .unwrap_or_else(|| panic!("no row: {rows:#?}"))
    };
    let redis = find(&|d| d.starts_with("redis "));
    let redis_dep = redis["dependency"].as_str().unwrap_or_default().to_string();
    assert_eq!(redis["kind"], "db");
    assert_eq!(redis["cache_source"], "traces");
    assert_eq!(
        (redis["cache_hits"].as_f64(), redis["cache_misses"].as_f64()),
        (
            Some(n(&truth, "redis", "hits")),
            Some(n(&truth, "redis", "misses"))
        ),
        "traced Redis lookups: {redis:#}"
    );
    assert_eq!(redis["cache_hit_ratio"].as_f64(), Some(0.3355));
    let prices = find(&|d| d == "prices");
    assert_eq!(prices["cache_source"], "metric");
    assert_eq!(
        (
            prices["cache_hits"].as_f64(),
            prices["cache_misses"].as_f64()
        ),
        (
            Some(n(&truth, "prices", "hits")),
            Some(n(&truth, "prices", "misses"))
        ),
        "scraped cache_gets_total: {prices:#}"
    );
    assert_eq!(prices["cache_hit_ratio"].as_f64(), Some(0.95));
    // A dependency that is no cache has no cache figures.
    assert!(
        rows.iter()
            .filter(|r| r["cache_source"].is_null())
            .all(|r| {
                r["cache_hits"].is_null()
                    && r["cache_misses"].is_null()
                    && r["cache_hit_ratio"].is_null()
            })
    );
    // The traced row is the report's full row (every field, the cache ones included).
    let full: Row = serde_json::from_value(redis.clone()).expect("a report row");
    assert_eq!(full.cache_hits, Some(51.0));

    let text = report_raw(&[&cap.out], &[]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    let line = |dep: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("cache-app -> {dep} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no caches line for {dep}:\n{text}"))
    };
    assert!(text.contains("\ncaches\n"), "{text}");
    assert_eq!(line(&redis_dep), ["51", "101", "33.6", "traces"]);
    assert_eq!(line("prices"), ["190", "10", "95.0", "metric"]);

    // CACHE-001 finds the Redis cache (33.6 % of 152 lookups), not the in-process one.
    let lint = run_with_timeout(
        Command::new(FAULTLINE)
            .arg("lint")
            .arg(&cap.out)
            .args(["--format", "json", "--fail-on", "error"])
            .env("NO_COLOR", "1"),
        Duration::from_secs(120),
    );
    let out = String::from_utf8_lossy(&lint.stdout);
    let findings: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let cache001: Vec<&Value> = findings
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["rule"] == "CACHE-001" && f["outcome"] == "finding")
        .collect();
    assert_eq!(cache001.len(), 1, "{out}");
    assert_eq!(cache001[0]["dependency"], redis_dep.as_str());
    assert!(
        cache001[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("33.6% of 152 lookups")),
        "{}",
        cache001[0]
    );

    // The dashboard: the HIT% column, then the detail panel's cache line.
    let cmd = format!(
        "{FAULTLINE} review {} --log-file {}",
        cap.out.display(),
        cap.dir.path().join("review.log").display()
    );
    let s = Session::start("cache", &cmd);
    let screen = s.wait("the review dashboard", Duration::from_secs(30), |t| {
        t.contains("faultline REVIEW") && t.contains("HIT%")
    });
    let row = dep_row(&screen, "cache-app", &redis_dep)
        .unwrap_or_else(|| panic!("no redis row:\n{screen}"));
    assert!(
        row.iter().any(|c| c == "34"),
        "HIT% 34 in {row:?}\n{screen}"
    );
    let row = dep_row(&screen, "cache-app", "prices")
        .unwrap_or_else(|| panic!("no prices row:\n{screen}"));
    assert!(
        row.iter().any(|c| c == "95"),
        "HIT% 95 in {row:?}\n{screen}"
    );
    s.text("/");
    s.text("dep=redis");
    s.keys(&["Enter"]);
    s.wait("the filtered table", Duration::from_secs(10), |t| {
        t.contains("filter dep=redis") && dep_row(t, "cache-app", "prices").is_none()
    });
    s.keys(&["Enter"]);
    s.wait("the detail's cache line", Duration::from_secs(10), |t| {
        t.contains("cache hit 34%  hits 51  misses 101  (traces)")
    });
    s.keys(&["Escape", "Escape"]);
    s.quit();
}
