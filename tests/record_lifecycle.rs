//! `faultline record`'s promises about its capture file and its lifetime: complete lines,
//! flushed at least every second while running and on SIGINT/SIGTERM, exit 0; `--duration`
//! ends it by itself.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn span_json(n: u64, name: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
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
    faultline::ingest::tls_files::install_default_provider();
    let c = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let r = c
        .post(rec.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(span_json(n, name))
        .send()
        .expect("POST /v1/traces");
    assert_eq!(r.status().as_u16(), 200, "a valid OTLP/JSON request");
}

fn names(path: &std::path::Path) -> Vec<String> {
    read_capture(path)
        .span_ids
        .into_iter()
        .map(|(_, _, n)| n)
        .collect()
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
    assert_eq!(
        got, want,
        "every acknowledged request is in the capture after SIGINT"
    );
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
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "--duration 2s took {:?}",
        t0.elapsed()
    );
    assert_eq!(names(&stopped.out), ["within-duration"]);
}

/// Exporters keep their connections open (a gRPC channel always does). SIGTERM must still end
/// the recording promptly, with every acknowledged request in the capture.
#[test]
fn sigterm_with_live_client_connections_open() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

    let rec = Recorder::start();
    // A live gRPC channel on a running runtime, kept open across the signal.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let grpc_url = rec.grpc_url();
    let mut client = rt.block_on(async move {
        let ch = tonic::transport::Endpoint::from_shared(grpc_url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        TraceServiceClient::new(ch)
    });
    let req: ExportTraceServiceRequest =
        serde_json::from_str(&span_json(400, "over-grpc")).unwrap();
    rt.block_on(client.export(req)).expect("gRPC export");
    // A keep-alive HTTP/1.1 connection, idle in the client's pool.
    faultline::ingest::tls_files::install_default_provider();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let r = http
        .post(rec.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(span_json(401, "over-http"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let t0 = Instant::now();
    let stopped = rec.stop();
    stopped.assert_clean();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "exit took {:?}",
        t0.elapsed()
    );
    let mut got = names(&stopped.out);
    got.sort();
    assert_eq!(got, ["over-grpc", "over-http"]);
    drop(client);
    drop(http);
}

/// A client that stalls mid-request (a hung exporter, a half-open connection) must not keep
/// `faultline record` from exiting on SIGTERM: the drain is bounded.
#[test]
fn sigterm_with_a_stalled_client_still_exits() {
    use std::io::Write;

    let rec = Recorder::start();
    post(&rec, 500, "before-stall");
    // HTTP: headers promise a body that never comes.
    let mut h = std::net::TcpStream::connect(rec.http).unwrap();
    h.write_all(
        b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"resou",
    )
    .unwrap();
    // gRPC: a connection that never sends the HTTP/2 preface.
    let g = std::net::TcpStream::connect(rec.grpc).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    let stopped = rec.stop(); // panics if not exited within 15 s
    stopped.assert_clean();
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert_eq!(names(&stopped.out), ["before-stall"]);
    drop((h, g));
}
