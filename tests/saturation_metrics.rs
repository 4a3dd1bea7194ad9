//! BLK-001 (saturation) on real gauges (issue 8): it reads pool, queue and bulkhead gauges, so
//! it finds a saturated dependency and not an idle one next to it.
//!
//! - HAProxy (real, `maxconn 1` on a backend server in front of a slow Python backend, five
//!   concurrent requests: four wait in HAProxy's backend queue) next to an idle backend of the
//!   same HAProxy, scraped from its native Prometheus exporter;
//! - HikariCP-shaped pools (prometheus_client, Micrometer's `hikaricp_connections_*` names):
//!   `orders-db` with every connection active and threads waiting, `users-db` nearly idle.
//!
//! `faultline record` scrapes both; `faultline lint` runs BLK-001 with its hold times shortened
//! to fit a test (`sustain`, `queue_sustain` = 2 s; the rule's parameters, not the code).
//! Needs haproxy and the Python venv (`scripts/test-deps.sh`); a missing one fails the test.

mod metrics_support;

use std::process::Command;
use std::time::Duration;

use metrics_support::*;

const SECS: Duration = Duration::from_secs(1);

const RULES: &str = r#"
[[rule]]
id = "BLK-001"
detector = "saturation"
severity = "warning"
remediation = "Size the pool with Little's law"
[rule.params]
sustain = "2s"
queue_sustain = "2s"
"#;

fn haproxy_config(fe: u16, idle_fe: u16, stats: u16, backend: u16) -> String {
    format!(
        "global\n  maxconn 100\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\n\
         frontend fe\n  bind 127.0.0.1:{fe}\n  default_backend slow\n\
         frontend idle_fe\n  bind 127.0.0.1:{idle_fe}\n  default_backend idle\n\
         frontend stats\n  bind 127.0.0.1:{stats}\n  http-request use-service prometheus-exporter if {{ path /metrics }}\n\
         backend slow\n  server s1 127.0.0.1:{backend} maxconn 1\n\
         backend idle\n  server s1 127.0.0.1:{backend} maxconn 1\n"
    )
}

/// BLK-001 results on (caller, dependency): findings, and undecided mentions.
fn blk<'a>(
    results: &'a [serde_json::Value],
    caller: &str,
    dep: &str,
) -> Vec<&'a serde_json::Value> {
    results
        .iter()
        .filter(|f| f["rule"] == "BLK-001" && f["caller"] == caller && f["dependency"] == dep)
        .collect()
}

#[test]
fn saturation_found_on_a_saturated_haproxy_and_pool_not_on_idle_ones() {
    let py = python();
    let haproxy = require("haproxy");
    let script = repo().join("tests/py-metrics/app.py");
    let slow = spawn(
        "python slow backend",
        Command::new(&py).arg(&script).args(["slow", "3"]),
    );
    let backend = slow.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"]
        .as_u64()
        .expect("port") as u16;
    let pools = spawn("python pools", Command::new(&py).arg(&script).arg("pool"));
    let pool_port =
        pools.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"].clone();

    let tmp = tempfile::tempdir().expect("tempdir");
    let (fe, idle_fe, stats) = (free_port(), free_port(), free_port());
    let cfg = tmp.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(fe, idle_fe, stats, backend)).expect("write haproxy.cfg");
    let _hap = spawn(
        "haproxy",
        Command::new(&haproxy).args(["-db", "-f"]).arg(&cfg),
    );
    let hap_metrics = format!("http://127.0.0.1:{stats}/metrics");
    wait_for("haproxy metrics", 10 * SECS, || {
        (std::net::TcpStream::connect(("127.0.0.1", stats)).is_ok()).then_some(())
    });

    // Five concurrent requests to a server with maxconn 1: one runs (3 s), four queue, and the
    // queue drains one every 3 s — non-empty for the whole recording below.
    let clients: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || http_get(&format!("http://127.0.0.1:{fe}/"))))
        .collect();
    let queued = wait_for("haproxy queue", 10 * SECS, || {
        let (_, body) = http_get(&hap_metrics);
        body.lines()
            .find(|l| l.starts_with("haproxy_backend_current_queue{proxy=\"slow\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .filter(|q| *q >= 3.0)
    });
    assert!(queued >= 3.0, "HAProxy itself shows the queue");

    let cap = tmp.path().join("saturation.jsonl");
    let (h, p) = (
        format!("edge={hap_metrics}"),
        format!("checkout=http://127.0.0.1:{pool_port}/metrics"),
    );
    let rec = record(
        &cap,
        "6s",
        &["--scrape", &h, "--scrape", &p, "--scrape-interval", "250ms"],
    );
    wait_exit(rec, 30 * SECS);
    drop(clients);

    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir rules");
    std::fs::write(rules.join("blk.toml"), RULES).expect("write rules");
    let out = faultline()
        .arg("lint")
        .arg(&cap)
        .arg("--rules")
        .arg(&rules)
        .args(["--format", "json", "--fail-on", "error"])
        .output()
        .expect("run faultline lint");
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let all = serde_json::to_string_pretty(&results).unwrap_or_default();
    for (caller, dep) in [("edge", "slow"), ("checkout", "orders-db")] {
        let hits = blk(&results, caller, dep);
        assert!(
            hits.iter().any(|f| f["outcome"] == "finding"),
            "BLK-001 must find {caller} → {dep} saturated; lint said:\n{all}"
        );
    }
    for (caller, dep) in [("edge", "idle"), ("checkout", "users-db")] {
        let hits = blk(&results, caller, dep);
        assert!(
            hits.iter().all(|f| f["outcome"] != "finding"),
            "BLK-001 must not find the idle {caller} → {dep}: {hits:#?}"
        );
    }
    // The idle ones were judged from their gauges, not skipped for lack of them.
    assert!(
        !results.iter().any(|f| f["rule"] == "BLK-001"
            && f["outcome"] == "insufficient_data"
            && f.to_string()
                .contains("no pool, bulkhead or queue gauges loaded")),
        "BLK-001 read no gauges although HAProxy and HikariCP series were scraped:\n{all}"
    );
}
