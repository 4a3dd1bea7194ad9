//! One answer per dependency (issue 8): for one capture and one window, the dashboard, `report
//! --format json` and the numbers `lint --format json` cites agree on calls, errors, retries
//! and breaker state for the same edge, and equal what the system did.
//!
//! The capture comes from real libraries (`tests/py-metrics/shop.py`): checkout calls payments
//! through `requests` with `tenacity` retries that nothing marks as resends (retries are only
//! visible as failed sibling attempts), inside a real `pybreaker` breaker whose state a
//! prometheus_client gauge exports under resilience4j's name; the OpenTelemetry Python SDK
//! exports the spans to `faultline record`, which also scrapes the gauge. The script writes the
//! exact counts (calls, errors, retries) and the breaker's end state.
//!
//! The window is the whole capture: what `faultline review` opens on, what `report` and `lint`
//! use without `--from`/`--to`. The dashboard is read in tmux (the dependencies row and the
//! detail's stats line); lint's numbers are those a `threshold` rule cites for the edge
//! (calls, errors, retries, breaker) and those RTY-004 (retry budget) cites.
//!
//! Needs tmux and the Python venv (`scripts/test-deps.sh`); a missing one fails the test.

mod common;
mod metrics_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::tmux::{Session, dep_row};
use common::{Recorder, report_raw, run_with_timeout, venv_python};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");
const SECS: Duration = Duration::from_secs(1);

const RULES: &str = r#"
[[rule]]
id = "AGREE-1"
detector = "threshold"
severity = "info"
remediation = "none: this rule only makes lint cite each edge's numbers"
[rule.params]
condition = "calls > 0"
min_calls = 1

[[rule]]
id = "RTY-004"
detector = "retry-budget"
severity = "warning"
remediation = "Add a retry budget"
"#;

/// `lint --format json` with the rules above; its results.
fn lint(capture: &Path, dir: &Path) -> Vec<Value> {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir rules");
    std::fs::write(rules.join("agree.toml"), RULES).expect("write rules");
    let out = run_with_timeout(
        Command::new(BIN)
            .arg("lint")
            .arg(capture)
            .arg("--rules")
            .arg(&rules)
            .args(["--format", "json", "--fail-on", "error"]),
        120 * SECS,
    );
    assert!(
        out.status.code() == Some(0),
        "lint failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("lint JSON")
}

/// The lint finding of `rule` on checkout → payments.
fn finding<'a>(results: &'a [Value], rule: &str) -> Option<&'a Value> {
    results.iter().find(|f| {
        f["rule"] == rule
            && f["outcome"] == "finding"
            && f["caller"] == "checkout"
            && f["dependency"] == "payments"
    })
}

/// A breaker state as `report` names it, from a dashboard cell (`OPEN`, `HALF-OPEN`, `OPEN~`)
/// or lint's `breaker` variable (`open`, `open (inferred)`); and whether it is inferred.
fn state(s: &str) -> (String, bool) {
    let inferred = s.ends_with('~') || s.contains("inferred");
    let word = s
        .trim_end_matches('~')
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase()
        .replace('-', "_");
    let word = if word == "–" || word.is_empty() {
        "unknown".to_owned()
    } else {
        word
    };
    (word, inferred)
}

fn percent_cell(cells: &[String], header: &[String], column: &str) -> Option<f64> {
    let i = header.iter().position(|c| c == column)?;
    cells.get(i)?.trim_end_matches('%').parse().ok()
}

#[test]
fn dashboard_report_and_lint_agree_on_one_edge() {
    let py = venv_python();
    let metrics_port = metrics_support::free_port();
    let scrape = format!("checkout=http://127.0.0.1:{metrics_port}/metrics");
    let rec = Recorder::start_with(&["--scrape", &scrape, "--scrape-interval", "250ms"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let truth_path = tmp.path().join("truth.json");
    let out = run_with_timeout(
        Command::new(&py)
            .arg(common::root().join("tests/py-metrics/shop.py"))
            .arg(format!("http://{}", rec.http))
            .arg(metrics_port.to_string())
            .arg(&truth_path)
            .arg("2"),
        120 * SECS,
    );
    assert!(
        out.status.success(),
        "shop.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    let cap = stopped.out.clone();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("truth")).expect("json");
    let t = |k: &str| truth[k].as_u64().unwrap_or_else(|| panic!("truth {k}"));
    assert_eq!(
        truth["breaker"], "open",
        "the scenario ends with the breaker open"
    );

    let mut problems: Vec<String> = Vec::new();
    let mut check = |what: String, ok: bool| {
        if !ok {
            problems.push(what);
        }
    };

    // report
    let out = report_raw(&[&cap], &["--format", "json"]);
    assert!(out.status.success(), "report failed");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("report JSON");
    let r = rows
        .iter()
        .find(|r| r["caller"] == "checkout" && r["dependency"] == "payments")
        .unwrap_or_else(|| panic!("no report row checkout → payments: {rows:#?}"))
        .clone();
    let (calls, errors) = (r["calls"].as_u64(), r["errors"].as_u64());
    let retries = r["retries"].as_u64();
    check(
        format!("report calls {calls:?}, truth {}", t("calls")),
        calls == Some(t("calls")),
    );
    check(
        format!("report errors {errors:?}, truth {}", t("errors")),
        errors == Some(t("errors")),
    );
    check(
        format!(
            "report retries {retries:?} (field `retries`), truth {}",
            t("retries")
        ),
        retries == Some(t("retries")),
    );
    let report_breaker = r["breaker"].as_str().unwrap_or("").to_owned();
    let report_inferred = r["breaker_source"]
        .as_str()
        .is_some_and(|s| s.starts_with("inferred"));
    check(
        format!(
            "report breaker {report_breaker:?} from {}, truth open from the metric",
            r["breaker_source"]
        ),
        report_breaker == "open" && !report_inferred,
    );
    let (calls, errors, retries) = (t("calls"), t("errors"), t("retries"));

    // lint: the threshold rule cites every figure; RTY-004 must be raised (42 % of logical
    // calls retried) and cite the retries. Every figure any finding on the edge cites under
    // these names must agree (a retry rule citing `logical_calls` means calls − retries).
    let results = lint(&cap, tmp.path());
    for rule in ["AGREE-1", "RTY-004"] {
        check(
            format!("lint: no {rule} finding on checkout → payments: {results:#?}"),
            finding(&results, rule).is_some(),
        );
    }
    check(
        "lint: the threshold finding cites calls, errors, retries and breaker".into(),
        finding(&results, "AGREE-1").is_some_and(|f| {
            ["calls", "errors", "retries", "breaker"]
                .iter()
                .all(|k| !f["evidence"][k].is_null())
        }),
    );
    check(
        "lint: RTY-004 cites the retries".into(),
        finding(&results, "RTY-004").is_some_and(|f| !f["evidence"]["retries"].is_null()),
    );
    let on_edge = results.iter().filter(|f| {
        f["outcome"] == "finding" && f["caller"] == "checkout" && f["dependency"] == "payments"
    });
    for f in on_edge {
        let (rule, ev) = (&f["rule"], &f["evidence"]);
        for (k, want) in [
            ("calls", calls),
            ("errors", errors),
            ("retries", retries),
            ("logical_calls", calls - retries),
        ] {
            if !ev[k].is_null() {
                check(
                    format!("lint {rule} cites {k} {}, want {want}", ev[k]),
                    ev[k].as_u64() == Some(want),
                );
            }
        }
        if let Some(b) = ev["breaker"].as_str() {
            let (st, mut inf) = state(b);
            inf |= ev["breaker_source"]
                .as_str()
                .is_some_and(|s| s.starts_with("inferred"));
            check(
                format!(
                    "lint {rule} cites breaker {b:?} ({}) vs report {report_breaker} (inferred: {report_inferred})",
                    ev["breaker_source"]
                ),
                st == report_breaker && inf == report_inferred,
            );
        }
    }

    // the dashboard, in review over the whole capture
    let log = tmp.path().join("review.log");
    let cmd = format!(
        "{BIN} review {} --log-file {}",
        cap.display(),
        log.display()
    );
    let s = Session::start("agree", &cmd);
    let screen = s.wait("the review dashboard", 30 * SECS, |t| {
        t.contains("faultline REVIEW") && dep_row(t, "checkout", "payments").is_some()
    });
    let header: Vec<String> = screen
        .lines()
        .find(|l| l.contains("CALLER → DEPENDENCY"))
        .expect("table header")
        .split_whitespace()
        .map(|c| c.trim_matches(|ch| "│↑↓".contains(ch)).to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let cells = dep_row(&screen, "checkout", "payments").expect("row");
    // Header and row cells line up up to the trend column (the breaker cell is one word here).
    let breaker_cell = header
        .iter()
        .position(|c| c == "BREAKER")
        .and_then(|i| cells.get(i))
        .cloned()
        .unwrap_or_default();
    let (st, inf) = state(&breaker_cell);
    check(
        format!("dashboard breaker {breaker_cell:?} vs report {report_breaker}"),
        st == report_breaker && inf == report_inferred,
    );
    for (col, n) in [("ERR%", errors), ("RTY%", retries)] {
        let want = n as f64 * 100.0 / calls as f64;
        let got = percent_cell(&cells, &header, col);
        check(
            format!("dashboard {col} {got:?}, want {want:.2} (of {calls} calls)"),
            got.is_some_and(|g| (g - want).abs() <= 0.51),
        );
    }
    // The detail's stats line has the exact call count.
    s.text("/");
    s.text("dep=payments");
    s.keys(&["Enter"]);
    s.wait("the filtered table", 10 * SECS, |t| {
        t.contains("filter dep=payments")
    });
    s.keys(&["Enter"]);
    let detail = s.wait("the dependency detail", 10 * SECS, |t| {
        t.lines()
            .any(|l| l.contains("calls ") && l.contains("retry%"))
    });
    let stats = detail
        .lines()
        .find(|l| l.contains("calls ") && l.contains("retry%"))
        .unwrap_or_default()
        .to_owned();
    let word_after = |key: &str| -> Option<f64> {
        let mut it = stats
            .split_whitespace()
            .skip_while(|w| w.trim_matches('│') != key);
        it.next()?;
        it.next()?.trim_end_matches('%').parse().ok()
    };
    check(
        format!(
            "dashboard detail calls {:?}, want {calls}: {stats}",
            word_after("calls")
        ),
        word_after("calls") == Some(calls as f64),
    );
    let want = retries as f64 * 100.0 / calls as f64;
    check(
        format!(
            "dashboard detail retry% {:?}, want {want:.2}: {stats}",
            word_after("retry%")
        ),
        word_after("retry%").is_some_and(|g| (g - want).abs() <= 0.51),
    );
    s.quit();

    assert!(
        problems.is_empty(),
        "dashboard, report and lint disagree on checkout → payments (truth: {truth}):\n  {}\n\
         report row: {r:#}\ndashboard:\n{screen}",
        problems.join("\n  ")
    );
}
