//! End-to-end: the real `faultline` binary in a real terminal (tmux), driven with `send-keys` and
//! read with `capture-pane`.
//!
//! 1. `faultline demo` on free ports: within two minutes the payments breaker shows OPEN from its
//!    metric (no `~`), the inventory bulkhead queue `n/100`, and the findings TMO-001, RTY-001
//!    and STA-001; drill into the open breaker, open a trace waterfall, quit, and the terminal is
//!    restored (alternate screen left, exit code 0).
//! 2. `faultline review` on a capture made in the test by the real recorder (`faultline record`)
//!    from 90 s of the demo's traffic (`demo::backfill`): move the time cursor into the incident
//!    (OPEN from the metric as of the cursor), drill in, open a waterfall; move the cursor past the
//!    recovery (CLOSED); quit, terminal restored.
//!
//! tmux comes from `scripts/test-deps.sh`. Without it the tests are skipped locally and fail in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    // A missing tmux fails the test (it must never pass by skipping).
    assert!(
        ok,
        "tmux is required: install it with `bash scripts/test-deps.sh` (or apt-get install tmux)"
    );
    ok
}

/// A tmux session that is killed when dropped.
struct Session {
    name: String,
}

impl Session {
    fn start(tag: &str, cmd: &str) -> Session {
        let name = format!("faultline-{tag}-{}", std::process::id());
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &name])
            .output();
        // The shell keeps the pane after faultline exits so the test can read what it left.
        let script = format!("{cmd}; echo FAULTLINE-EXITED-$?; sleep 60");
        let st = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "48"])
            .arg(script)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux new-session");
        assert!(st.success());
        Session { name }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.name, k])
                .status()
                .expect("send-keys");
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .expect("send-keys");
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Polls the screen until `pred` holds, up to `secs`.
    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn alternate_screen(&self) -> bool {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, "#{alternate_on}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Quits with `q` and checks the terminal was restored.
    fn quit_and_check_restored(&self) {
        self.keys(&["q"]);
        let s = self.wait("faultline to exit", 20, |s| s.contains("FAULTLINE-EXITED-"));
        assert!(s.contains("FAULTLINE-EXITED-0"), "exit status:\n{s}");
        assert!(!self.alternate_screen(), "alternate screen left");
        assert!(
            !s.contains("1 Dependencies"),
            "dashboard gone from the screen:\n{s}"
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

fn log_file(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("faultline-tmux-{tag}-{}.log", std::process::id()))
}

/// The dependencies table's row of `name` (`caller → dependency`), not the preview's title nor
/// the header's alert banner: a row inside the table's border.
fn dep_row(screen: &str, name: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| l.starts_with(&format!("│{name} ")))
        .map(str::to_string)
}

/// Whether the payments row shows `state` from the breaker metric (an inferred state carries a
/// `~`, so ` OPEN~` does not match ` OPEN `).
fn payments_metric_state(screen: &str, state: &str) -> bool {
    dep_row(screen, "checkout → payments").is_some_and(|r| r.contains(&format!(" {state} ")))
}

/// Opens the top (open) dependency, then a call's trace, and checks both screens.
fn drill_into_open_breaker(s: &Session) {
    s.text("/");
    s.text("state=open");
    s.keys(&["Enter"]);
    s.wait("the filtered table", 10, |t| {
        t.contains("filter state=open") && payments_metric_state(t, "OPEN")
    });
    s.keys(&["Enter"]);
    s.wait("the dependency detail", 10, |t| {
        t.contains("checkout → payments")
            && t.contains("breaker OPEN")
            && t.contains("source resilience4j:resilience4j_circuitbreaker_state")
            && t.contains("Recent and slowest calls")
    });
    s.wait("calls over the edge", 15, |t| t.contains("recent "));
    s.keys(&["Enter"]);
    s.wait("the trace waterfall", 10, |t| {
        t.contains("critical path")
            && t.contains("checkout POST /charge")
            && t.contains("edge checkout → payments")
    });
}

#[test]
fn demo_shows_an_open_breaker_and_drills_into_a_trace() {
    if !have_tmux() {
        return;
    }
    let log = log_file("demo");
    let cmd = format!(
        "{BIN} demo --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --log-file {}",
        log.display()
    );
    let s = Session::start("demo", &cmd);
    let started = Instant::now();
    s.wait("the dashboard", 10, |t| {
        t.contains("faultline DEMO") && t.contains("1 Dependencies")
    });
    s.wait("the payments breaker OPEN from its metric", 60, |t| {
        payments_metric_state(t, "OPEN")
    });
    drill_into_open_breaker(&s);
    s.keys(&["Escape", "Escape", "Escape"]);
    s.wait("the inventory queue filling, from its gauges", 60, |t| {
        dep_row(t, "checkout → inventory").is_some_and(|r| {
            r.split_whitespace()
                .any(|w| w.ends_with("/100") && !w.starts_with("0/"))
        })
    });
    s.text("3");
    // The whole story within two minutes of the demo's start.
    let left = Duration::from_secs(120).saturating_sub(started.elapsed());
    s.wait("the three headline findings", left.as_secs().max(1), |t| {
        let found = |rule: &str, subject: &str| {
            t.lines()
                .any(|l| l.contains(rule) && l.contains(subject) && !l.contains("no data"))
        };
        found("TMO-001", "checkout → inventory")
            && found("RTY-001", "checkout → shipping")
            && found("STA-001", "cart")
    });
    s.text("1");
    s.text("?");
    s.wait("the help overlay", 10, |t| t.contains("Keys (esc closes)"));
    s.keys(&["Escape"]);
    s.quit_and_check_restored();
    let _ = std::fs::remove_file(log);
}

#[test]
fn sigterm_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let log = log_file("sigterm");
    let cmd = format!(
        "{BIN} demo --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --log-file {}",
        log.display()
    );
    let s = Session::start("sigterm", &cmd);
    s.wait("the dashboard", 10, |t| t.contains("faultline DEMO"));
    assert!(s.alternate_screen());
    // faultline is the only child of the pane's shell.
    let out = Command::new("tmux")
        .args(["display-message", "-p", "-t", &s.name, "#{pane_pid}"])
        .output()
        .expect("pane pid");
    let shell: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pane pid");
    let pid = child_of(shell).expect("faultline's pid");
    sigterm(pid);
    let screen = s.wait("faultline to exit", 20, |t| t.contains("FAULTLINE-EXITED-"));
    assert!(screen.contains("FAULTLINE-EXITED-0"), "{screen}");
    assert!(!s.alternate_screen(), "alternate screen left after SIGTERM");
    let _ = std::fs::remove_file(log);
}

/// Sends SIGTERM to `pid`.
fn sigterm(pid: i32) {
    // SAFETY: kill(2) with a pid this test started (directly or as the pane's child).
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill({pid}, SIGTERM)");
}

/// The first process whose parent is `ppid` (from /proc; no procps needed).
fn child_of(ppid: i32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // Fields after the parenthesised command: state, ppid, ...
        let rest = &stat[stat.rfind(')')? + 2..];
        let parent: i32 = rest.split(' ').nth(1)?.parse().ok()?;
        (parent == ppid).then_some(pid)
    })
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Records 90 s of the demo's traffic with the real recorder.
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
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sent = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match faultline::demo::backfill(11, addr, 90).await {
                Ok(n) => break n,
                Err(e) if Instant::now() < deadline && e.contains("connect") => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("backfill: {e}"),
            }
        }
    });
    assert!(sent > 10_000, "{sent} spans");
    sigterm(rec.id() as i32);
    let done = rec.wait_with_output().expect("record exit");
    assert!(
        done.status.success(),
        "record: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(std::fs::metadata(&out).expect("capture").len() > 100_000);
    out
}

#[test]
fn review_moves_the_time_cursor_into_the_incident() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = record_capture(dir.path());
    let log = dir.path().join("review.log");
    let cmd = format!(
        "{BIN} review {} --log-file {}",
        capture.display(),
        log.display()
    );
    let s = Session::start("review", &cmd);
    let first = s.wait("the review dashboard", 30, |t| {
        t.contains("faultline REVIEW") && t.contains("Incident")
    });
    assert!(first.contains("checkout → payments"), "{first}");
    assert!(
        first.contains('▲'),
        "the timeline marks the breaker opening:\n{first}"
    );
    // Narrow the window to about 11 s, then walk it back until the breaker shows open.
    s.text("{{{");
    assert!(
        walk(&s, "[", "OPEN"),
        "the cursor reached the incident:\n{}",
        s.screen()
    );
    drill_into_open_breaker(&s);
    s.keys(&["Escape", "Escape", "Escape", "Escape"]);
    // Past the recovery the metric says closed, as of the cursor.
    assert!(
        walk(&s, "]", "CLOSED"),
        "the cursor passed the recovery:\n{}",
        s.screen()
    );
    s.quit_and_check_restored();
}

/// Moves the review cursor with `key` until the payments row shows `state` from its metric.
fn walk(s: &Session, key: &str, state: &str) -> bool {
    for _ in 0..12 {
        s.text(key);
        // The review thread builds the window's snapshot; give a loaded machine time to show it.
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if payments_metric_state(&s.screen(), state) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    false
}
