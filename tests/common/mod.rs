//! Shared helpers for the integration tests: start the real `faultline` binary, run the real
//! OpenTelemetry SDK scenarios against it, run `faultline report`, compare with ground truth.
//!
//! Every wait here has a deadline, and every child process is killed when its handle drops, so
//! a hung receiver or exporter fails the test instead of hanging CI.
#![allow(dead_code)]

pub mod tmux;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// The `faultline` binary cargo built for these tests.
pub const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const DEPS_HINT: &str = "run scripts/test-deps.sh (it installs the Python venv, the Node packages \
     and the Debian packages the integration tests use)";

/// The Python of the test venv made by `scripts/test-deps.sh`. Panics (never skips) if missing.
pub fn venv_python() -> PathBuf {
    let py = root().join(".venv/bin/python");
    let probe = root().join(".venv/lib");
    assert!(
        py.exists() && probe.exists(),
        "{} is missing: {DEPS_HINT}",
        py.display()
    );
    let ok = Command::new(&py)
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc.trace_exporter, \
             opentelemetry.exporter.otlp.proto.http.trace_exporter",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the venv at .venv lacks the OpenTelemetry SDK or exporters: {DEPS_HINT}"
    );
    py
}

/// `tests/node`, with its `node_modules` installed. Panics (never skips) if missing.
pub fn node_dir() -> PathBuf {
    let dir = root().join("tests/node");
    let exporter = dir.join("node_modules/@opentelemetry/exporter-trace-otlp-http/package.json");
    assert!(
        exporter.exists(),
        "{} is missing: {DEPS_HINT}",
        exporter.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.map(|o| o.status.success()).unwrap_or(false),
        "`node` is not on PATH: {DEPS_HINT}"
    );
    dir
}

// --------------------------------------------------------------------------------- processes

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub Option<Child>);

impl KillOnDrop {
    pub fn pid(&self) -> u32 {
        self.0.as_ref().expect("child").id()
    }
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child")
    }
    pub fn take(&mut self) -> Child {
        self.0.take().expect("child")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits for `child` up to `timeout`; kills it and returns None on timeout.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a scenario script that exports to `rec` (`cmd`: the venv's Python or node with the script
/// and its arguments): proxies off (the exporters must reach 127.0.0.1), at most 120 s, and fails
/// the test with the script's stderr and faultline's when it does not succeed.
pub fn run_scenario(cmd: &mut Command, what: &str, rec: &Recorder) -> Output {
    run_scenario_within(cmd, what, rec, Duration::from_secs(120))
}

/// [`run_scenario`] with a deadline of its own, for the longer scenarios.
pub fn run_scenario_within(
    cmd: &mut Command,
    what: &str,
    rec: &Recorder,
    deadline: Duration,
) -> Output {
    let out = run_with_timeout(
        cmd.env("NO_PROXY", "*")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY"),
        deadline,
    );
    assert!(
        out.status.success(),
        "{what} failed: {:?}\n{}\n--- faultline stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        rec.stderr_so_far()
    );
    out
}

/// Runs a command to completion with a deadline, capturing stdout and stderr. Panics with the
/// command and its output if it does not finish in time.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop(Some(
        cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}")),
    ));
    // Drain both pipes on threads, so a chatty child cannot block on a full pipe.
    let mut out = child.child().stdout.take().unwrap();
    let mut err = child.child().stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = wait_timeout(child.child(), timeout);
    child.0 = None;
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{desc} did not finish within {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

// --------------------------------------------------------------------------------- recorder

/// A running `faultline record` with both receivers on free loopback ports.
pub struct Recorder {
    proc: KillOnDrop,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub out: PathBuf,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// What a stopped recorder left behind.
pub struct Stopped {
    pub status: ExitStatus,
    pub stderr: String,
    pub out: PathBuf,
    /// Keeps the capture's directory alive.
    pub dir: tempfile::TempDir,
}

impl Recorder {
    /// `faultline record --out DIR/capture.jsonl --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0`
    pub fn start() -> Recorder {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("faultline-rec")
            .tempdir()
            .unwrap();
        let out = dir.path().join("capture.jsonl");
        let mut cmd = Command::new(FAULTLINE);
        cmd.arg("record")
            .arg("--out")
            .arg(&out)
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut proc = KillOnDrop(Some(cmd.spawn().expect("spawn faultline record")));
        let stderr = proc.child().stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let keep = lines.clone();
        let stderr_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });

        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut grpc, mut http) = (None, None);
        while grpc.is_none() || http.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("faultline: listening otlp-grpc=") {
                        grpc = Some(
                            rest.trim()
                                .parse::<SocketAddr>()
                                .unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}")),
                        );
                    } else if let Some(rest) = line.strip_prefix("faultline: listening otlp-http=")
                    {
                        http = Some(
                            rest.trim()
                                .parse::<SocketAddr>()
                                .unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}")),
                        );
                    }
                }
                Err(_) => {
                    let status = proc.child().try_wait().ok().flatten();
                    panic!(
                        "faultline record did not print both `faultline: listening otlp-grpc=ADDR` and \
                         `faultline: listening otlp-http=ADDR` within 20 s (exited: {status:?}); stderr:\n{}",
                        lines.lock().unwrap().join("\n")
                    );
                }
            }
        }
        let (grpc, http) = (grpc.unwrap(), http.unwrap());
        assert!(
            grpc.ip().is_loopback() && http.ip().is_loopback(),
            "receivers must bind loopback"
        );
        assert_ne!(grpc.port(), 0, "port 0 must be resolved to the bound port");
        assert_ne!(http.port(), 0, "port 0 must be resolved to the bound port");
        Recorder {
            proc,
            grpc,
            http,
            out,
            stderr: lines,
            stderr_thread: Some(stderr_thread),
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.proc.child().try_wait(), Ok(None))
    }

    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Resident and peak resident memory of the recorder, in KiB (from /proc).
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Waits (without signalling) up to `timeout` for the recorder to exit by itself, e.g.
    /// after `--duration`. Panics if it does not.
    pub fn wait_exit(mut self, timeout: Duration) -> Stopped {
        let status = wait_timeout(self.proc.child(), timeout);
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let stderr = self.stderr_so_far();
        let status = status.unwrap_or_else(|| {
            panic!("faultline record still running after {timeout:?}; stderr:\n{stderr}")
        });
        self.proc.0 = None;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Stopped {
            status,
            stderr,
            out: self.out.clone(),
            dir,
        }
    }

    /// SIGTERM, then wait up to 15 s for a clean exit. Panics if it does not exit.
    pub fn stop(mut self) -> Stopped {
        self.signal_stop(libc::SIGTERM)
    }

    /// Sends `sig` (SIGTERM or SIGINT) and waits up to 15 s.
    pub fn signal_stop(&mut self, sig: libc::c_int) -> Stopped {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
        let status = wait_timeout(self.proc.child(), Duration::from_secs(15));
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let stderr = self.stderr_so_far();
        let status = status.unwrap_or_else(|| {
            panic!("faultline record did not exit within 15 s of signal {sig}; stderr:\n{stderr}")
        });
        self.proc.0 = None;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Stopped {
            status,
            stderr,
            out: self.out.clone(),
            dir,
        }
    }
}

impl Stopped {
    /// Asserts the clean exit the CLI promises on SIGTERM/SIGINT.
    pub fn assert_clean(&self) -> &Self {
        assert!(
            self.status.success(),
            "faultline record must exit 0 on SIGTERM/SIGINT, got {:?}; stderr:\n{}",
            self.status,
            self.stderr
        );
        self
    }
}

// --------------------------------------------------------------------------------- report

/// One row of `faultline report --format json`. Every field is required: a missing or renamed
/// field fails deserialization, and so the test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub caller: String,
    pub dependency: String,
    pub kind: String,
    pub calls: u64,
    pub errors: u64,
    pub error_ratio: f64,
    // Traffic counted one way (issue 8): the dependency view's counts.
    // `null` for calls counted from metrics (they carry no timeouts, retries, short-circuits).
    pub timeouts: Option<u64>,
    pub retries: Option<u64>,
    pub retry_ratio: Option<f64>,
    pub timeout_ratio: Option<f64>,
    pub short_circuits: Option<u64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    // Metric columns (issue 3): breaker state and transitions, queues, rates.
    pub latency_source: Option<String>,
    pub latency_at_least: Vec<String>,
    pub breaker: String,
    pub breaker_detail: String,
    pub breaker_source: Option<String>,
    pub breaker_since: Option<String>,
    pub queue_depth: Option<f64>,
    pub queue_capacity: Option<f64>,
    pub queue_source: Option<String>,
    pub in_flight: Option<f64>,
    pub pool_utilisation: Option<f64>,
    pub retry_rate: Option<f64>,
    pub timeout_rate: Option<f64>,
    pub rejected_rate: Option<f64>,
    pub breaker_transitions: Vec<serde_json::Value>,
    // Cache hit ratio (issue 12): hit/miss counters or traced lookups.
    pub cache_hits: Option<f64>,
    pub cache_misses: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    pub cache_source: Option<String>,
}

/// Runs `faultline report FILES... ARGS...` with a deadline.
pub fn report_raw(files: &[&Path], args: &[&str]) -> Output {
    let mut cmd = Command::new(FAULTLINE);
    cmd.arg("report")
        .args(files)
        .args(args)
        .env("NO_COLOR", "1");
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

/// `faultline report FILES --format json`, which must succeed; the parsed rows.
pub fn report_json(files: &[&Path]) -> Vec<Row> {
    let out = report_raw(files, &["--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "faultline report {files:?} --format json failed with {:?}\n--- stderr\n{stderr}\n--- stdout\n{stdout}",
        out.status
    );
    let rows: Vec<Row> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "report --format json is not an array of rows with exactly the fields \
                of report::EdgeRow: {e}\n{stdout}"
        )
    });
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.caller.clone(), r.dependency.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "report rows must be ordered by (caller, dependency)"
    );
    rows
}

// --------------------------------------------------------------------------------- truth

#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub scenario: String,
    pub traces: u64,
    pub spans: u64,
    pub edges: Vec<TruthEdge>,
    #[serde(default)]
    pub metric_names: Vec<String>,
    #[serde(default)]
    pub logs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthEdge {
    pub edge: String,
    pub caller: String,
    pub dependency: Option<String>,
    #[serde(rename = "match")]
    pub match_: String,
    pub contains: Vec<String>,
    pub kind: String,
    pub calls: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn load_truth(path: &Path) -> Truth {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The sketch's promise (DESIGN.md): ≤ 1 % relative error on any quantile. The extra 1.5 µs
/// absorbs printing milliseconds with three decimals.
pub const REL_ERR: f64 = 0.01;

pub fn within(got: f64, want: f64) -> bool {
    (got - want).abs() <= REL_ERR * want.abs() + 0.0015
}

impl TruthEdge {
    fn matches(&self, r: &Row) -> bool {
        r.caller == self.caller
            && match self.match_.as_str() {
                "exact" => Some(&r.dependency) == self.dependency.as_ref(),
                _ => self
                    .contains
                    .iter()
                    .all(|c| r.dependency.contains(c.as_str())),
            }
    }
}

/// Compares report rows with the scenario's truth: the same set of edges, exactly the same
/// calls and errors, the right kind and error ratio, and p50/p95/p99/max within the sketch's
/// relative error. Collects every mismatch before failing, so one run shows them all.
pub fn assert_report_matches(rows: &[Row], truth: &Truth) {
    let mut problems = Vec::new();
    let mut used = vec![false; rows.len()];
    for e in &truth.edges {
        let hits: Vec<usize> = (0..rows.len()).filter(|&i| e.matches(&rows[i])).collect();
        if hits.len() != 1 {
            problems.push(format!(
                "edge {} ({} -> {}): expected exactly one report row, found {}: {:?}",
                e.edge,
                e.caller,
                e.dependency
                    .clone()
                    .unwrap_or_else(|| format!("<name containing {:?}>", e.contains)),
                hits.len(),
                hits.iter()
                    .map(|&i| &rows[i].dependency)
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        let i = hits[0];
        used[i] = true;
        let r = &rows[i];
        let tag = format!("edge {} ({} -> {})", e.edge, r.caller, r.dependency);
        if r.kind != e.kind {
            problems.push(format!("{tag}: kind {:?}, want {:?}", r.kind, e.kind));
        }
        if r.calls != e.calls {
            problems.push(format!("{tag}: calls {}, want {}", r.calls, e.calls));
        }
        if r.errors != e.errors {
            problems.push(format!("{tag}: errors {}, want {}", r.errors, e.errors));
        }
        let ratio = if r.calls > 0 {
            r.errors as f64 / r.calls as f64
        } else {
            0.0
        };
        if (r.error_ratio - ratio).abs() > 1e-3 {
            problems.push(format!(
                "{tag}: error_ratio {}, want errors/calls = {ratio:.6}",
                r.error_ratio
            ));
        }
        for (name, got, want) in [
            ("p50_ms", r.p50_ms, e.p50_ms),
            ("p95_ms", r.p95_ms, e.p95_ms),
            ("p99_ms", r.p99_ms, e.p99_ms),
            ("max_ms", r.max_ms, e.max_ms),
        ] {
            if !within(got, want) {
                problems.push(format!(
                    "{tag}: {name} {got}, want {want} ± 1% (off by {:+.3}%)",
                    (got - want) / want * 100.0
                ));
            }
        }
    }
    for (i, r) in rows.iter().enumerate() {
        if !used[i] {
            problems.push(format!("unexpected report row: {r:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "report does not match the {} scenario's ground truth ({} problems):\n  {}\nreport rows:\n{}",
        truth.scenario,
        problems.len(),
        problems.join("\n  "),
        rows.iter()
            .map(|r| format!("  {r:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// --------------------------------------------------------------------------------- captures

/// What a capture file holds, line by line.
#[derive(Debug, Default)]
pub struct CaptureSummary {
    pub lines: usize,
    pub span_lines: usize,
    pub metric_lines: usize,
    pub log_lines: usize,
    pub spans: usize,
    pub log_records: usize,
    pub metric_names: Vec<String>,
    /// (trace id, span id, name) of every span, in file order.
    pub span_ids: Vec<(String, String, String)>,
    pub json: Vec<Value>,
}

/// Reads a capture written by `faultline record`: every line a complete JSON object with
/// exactly one of resourceSpans / resourceMetrics / resourceLogs; the file ends with a newline.
pub fn read_capture(path: &Path) -> CaptureSummary {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read capture {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "capture must end with a complete line"
    );
    let mut s = CaptureSummary::default();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("capture line {} is not JSON ({e}): {line:.200}", n + 1));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("capture line {} is not an object", n + 1));
        let keys: Vec<&String> = obj.keys().collect();
        assert_eq!(
            keys.len(),
            1,
            "capture line {} must hold one of resourceSpans/resourceMetrics/resourceLogs, has {keys:?}",
            n + 1
        );
        s.lines += 1;
        match keys[0].as_str() {
            "resourceSpans" => {
                s.span_lines += 1;
                for rs in obj["resourceSpans"].as_array().unwrap() {
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        for sp in ss["spans"].as_array().into_iter().flatten() {
                            s.spans += 1;
                            s.span_ids.push((
                                sp["traceId"].as_str().unwrap_or("").to_string(),
                                sp["spanId"].as_str().unwrap_or("").to_string(),
                                sp["name"].as_str().unwrap_or("").to_string(),
                            ));
                        }
                    }
                }
            }
            "resourceMetrics" => {
                s.metric_lines += 1;
                for rm in obj["resourceMetrics"].as_array().unwrap() {
                    for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                        for m in sm["metrics"].as_array().into_iter().flatten() {
                            if let Some(name) = m["name"].as_str() {
                                s.metric_names.push(name.to_string());
                            }
                        }
                    }
                }
            }
            "resourceLogs" => {
                s.log_lines += 1;
                for rl in obj["resourceLogs"].as_array().unwrap() {
                    for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                        s.log_records += sl["logRecords"].as_array().map_or(0, |a| a.len());
                    }
                }
            }
            other => panic!("capture line {} has unexpected key {other:?}", n + 1),
        }
        s.json.push(v);
    }
    s
}

/// The Collector `file` exporter's encoding (OTLP/JSON as protobuf's JSON mapping): ids as hex,
/// span kind and status code as integers, 64-bit times as decimal strings. Returns the
/// deviations found (empty when the capture is in that format).
pub fn collector_encoding_problems(cap: &CaptureSummary) -> Vec<String> {
    let mut p = Vec::new();
    let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    for v in &cap.json {
        let Some(rss) = v.get("resourceSpans").and_then(Value::as_array) else {
            continue;
        };
        for rs in rss {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for sp in ss["spans"].as_array().into_iter().flatten() {
                    let tid = sp["traceId"].as_str().unwrap_or("");
                    let sid = sp["spanId"].as_str().unwrap_or("");
                    if !is_hex(tid, 32) {
                        p.push(format!("traceId not 32 hex digits: {:?}", sp["traceId"]));
                    }
                    if !is_hex(sid, 16) {
                        p.push(format!("spanId not 16 hex digits: {:?}", sp["spanId"]));
                    }
                    if let Some(par) = sp.get("parentSpanId").and_then(Value::as_str)
                        && !par.is_empty()
                        && !is_hex(par, 16)
                    {
                        p.push(format!("parentSpanId not hex: {par:?}"));
                    }
                    if let Some(k) = sp.get("kind")
                        && !k.is_u64()
                    {
                        p.push(format!("kind not an integer: {k}"));
                    }
                    for f in ["startTimeUnixNano", "endTimeUnixNano"] {
                        if !sp[f].is_string() {
                            p.push(format!("{f} not a decimal string: {}", sp[f]));
                        }
                    }
                    if let Some(c) = sp.get("status").and_then(|s| s.get("code"))
                        && !c.is_u64()
                    {
                        p.push(format!("status.code not an integer: {c}"));
                    }
                }
            }
        }
        if p.len() > 10 {
            break;
        }
    }
    p
}

/// Gzips `data` (flate2, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The string field `k` of a JSON object, if it is one.
pub fn json_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Whether lint finding `f` is about the subject of scenario truth entry `t`: the same caller
/// and dependency, or the same service with no dependency.
pub fn finding_about(f: &Value, t: &Value) -> bool {
    let s = json_str;
    match (s(t, "caller"), s(t, "dependency"), s(t, "service")) {
        (Some(c), Some(d), _) => s(f, "caller") == Some(c) && s(f, "dependency") == Some(d),
        (_, _, Some(svc)) => s(f, "service") == Some(svc) && s(f, "dependency").is_none(),
        _ => false,
    }
}
