//! Native histograms through a real Prometheus: the service graph's latency histogram as
//! Prometheus's native (sparse, exponential-bucket) histogram, which the Collector's
//! Prometheus exporters and remote-write produce when asked. Prometheus 2.42 takes native
//! histograms only from a protobuf scrape, so this test serves the series itself on 127.0.0.1
//! in the protobuf exposition format (`io.prometheus.client.MetricFamily`, length-delimited;
//! the messages below follow Prometheus's `metrics.proto`, field numbers included) and a real
//! Prometheus with `--enable-feature=native-histograms` scrapes it every second. Nothing of
//! faultline is mocked: `report --prometheus` finds the histogram under its own name (no
//! `_bucket` series), asks `histogram_quantile` of the server, and gives the quantiles the
//! served buckets hold.

mod common;
mod fleet_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fleet_support::*;
use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct Counter {
    #[prost(double, tag = "1")]
    value: f64,
}

#[derive(Clone, PartialEq, Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

#[derive(Clone, PartialEq, Message)]
struct Histogram {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(sint32, tag = "5")]
    schema: i32,
    #[prost(double, tag = "6")]
    zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    zero_count: u64,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Counter>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, Message)]
struct MetricFamily {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    help: String,
    #[prost(int32, tag = "3")]
    r#type: i32,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
}

const COUNTER: i32 = 0;
const HISTOGRAM: i32 = 4;
/// Schema 3: bucket `i` holds (2^((i-1)/8), 2^(i/8)] seconds.
const SCHEMA: i32 = 3;

/// The bucket index of `v` seconds at [`SCHEMA`].
fn bucket(v: f64) -> i32 {
    (v.log2() * f64::from(1 << SCHEMA)).ceil() as i32
}

/// The bounds of bucket `i`, in milliseconds.
fn bounds_ms(i: i32) -> (f64, f64) {
    let f = f64::from(1 << SCHEMA);
    (
        2f64.powf(f64::from(i - 1) / f) * 1000.0,
        2f64.powf(f64::from(i) / f) * 1000.0,
    )
}

/// One service-graph edge: `tenths` tenths of a second after start, it has seen 10 calls per
/// tenth, `fast_share` of them at `fast` seconds and the rest at `slow`, one in ten failed.
struct Edge {
    client: &'static str,
    server: &'static str,
    fast: f64,
    slow: f64,
    fast_per_tenth: u64,
}

fn labels(e: &Edge) -> Vec<LabelPair> {
    [("client", e.client), ("server", e.server)]
        .into_iter()
        .map(|(n, v)| LabelPair {
            name: n.into(),
            value: v.into(),
        })
        .collect()
}

fn exposition(edges: &[Edge], tenths: u64) -> Vec<u8> {
    let counter = |name: &str, per_tenth: u64| MetricFamily {
        name: name.into(),
        help: String::new(),
        r#type: COUNTER,
        metric: edges
            .iter()
            .map(|e| Metric {
                label: labels(e),
                counter: Some(Counter {
                    value: (per_tenth * tenths) as f64,
                }),
                histogram: None,
            })
            .collect(),
    };
    let hist = MetricFamily {
        name: "traces_service_graph_request_server_seconds".into(),
        help: String::new(),
        r#type: HISTOGRAM,
        metric: edges
            .iter()
            .map(|e| {
                let fast = e.fast_per_tenth * tenths;
                let slow = (10 - e.fast_per_tenth) * tenths;
                let (bf, bs) = (bucket(e.fast), bucket(e.slow));
                assert!(bs > bf + 1, "two separate buckets");
                Metric {
                    label: labels(e),
                    counter: None,
                    histogram: Some(Histogram {
                        sample_count: fast + slow,
                        sample_sum: fast as f64 * e.fast + slow as f64 * e.slow,
                        schema: SCHEMA,
                        zero_threshold: 1e-128,
                        zero_count: 0,
                        positive_span: vec![
                            BucketSpan {
                                offset: bf,
                                length: 1,
                            },
                            BucketSpan {
                                offset: bs - bf - 1,
                                length: 1,
                            },
                        ],
                        positive_delta: vec![fast as i64, slow as i64 - fast as i64],
                    }),
                }
            })
            .collect(),
    };
    let mut out = Vec::new();
    for f in [
        counter("traces_service_graph_request_total", 10),
        counter("traces_service_graph_request_failed_total", 1),
        hist,
    ] {
        f.encode_length_delimited(&mut out).expect("encode");
    }
    out
}

/// Serves the edges' exposition on a free port until the test ends; counts the scrapes.
fn serve(edges: Vec<Edge>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let scrapes = Arc::new(AtomicUsize::new(0));
    let counted = scrapes.clone();
    let start = Instant::now();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = exposition(&edges, start.elapsed().as_millis() as u64 / 100);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c
                .write_all(head.as_bytes())
                .and_then(|()| c.write_all(&body));
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, scrapes)
}

fn within(v: &serde_json::Value, (lo, hi): (f64, f64), what: &str) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!(
        got >= lo - 0.01 && got <= hi + 0.01,
        "{what} = {got} ms, outside its bucket ({lo:.2}, {hi:.2}]"
    );
}

#[test]
fn native_histogram_quantiles_from_a_real_prometheus_scrape() {
    let edges = vec![
        Edge {
            client: "frontend",
            server: "checkout",
            fast: 0.05,
            slow: 0.5,
            fast_per_tenth: 9,
        },
        Edge {
            client: "checkout",
            server: "payments",
            fast: 0.012,
            slow: 2.0,
            fast_per_tenth: 5,
        },
    ];
    let want: Vec<_> = edges
        .iter()
        .map(|e| {
            (
                e.client,
                e.server,
                bucket(e.fast),
                bucket(e.slow),
                e.fast_per_tenth,
            )
        })
        .collect();
    let (target, scrapes) = serve(edges);
    let b = prometheus_scraping(&target);
    let from = now_secs();
    // rate() needs two samples of the histogram; wait for ten scrapes and their ingestion.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let n = scrapes.load(Ordering::SeqCst);
        let seen = get(&format!(
            "{}/api/v1/query?query=count(traces_service_graph_request_server_seconds)",
            b.url
        ))
        .is_some_and(|body| body.contains("\"2\""));
        if n >= 10 && seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus scraped {n} times in 90 s and holds the histogram: {seen}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(2));
    let to = now_secs();
    let out = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["report", "--prometheus", &b.url, "--format", "json"])
            .args(["--from", &rfc3339(from), "--to", &rfc3339(to)]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "report --prometheus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("report JSON");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (client, server, fast, slow, fast_per_tenth) in want {
        let r = rows
            .iter()
            .find(|r| r["caller"] == client && r["dependency"] == server)
            .unwrap_or_else(|| panic!("no row {client} → {server}: {rows:?}"));
        // Native histograms are exponential-bucket histograms (the OTLP kind).
        assert_eq!(r["latency_source"], "exponential_histogram", "{r}");
        assert!(r["calls"].as_u64().is_some_and(|c| c > 0), "{r}");
        let err = r["error_ratio"].as_f64().expect("error_ratio");
        assert!((err - 0.10).abs() < 0.01, "error ratio {err}: {r}");
        // Half or more of the calls are fast: the median lies in the fast bucket (at its upper
        // edge when exactly half are), the p99 in the slow one.
        assert!(fast_per_tenth >= 5);
        within(
            &r["p50_ms"],
            bounds_ms(fast),
            &format!("{client} → {server} p50"),
        );
        within(
            &r["p99_ms"],
            bounds_ms(slow),
            &format!("{client} → {server} p99"),
        );
    }
}
