//! Metric breaker states and queue depths on the dashboard (issue 8), with real components: a
//! Python service with prometheus_client exporting resilience4j-named series (one-hot
//! `resilience4j_circuitbreaker_state{name,state}`, not-permitted calls, bulkhead queue depth
//! and capacity) and a Hystrix-named breaker flag (`tests/py-metrics/app.py metrics`, moved
//! through its control endpoints), scraped by the real binary in tmux:
//!
//! 1. `faultline watch --scrape ... --record FILE`: the `checkout → payments` row shows
//!    `CLOSED`, then `OPEN` from the metric (no `~`: not inferred), with queue `7/100`, and
//!    `checkout → users` `OPEN` from Hystrix's flag; then `HALF-OPEN`; then `CLOSED`.
//! 2. `faultline review FILE` on what it recorded: the metric state *as of the cursor*: `OPEN`
//!    with the cursor inside the open period, `HALF-OPEN` or `CLOSED` after it.
//! 3. `faultline report --from +0s --to T` on the same capture: `open` for a `T` inside the
//!    open period, `half_open` inside the half-open one.
//!
//! Needs tmux and the Python venv (`scripts/test-deps.sh`); a missing one fails the test.

mod common;
mod metrics_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{Session, dep_row};
use metrics_support::{http_get, python, repo, spawn};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");
const SECS: Duration = Duration::from_secs(1);

/// One dependencies-table row by column name: the cells after the KIND column, aligned with
/// the header (the breaker cell may be two words: `AT CAPACITY`, `EJECTED 2/5`).
struct Row {
    breaker: String,
    cells: Vec<(String, String)>,
}

impl Row {
    fn get(&self, column: &str) -> Option<&str> {
        self.cells
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }
}

/// The row for `caller → dependency` on a dependencies screen, by the header's column names.
fn row(screen: &str, caller: &str, dependency: &str) -> Option<Row> {
    let header: Vec<String> = screen
        .lines()
        .find(|l| l.contains("CALLER → DEPENDENCY"))?
        .split_whitespace()
        .map(|c| c.trim_matches(|ch| "│↑↓".contains(ch)).to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let cells = dep_row(screen, caller, dependency)?;
    let kind = header.iter().position(|c| c == "KIND")?;
    let breaker_col = header.iter().position(|c| c == "BREAKER")?;
    // Row cells: caller, →, dependency, kind, breaker (one or two words), then the rest.
    let k = cells.iter().position(|c| c == dependency)? + 1;
    let mut i = k + (breaker_col - kind);
    let mut breaker = cells.get(i)?.clone();
    if matches!(breaker.as_str(), "AT" | "EJECTED") {
        i += 1;
        breaker = format!("{breaker} {}", cells.get(i)?);
    }
    let rest = header[breaker_col + 1..]
        .iter()
        .cloned()
        .zip(cells[i + 1..].iter().cloned())
        .collect();
    Some(Row {
        breaker,
        cells: rest,
    })
}

/// Waits until the row's breaker cell is exactly `state`; returns the screen.
fn wait_breaker(s: &Session, dep: &str, state: &str, timeout: Duration) -> String {
    s.wait(
        &format!("checkout → {dep} to show breaker {state}"),
        timeout,
        |t| row(t, "checkout", dep).is_some_and(|r| r.breaker == state),
    )
}

#[test]
fn metric_breaker_states_and_queue_live_and_in_review() {
    let py = python();
    let app = spawn(
        "python metrics app",
        Command::new(&py)
            .arg(repo().join("tests/py-metrics/app.py"))
            .arg("metrics"),
    );
    let port = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"].clone();
    let base = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("watch.jsonl");
    let log = tmp.path().join("watch.log");

    let cmd = format!(
        "{BIN} watch --scrape checkout={base}/metrics --scrape-interval 500ms \
         --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --record {} --log-file {}",
        cap.display(),
        log.display()
    );
    let s = Session::start("dash-metrics", &cmd);
    s.wait("the live dashboard", 20 * SECS, |t| {
        t.contains("faultline LIVE") && t.contains("1 Dependencies")
    });
    s.wait(
        "the checkout → payments row (from metrics alone)",
        20 * SECS,
        |t| row(t, "checkout", "payments").is_some(),
    );
    wait_breaker(&s, "payments", "CLOSED", 20 * SECS);

    // Open, with rejected calls, a Hystrix breaker open on another dependency, a queue of 7.
    http_get(&format!("{base}/state?state=open"));
    let (opened, opened_at) = (Instant::now(), chrono::Utc::now());
    http_get(&format!("{base}/reject?n=40"));
    http_get(&format!("{base}/hystrix?open=1&short=12"));
    http_get(&format!("{base}/queue?depth=7"));
    let screen = wait_breaker(&s, "payments", "OPEN", 20 * SECS);
    let r = row(&screen, "checkout", "payments").expect("row");
    assert_eq!(r.breaker, "OPEN", "from the metric: no `~`\n{screen}");
    let screen = s.wait("queue 7/100 on checkout → payments", 20 * SECS, |t| {
        row(t, "checkout", "payments").is_some_and(|r| r.get("QUEUE") == Some("7/100"))
    });
    assert!(
        !screen.contains("no breaker metrics"),
        "the footer must not say there are no breaker metrics:\n{screen}"
    );
    wait_breaker(&s, "users", "OPEN", 20 * SECS);

    // Keep each state longer than the review cursor's smallest step (10 s), so review can stop
    // inside it.
    sleep_until(opened + 14 * SECS);
    http_get(&format!("{base}/state?state=half_open"));
    let (half, half_at) = (Instant::now(), chrono::Utc::now());
    wait_breaker(&s, "payments", "HALF-OPEN", 20 * SECS);
    sleep_until(half + 14 * SECS);
    http_get(&format!("{base}/state?state=closed"));
    let closed = Instant::now();
    wait_breaker(&s, "payments", "CLOSED", 20 * SECS);
    sleep_until(closed + 6 * SECS);
    s.quit();
    drop(s);
    assert!(
        std::fs::metadata(&cap).is_ok_and(|m| m.len() > 0),
        "watch --record wrote nothing to {}",
        cap.display()
    );

    // Review: the state as of the cursor.
    let rlog = tmp.path().join("review.log");
    let cmd = format!(
        "{BIN} review {} --log-file {}",
        cap.display(),
        rlog.display()
    );
    let s = Session::start("dash-review", &cmd);
    s.wait("the review dashboard", 30 * SECS, |t| {
        t.contains("faultline REVIEW") && row(t, "checkout", "payments").is_some()
    });
    // The whole capture: as of its end the breaker is closed.
    wait_breaker(&s, "payments", "CLOSED", 10 * SECS);
    // Narrow the window to its smallest, then walk back into the open period.
    s.text("{{{{");
    let inside = step_until(&s, "[", |r| r.breaker == "OPEN").unwrap_or_else(|| {
        panic!(
            "the cursor never reached the open period (OPEN from the metric):\n{}",
            s.screen()
        )
    });
    assert_eq!(inside.breaker, "OPEN");
    // And forward past it: half-open, then closed.
    let after = step_until(&s, "]", |r| {
        r.breaker == "HALF-OPEN" || r.breaker == "CLOSED"
    })
    .unwrap_or_else(|| panic!("the cursor never left the open period:\n{}", s.screen()));
    assert!(
        after.breaker == "HALF-OPEN" || after.breaker == "CLOSED",
        "{}",
        after.breaker
    );
    s.quit();

    // `report` over windows ending inside each period agrees with the cursor.
    for (to, want) in [
        (opened_at + chrono::Duration::seconds(7), "open"),
        (half_at + chrono::Duration::seconds(7), "half_open"),
    ] {
        let to = to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let out = Command::new(BIN)
            .arg("report")
            .arg(&cap)
            .args(["--format", "json", "--from", "+0s", "--to", &to])
            .output()
            .expect("run faultline report");
        assert!(
            out.status.success(),
            "report --from +0s --to {to}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
        let r = rows
            .iter()
            .find(|r| r["caller"] == "checkout" && r["dependency"] == "payments")
            .unwrap_or_else(|| panic!("no checkout → payments row up to {to}: {rows:#?}"));
        assert_eq!(r["breaker"], want, "as of {to}: {r:#}");
    }
}

/// Presses `key` (one cursor step) until the payments row satisfies `pred`, at most 12 steps,
/// giving the review thread up to 5 s per step to show the new window.
fn step_until(s: &Session, key: &str, pred: impl Fn(&Row) -> bool) -> Option<Row> {
    for _ in 0..12 {
        s.text(key);
        if let Some(screen) = s.poll(5 * SECS, |t| {
            row(t, "checkout", "payments").is_some_and(|r| pred(&r))
        }) {
            return row(&screen, "checkout", "payments");
        }
    }
    None
}

/// Sleeps until `t` (shapes the recorded data; never an assertion).
fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}
