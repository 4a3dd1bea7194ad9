//! Helpers for the metric tests that start real components (Prometheus, HAProxy, a Node app
//! with opossum, a Python app with prometheus_client) on 127.0.0.1. Components are installed by
//! `scripts/test-deps-metrics.sh`; a missing one fails the test with a message saying so.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process killed (and reaped) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Waits for a stdout line that parses as JSON and satisfies `pred`.
    pub fn wait_json(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                        && pred(&v)
                    {
                        return v;
                    }
                }
                Err(_) => panic!("{}: no {what} within {timeout:?}", self.name),
            }
        }
    }

    /// Every stdout line received so far.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

/// Starts a process with its stdout read line by line in a thread; stderr is inherited.
pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {name} ({cmd:?}): {e}; run scripts/test-deps-metrics.sh")
        });
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc {
        name: name.to_owned(),
        child,
        lines: rx,
    }
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The Python with prometheus_client: `$FAULTLINE_TEST_PYTHON` or `.venv/bin/python`.
pub fn python() -> PathBuf {
    let py = std::env::var_os("FAULTLINE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    let ok = Command::new(&py)
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import prometheus_client: run scripts/test-deps-metrics.sh",
        py.display()
    );
    py
}

/// Requires a program on PATH.
pub fn require(bin: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{bin} is not installed: run scripts/test-deps-metrics.sh"))
}

/// The node-metrics app directory, with its packages installed.
pub fn node_metrics_dir() -> PathBuf {
    let dir = repo().join("tests/node-metrics");
    for pkg in ["opossum", "opossum-prometheus"] {
        assert!(
            dir.join("node_modules").join(pkg).is_dir(),
            "npm package {pkg} is not installed in tests/node-metrics: run scripts/test-deps-metrics.sh"
        );
    }
    dir
}

/// A plain HTTP/1.0 GET on loopback; returns (status, body).
pub fn http_get(url: &str) -> (u16, String) {
    http_get_with(url, "")
}

/// A GET with extra header lines (`"Accept: …\r\n"`).
pub fn http_get_with(url: &str, headers: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {url}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n{headers}\r\n").expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .unwrap_or_else(|e| panic!("read {url}: {e}"));
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map_or("", |b| b.1).to_owned();
    (status, body)
}

/// Waits until `f` returns `Some`, or panics with `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The faultline binary under test.
pub fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Starts `faultline record` for `duration` with extra args; the receivers on free ports.
pub fn record(out: &Path, duration: &str, args: &[&str]) -> Child {
    faultline()
        .args(["record", "--out"])
        .arg(out)
        .args([
            "--duration",
            duration,
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
        ])
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("start faultline record")
}

/// Waits for a child to exit (killing it past `timeout`), asserting success.
pub fn wait_exit(mut child: Child, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "faultline record failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faultline record did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `faultline report --format json` on a capture, parsed.
pub fn report_json(capture: &Path) -> Vec<serde_json::Value> {
    let out = faultline()
        .args(["report", "--format", "json"])
        .arg(capture)
        .output()
        .expect("run faultline report");
    assert!(
        out.status.success(),
        "faultline report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report JSON")
}

/// The report row for (caller, dependency).
pub fn row<'a>(rows: &'a [serde_json::Value], caller: &str, dep: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["caller"] == caller && r["dependency"] == dep)
        .unwrap_or_else(|| panic!("no report row {caller} -> {dep}; rows: {rows:#?}"))
}

/// Unix milliseconds of an RFC 3339 time as the report writes it.
pub fn rfc3339_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s:?}: {e}"))
        .timestamp_millis()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
