//! Real metrics stores loaded with the OpenTelemetry Collector's service-graph and
//! span-metrics series (`tests/py/fleet_gen.py`): a Prometheus started on a block directory
//! that `promtool tsdb create-blocks-from openmetrics` back-filled, and a VictoriaMetrics
//! loaded through its `/api/v1/import/prometheus` API. Each on 127.0.0.1, a free port, a temp
//! storage directory; killed when dropped. A missing binary fails with the install hint.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common;
pub use super::common::{KillOnDrop, run_with_timeout};

/// A running metrics store.
pub struct Backend {
    /// The server process.
    pub proc: KillOnDrop,
    /// Its base URL.
    pub url: String,
    /// The generator's last sample time, Unix seconds.
    pub now: u64,
    /// Edges the generator wrote (service-graph + span-metrics).
    pub edges: usize,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn require(bin: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{bin} is not installed: run scripts/test-deps.sh (it apt-get installs prometheus and victoria-metrics)"
    );
}

pub fn get(url: &str) -> Option<String> {
    faultline::ingest::tls_files::install_default_provider();
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .ok()?;
    let r = c.get(url).send().ok()?;
    r.status().is_success().then(|| r.text().ok()).flatten()
}

pub fn wait_ready(url: &str, what: &str, proc: &mut KillOnDrop) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while get(url).is_none() {
        if let Ok(Some(st)) = proc.child().try_wait() {
            panic!("{what} exited before it was ready: {st}");
        }
        assert!(Instant::now() < deadline, "{what} not ready at {url}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Runs the generator; returns the number of edges it wrote.
fn generate(args: &[&str]) -> usize {
    let script = common::root().join("tests/py/fleet_gen.py");
    let out = run_with_timeout(
        Command::new("python3").arg(&script).args(args),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "fleet_gen.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("fleet_gen.py prints one JSON line");
    v["edges"].as_u64().expect("edges") as usize
}

/// A Prometheus holding the fleet's series (back-filled blocks), answering on a free port.
pub fn prometheus(services: usize, fanout: usize) -> Backend {
    require("prometheus");
    require("promtool");
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_secs();
    let om = dir.path().join("fleet.om");
    let edges = generate(&[
        "--services",
        &services.to_string(),
        "--fanout",
        &fanout.to_string(),
        "--now",
        &now.to_string(),
        "--format",
        "openmetrics",
        "--out",
        om.to_str().expect("utf-8 path"),
    ]);
    let data = dir.path().join("data");
    let out = run_with_timeout(
        Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(&data),
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "promtool create-blocks-from openmetrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&om).expect("remove the OpenMetrics file");
    let (proc, url) = start_prometheus(dir.path(), "global:\n  scrape_interval: 1h\n", &[]);
    Backend {
        proc,
        url,
        now,
        edges,
        _dir: dir,
    }
}

/// A Prometheus with native histograms on (`--enable-feature=native-histograms`), scraping
/// `target` (`host:port`) every second, answering on a free port. `edges` is left 0: the caller
/// knows what its target serves.
pub fn prometheus_scraping(target: &str) -> Backend {
    require("prometheus");
    let dir = tempfile::tempdir().expect("tempdir");
    let (proc, url) = start_prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: fleet\n    static_configs:\n      - targets: ['{target}']\n"
        ),
        &["--enable-feature=native-histograms"],
    );
    Backend {
        proc,
        url,
        now: now_secs(),
        edges: 0,
        _dir: dir,
    }
}

/// Starts Prometheus on `dir/data` with the configuration `config` and `extra` flags, on a free
/// port of 127.0.0.1; waits until it is ready.
fn start_prometheus(dir: &Path, config: &str, extra: &[&str]) -> (KillOnDrop, String) {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).expect("config");
    let port = free_port();
    let mut proc = spawn(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra),
        dir,
        "prometheus",
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/-/ready"), "prometheus", &mut proc);
    (proc, url)
}

/// A VictoriaMetrics holding the fleet's series (imported), answering on a free port.
pub fn victoria(services: usize, fanout: usize) -> Backend {
    require("victoria-metrics");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut proc = spawn(
        Command::new("victoria-metrics")
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            // Answer instant queries at the time asked (no 30 s hold-back), uncached.
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache"),
        dir.path(),
        "victoria-metrics",
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/health"), "victoria-metrics", &mut proc);
    let now = now_secs();
    let edges = generate(&[
        "--services",
        &services.to_string(),
        "--fanout",
        &fanout.to_string(),
        "--now",
        &now.to_string(),
        "--post",
        &format!("{url}/api/v1/import/prometheus"),
    ]);
    // Make what was imported searchable now.
    let _ = get(&format!("{url}/internal/force_flush"));
    Backend {
        proc,
        url,
        now,
        edges,
        _dir: dir,
    }
}

pub fn spawn(cmd: &mut Command, dir: &Path, what: &str) -> KillOnDrop {
    let log = std::fs::File::create(dir.join(format!("{what}.log"))).expect("log file");
    KillOnDrop(Some(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}")),
    ))
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (for `--from`/`--to`).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
