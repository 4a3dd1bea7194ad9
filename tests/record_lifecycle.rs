//! `faultline record`'s promises about its capture file and its lifetime: complete lines,
//! flushed at least every second while running and on SIGINT/SIGTERM, exit 0; `--duration`
//! ends it by itself.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn span_json(n: u64, name: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "lifecycle"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": format!("11fec7c1e0000000{n:016x}"), "spanId": format!("{:016x}", n + 1),
            "name": name, "kind": 3,
            "startTimeUnixNano": (now - 2_000_000).to_string(), "endTimeUnixNano": now.to_string(),
            "attributes": [{"key": "peer.service", "value": {"stringValue": "db"}}]
        }]}]
    }]})
    .to_string()
}

fn post(rec: &Recorder, n: u64, name: &str) {
    let c = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap();
    let r = c
        .post(rec.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(span_json(n, name))
        .send()
        .expect("POST /v1/traces");
    assert_eq!(r.status().as_u16(), 200, "a valid OTLP/JSON request");
}

fn names(path: &std::path::Path) -> Vec<String> {
    read_capture(path).span_ids.into_iter().map(|(_, _, n)| n).collect()
}

#[test]
fn flushes_within_a_second_while_running() {
    let mut rec = Recorder::start();
    post(&rec, 1, "first");
    // Poll for up to 2.5 s: the promise is a flush at least every second.
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&rec.out).unwrap_or_default();
        if text.ends_with('\n') && text.contains("\"first\"") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_millis(2500),
            "the accepted request is not in the capture 2.5 s later (flush >= every 1 s); file has {} bytes",
            text.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rec.alive());
    let stopped = rec.stop();
    stopped.assert_clean();
    assert_eq!(names(&stopped.out), ["first"]);
}

#[test]
fn sigint_flushes_and_exits_zero() {
    let mut rec = Recorder::start();
    for i in 0..20 {
        post(&rec, 100 + i, &format!("span-{i}"));
    }
    let stopped = rec.signal_stop(libc::SIGINT);
    stopped.assert_clean();
    let mut got = names(&stopped.out);
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("span-{i}")).collect();
    want.sort();
    assert_eq!(got, want, "every acknowledged request is in the capture after SIGINT");
}

#[test]
fn sigterm_flushes_and_exits_zero() {
    let rec = Recorder::start();
    post(&rec, 200, "before-sigterm");
    let stopped = rec.stop();
    stopped.assert_clean();
    assert_eq!(names(&stopped.out), ["before-sigterm"]);
}

#[test]
fn duration_ends_the_recording() {
    let rec = Recorder::start_with(&["--duration", "2s"]);
    post(&rec, 300, "within-duration");
    let t0 = Instant::now();
    let stopped = rec.wait_exit(Duration::from_secs(15));
    stopped.assert_clean();
    assert!(t0.elapsed() < Duration::from_secs(10), "--duration 2s took {:?}", t0.elapsed());
    assert_eq!(names(&stopped.out), ["within-duration"]);
}
