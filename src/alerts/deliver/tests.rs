//! Delivery over real loopback sockets: a sink that is down gets its failures counted and its
//! oldest bodies dropped (webhook) or superseded (Alertmanager), nothing blocks the caller, and
//! what is queued is delivered in order once the sink is up.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::alerts::AlertChange;
use crate::model::alert::{AlertSeverity, AlertState, AlertStatus};

use super::*;

const S: u64 = 1_000_000_000;

fn state(n: u64, status: AlertStatus) -> AlertState {
    AlertState {
        alert: Arc::from("A"),
        severity: AlertSeverity::Warning,
        caller: Arc::from("checkout"),
        dependency: Arc::from(format!("dep-{n}").as_str()),
        status,
        active_since_ns: n * S,
        fired_ns: Some(n * S),
        resolved_ns: (status == AlertStatus::Resolved).then_some(n * S + 1),
        value: Some(n as f64),
        threshold: None,
        labels: Arc::from(vec![(Arc::from("alertname"), Arc::from("A"))]),
        annotations: Arc::from(Vec::new()),
        history: Arc::from(Vec::new()),
    }
}

fn change(n: u64) -> AlertChange {
    AlertChange {
        state: state(n, AlertStatus::Firing),
        from: Some(AlertStatus::Pending),
    }
}

/// The client the app gives the sinks.
fn plain(url: &str) -> Result<reqwest::Client, String> {
    crate::ingest::http_client::build(&Default::default(), url).map_err(|e| e.to_string())
}

/// A port nothing listens on (yet).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Serves `port`, answering 200 and keeping each body.
async fn serve(port: u16, got: Arc<Mutex<Vec<serde_json::Value>>>) {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind the port");
    loop {
        let Ok((mut c, _)) = l.accept().await else {
            return;
        };
        let got = got.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = c.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() < end + 4 + len {
                    continue;
                }
                if let Ok(v) = serde_json::from_slice(&buf[end + 4..end + 4 + len]) {
                    got.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
                let _ = c
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                return;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_is_down_drops_the_oldest_then_gets_the_rest_in_order() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let sinks = Sinks::start(&[], std::slice::from_ref(&url), plain)
        .expect("start")
        .expect("one sink");
    let n = QUEUE as u64 + 44;
    for i in 0..n {
        sinks.offer(i * 10 * S, &[change(i)], &[]);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = sinks.status().remove(0);
    assert_eq!(st.sink, "webhook");
    assert_eq!(st.dropped, 44, "{st:?}");
    assert_eq!(st.queued, QUEUE as u64, "{st:?}");
    assert!(st.failed >= 1 && st.last_error.is_some(), "{st:?}");
    assert_eq!(st.sent, 0);

    let got = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve(port, got.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sinks.status()[0].sent < QUEUE as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            sinks.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = sinks.status().remove(0);
    assert_eq!((st.queued, st.last_error.clone()), (0, None), "{st:?}");
    // The survivors, oldest first: the 44 oldest were dropped.
    let starts: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            b["alerts"][0]["startsAt"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(starts.len(), QUEUE);
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "delivered in order");
    assert_eq!(starts[0], super::payload::alertmanager_time(44 * S));
    sinks.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_keeps_the_latest_state_and_resends_every_minute() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let sinks = Sinks::start(std::slice::from_ref(&url), &[], plain)
        .expect("start")
        .expect("one sink");
    assert!(sinks.status()[0].url.ends_with("/api/v2/alerts"));
    let firing = [state(1, AlertStatus::Firing)];
    // Changes always queue a body; a newer body supersedes the unsent one (nothing dropped).
    for i in 0..10 {
        sinks.offer(i * 10 * S, &[change(1)], &firing);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let st = sinks.status().remove(0);
    assert_eq!((st.queued, st.dropped), (1, 0), "{st:?}");
    assert!(st.failed >= 1, "{st:?}");
    // Without changes, a body only every minute of evaluation time.
    let sink = &sinks.sinks[0];
    let last = lock(&sink.outbox).next_seq;
    sinks.offer(100 * S, &[], &firing);
    assert_eq!(
        lock(&sink.outbox).next_seq,
        last,
        "no re-send within a minute"
    );
    sinks.offer(150 * S, &[], &firing);
    assert_eq!(
        lock(&sink.outbox).next_seq,
        last + 1,
        "re-sent after a minute"
    );
    sinks.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn alertmanager_bodies_hold_firing_and_resolved_alerts() {
    let states = [
        state(1, AlertStatus::Firing),
        state(2, AlertStatus::Resolved),
        state(3, AlertStatus::Pending),
    ];
    let body = payload::alertmanager(100 * S, &states).expect("body");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let a = v.as_array().expect("array");
    assert_eq!(a.len(), 2, "pending alerts are not sent: {v}");
    // Firing: endsAt four re-send intervals ahead; resolved: endsAt when it resolved.
    assert_eq!(
        a[0]["endsAt"],
        payload::alertmanager_time(100 * S + 4 * payload::RESEND_NS)
    );
    assert_eq!(a[1]["endsAt"], payload::alertmanager_time(2 * S + 1));
    assert!(payload::alertmanager(0, &states[2..]).is_none());
    assert!(alertmanager_endpoint("ftp://x").is_err());
    assert_eq!(
        alertmanager_endpoint("http://am:9093/").unwrap(),
        "http://am:9093/api/v2/alerts"
    );
    assert_eq!(
        alertmanager_endpoint("https://am/prefix/api/v2/alerts").unwrap(),
        "https://am/prefix/api/v2/alerts"
    );
}
