//! The scrape source against small HTTP servers on 127.0.0.1: content negotiation, gzip, a bad
//! exposition (named line, the rest used), and a dead and a hanging target that do not stall
//! a healthy one.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use faultline::ingest::channel::{Ingest, IngestMsg};
use faultline::ingest::prom_scrape::{ScrapeTarget, scrape_once, spawn};

/// How a test server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// OpenMetrics if asked for, else text, gzip if accepted.
    Good,
    /// A body with bad lines.
    Bad,
    /// Accepts and never answers.
    Hang,
}

const TEXT: &str = "# TYPE resilience4j_circuitbreaker_state gauge\n\
    resilience4j_circuitbreaker_state{name=\"payments\",state=\"open\"} 1\n\
    resilience4j_circuitbreaker_state{name=\"payments\",state=\"closed\"} 0\n";
const OPENMETRICS: &str = "# TYPE resilience4j_circuitbreaker_state gauge\n\
    resilience4j_circuitbreaker_state{name=\"payments\",state=\"open\"} 1\n\
    resilience4j_circuitbreaker_state{name=\"payments\",state=\"closed\"} 0\n\
    # TYPE negotiated gauge\nnegotiated 1\n# EOF\n";
const BAD: &str = "# TYPE hystrix_circuit_breaker_open gauge\n\
    hystrix_circuit_breaker_open{group=\"g\",key=\"users\"} 1\n\
    hystrix_circuit_breaker_open{group=\"g\",key=\"orders} 1\n";

async fn serve(mode: Mode) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                let n = s.read(&mut req).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&req[..n]).to_ascii_lowercase();
                let (ct, body): (&str, Vec<u8>) = match mode {
                    Mode::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    Mode::Bad => ("text/plain; version=0.0.4", BAD.into()),
                    Mode::Good if req.contains("accept: application/openmetrics-text") => (
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        OPENMETRICS.into(),
                    ),
                    Mode::Good => ("text/plain; version=0.0.4", TEXT.into()),
                };
                let gzip = req.contains("accept-encoding: gzip");
                if matches!(mode, Mode::Good) && !gzip {
                    let _ = s
                        .write_all(b"HTTP/1.1 406 Not Acceptable\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let body = if gzip {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&body).expect("gzip");
                    e.finish().expect("gzip")
                } else {
                    body
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
                    body.len(),
                    if gzip {
                        "Content-Encoding: gzip\r\n"
                    } else {
                        ""
                    }
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}/metrics")
}

fn ingest() -> (Ingest, mpsc::Receiver<IngestMsg>) {
    let (tx, rx) = mpsc::channel(1024);
    (Ingest::new(tx, None, Arc::default()), rx)
}

fn target(url: &str, job: &str, interval_ms: u64, timeout_ms: u64) -> ScrapeTarget {
    let mut t = ScrapeTarget::from_arg(
        url,
        Duration::from_millis(interval_ms),
        Duration::from_millis(timeout_ms),
    );
    t.job = job.into();
    t
}

fn names(msg: &IngestMsg) -> Vec<String> {
    match msg {
        IngestMsg::Metrics(points) => points.iter().map(|p| p.name.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn negotiates_openmetrics_with_gzip() {
    let url = serve(Mode::Good).await;
    let (ingest, mut rx) = ingest();
    let client =
        faultline::ingest::prom_scrape::client(&Default::default(), "test").expect("client");
    let status = scrape_once(
        &client,
        &target(&url, "checkout", 1000, 1000),
        &ingest,
        None,
    )
    .await;
    assert!(status.up && status.last_error.is_none(), "{status:?}");
    let msg = rx.recv().await.expect("metrics");
    let n = names(&msg);
    assert!(
        n.contains(&"resilience4j_circuitbreaker_state".to_owned()),
        "{n:?}"
    );
    assert!(n.contains(&"up".to_owned()));
    assert!(
        n.contains(&"negotiated".to_owned()),
        "OpenMetrics was not negotiated: {n:?}"
    );
}

#[tokio::test]
async fn bad_exposition_reports_the_line_and_keeps_the_rest() {
    let url = serve(Mode::Bad).await;
    let (ingest, mut rx) = ingest();
    let client =
        faultline::ingest::prom_scrape::client(&Default::default(), "test").expect("client");
    let status = scrape_once(&client, &target(&url, "web", 1000, 1000), &ingest, None).await;
    let err = status.last_error.clone().expect("an error");
    assert!(err.contains("line 3"), "{err}");
    assert!(status.up, "the good lines were used: {status:?}");
    let IngestMsg::Metrics(points) = rx.recv().await.expect("metrics") else {
        panic!("expected metrics")
    };
    let keys: Vec<_> = points.iter().filter_map(|p| p.labels.get("key")).collect();
    assert_eq!(keys, vec!["users"]);
}

#[tokio::test]
async fn dead_and_hanging_targets_do_not_stall_a_healthy_one() {
    let good = serve(Mode::Good).await;
    let hang = serve(Mode::Hang).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr");
        drop(l);
        format!("http://{a}/metrics")
    };
    let (ingest, mut rx) = ingest();
    let (stop_tx, stop) = watch::channel(false);
    let tasks = spawn(
        vec![
            target(&hang, "hang", 200, 150),
            target(&dead, "dead", 200, 150),
            target(&good, "good", 200, 150),
        ],
        ingest,
        stop,
        None,
    )
    .expect("clients build");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop_tx.send(true).expect("stop");
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(2), t)
            .await
            .expect("tasks stop promptly")
            .expect("task ok");
    }
    let mut good_ok = 0;
    let mut errors = std::collections::BTreeMap::new();
    while let Ok(msg) = rx.try_recv() {
        if let IngestMsg::Source(s) = msg {
            if s.job == "good" && s.up {
                good_ok += 1;
            }
            if let Some(e) = s.last_error {
                errors.insert(s.job.clone(), e);
            }
        }
    }
    assert!(
        good_ok >= 5,
        "the healthy target was scraped {good_ok} times in 1.5 s"
    );
    assert!(
        errors.get("hang").is_some_and(|e| e.contains("timed out")),
        "{errors:?}"
    );
    assert!(errors.contains_key("dead"), "{errors:?}");
    assert!(!errors.contains_key("good"), "{errors:?}");
}

#[tokio::test]
async fn only_mapped_families_are_kept_by_default() {
    let url = serve(Mode::Good).await;
    let (ingest, mut rx) = ingest();
    let client =
        faultline::ingest::prom_scrape::client(&Default::default(), "test").expect("client");
    let profiles = faultline::model::profile::ProfileSet::builtin();
    let status = scrape_once(
        &client,
        &target(&url, "checkout", 1000, 1000),
        &ingest,
        Some(&profiles),
    )
    .await;
    assert!(status.up, "{status:?}");
    let n = names(&rx.recv().await.expect("metrics"));
    assert!(
        n.contains(&"resilience4j_circuitbreaker_state".to_owned()),
        "{n:?}"
    );
    assert!(n.contains(&"up".to_owned()), "{n:?}");
    assert!(
        !n.contains(&"negotiated".to_owned()),
        "unmapped family kept: {n:?}"
    );
}
