//! `faultline compare` on a capture the real `faultline record` made from the real OpenTelemetry
//! Python SDK (tests/py/compare_scenario.py, span times set exactly): the normal and the slow
//! checkout compared as text and JSON — the spans added and missing, total and self time deltas,
//! where the critical path moved — from one capture and from two; a trace not in a capture is an
//! error naming the file.

mod common;
mod compare_support;

use std::process::{Command, Output};

use common::FAULTLINE;
use serde_json::Value;

const MS: i64 = 1_000_000;

fn compare(args: &[&str]) -> Output {
    Command::new(FAULTLINE)
        .arg("compare")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run faultline compare")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "faultline compare: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn span<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == path)
        .unwrap_or_else(|| panic!("no span {path} in {doc:#}"))
}

const ROOT: &str = "frontend: GET /checkout";
const PAY: &str = "frontend: GET /checkout › frontend: POST /pay";
const PAY_SRV: &str = "frontend: GET /checkout › frontend: POST /pay › payments: POST /pay";

#[test]
fn compare_a_normal_and_a_slow_checkout_from_python_sdk_traces() {
    let cap = compare_support::record();
    let file = cap.stopped.out.to_str().unwrap().to_string();
    let (normal, slow) = (&cap.ids["normal"], &cap.ids["slow"]);

    // JSON: the structure and the exact deltas (span times were set by the SDK's caller).
    let doc: Value =
        serde_json::from_str(&ok(&compare(&[&file, normal, slow, "--format", "json"]))).unwrap();
    assert_eq!(doc["a"]["trace_id"], normal.as_str());
    assert_eq!(doc["b"]["trace_id"], slow.as_str());
    assert_eq!(doc["duration_delta_ns"], 600 * MS);
    assert_eq!(
        (
            doc["matched"].as_u64(),
            doc["added"].as_u64(),
            doc["missing"].as_u64()
        ),
        (Some(3), Some(4), Some(2))
    );
    let presence = |p: &str| span(&doc, p)["presence"].as_str().unwrap().to_string();
    assert_eq!(presence(ROOT), "matched");
    assert_eq!(presence(PAY_SRV), "matched");
    assert_eq!(
        presence("frontend: GET /checkout › frontend: GET /cart"),
        "missing"
    );
    assert_eq!(
        presence("frontend: GET /checkout › frontend: GET /cart › cart: GET /cart"),
        "missing"
    );
    assert_eq!(
        presence("frontend: GET /checkout › frontend: POST /pay#2"),
        "added"
    );
    assert_eq!(
        presence("frontend: GET /checkout › frontend: POST /check"),
        "added"
    );
    // Totals: the root +600 ms, the first pay +340 ms (60 → 400 ms).
    assert_eq!(span(&doc, ROOT)["total_delta_ns"], 600 * MS);
    assert_eq!(span(&doc, PAY)["total_delta_ns"], 340 * MS);
    // Self: the root's own time 100 − (20 + 60) = 20 ms → 700 − (400 + 240 + 14) = 46 ms.
    assert_eq!(span(&doc, ROOT)["a"]["self_ns"], 20 * MS);
    assert_eq!(span(&doc, ROOT)["b"]["self_ns"], 46 * MS);
    assert_eq!(span(&doc, ROOT)["self_delta_ns"], 26 * MS);
    assert_eq!(span(&doc, PAY)["self_delta_ns"], 0);
    assert_eq!(span(&doc, PAY)["b"]["error"], true);
    // The critical path: the slow payments server span grew most on it; the retry and the
    // fraud check joined it; the cart call left it.
    let shifts = doc["critical_shifts"].as_array().unwrap();
    assert_eq!(shifts[0]["path"], PAY_SRV);
    assert_eq!(shifts[0]["shift"], "changed");
    assert_eq!(shifts[0]["delta_ns"], 340 * MS);
    let has = |shift: &str, path: &str| {
        shifts
            .iter()
            .any(|s| s["shift"] == shift && s["path"] == path)
    };
    assert!(
        has("joined", "frontend: GET /checkout › frontend: POST /pay#2"),
        "{shifts:#?}"
    );
    assert!(
        has("joined", "frontend: GET /checkout › frontend: POST /check"),
        "{shifts:#?}"
    );
    assert!(
        has("left", "frontend: GET /checkout › frontend: GET /cart"),
        "{shifts:#?}"
    );

    // Text: the same facts for people.
    let text = ok(&compare(&[&file, normal, slow]));
    assert!(
        text.contains("B − A: +600.0ms · 3 matched · 4 added · 2 missing"),
        "{text}"
    );
    let table = &text[text.find("SPAN").expect("table header")
        ..text
            .find("Critical path moved:")
            .expect("critical path section")];
    let line = |needle: &str| {
        table
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
            .to_string()
    };
    assert!(line("frontend: GET /cart").starts_with('-'), "{text}");
    assert!(line("fraud: POST /check").starts_with('+'), "{text}");
    let root = line("frontend: GET /checkout");
    for want in [
        "100.0ms", "700.0ms", "+600.0ms", "20.0ms", "46.0ms", "+26.0ms",
    ] {
        assert!(root.contains(want), "root line lacks {want}: {root}");
    }
    let moved = &text[text
        .find("Critical path moved:")
        .expect("critical path section")..];
    let first = moved.lines().nth(1).unwrap();
    assert!(
        first.contains("changed")
            && first.contains("+340.0ms")
            && first.contains("payments: POST /pay"),
        "{moved}"
    );
    assert!(
        moved.contains("joined") && moved.contains("left"),
        "{moved}"
    );

    // Two captures: FILE_A:TRACE_A FILE_B:TRACE_B gives the same comparison.
    let other = cap.stopped.dir.path().join("copy.jsonl");
    std::fs::copy(&file, &other).unwrap();
    let two: Value = serde_json::from_str(&ok(&compare(&[
        &format!("{file}:{normal}"),
        &format!("{}:{slow}", other.display()),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(two, doc);

    // A trace that is not there: exit 2, naming the trace and the file.
    let missing = "0123456789abcdef0123456789abcdef";
    let o = compare(&[&file, normal, missing]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(missing) && err.contains(&file), "{err}");
}
