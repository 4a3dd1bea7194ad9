//! OTLP metrics end to end: a Polly-style pipeline (transition events, no state gauge), an
//! exponential histogram and OTel semconv pool metrics are posted to the live OTLP/HTTP
//! receiver while recording; the live snapshot and `faultline report` on the capture must
//! agree, and the exponential histogram must merge exactly into the sketch.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{self as pm, metric::Data};

use faultline::app;
use faultline::cli::{Cli, Command};
use faultline::ingest::prom_otlp::{kv, request};
use faultline::model::sketch::Sketch;
use faultline::store::StoreConfig;

const S: u64 = 1_000_000_000;

fn sum(name: &str, attrs: &[(&str, &str)], t: u64, v: f64) -> pm::Metric {
    pm::Metric {
        name: name.into(),
        unit: "{event}".into(),
        data: Some(Data::Sum(pm::Sum {
            data_points: vec![pm::NumberDataPoint {
                attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
                start_time_unix_nano: 1,
                time_unix_nano: t,
                value: Some(pm::number_data_point::Value::AsInt(v as i64)),
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn gauge(name: &str, attrs: &[(&str, &str)], t: u64, v: f64) -> pm::Metric {
    let mut m = faultline::ingest::prom_otlp::gauge(
        name,
        attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        t,
        v,
    );
    m.unit = "{connection}".into();
    m
}

fn expo(t: u64, counts: Vec<u64>) -> pm::Metric {
    pm::Metric {
        name: "http.client.request.duration".into(),
        unit: "s".into(),
        data: Some(Data::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: vec![pm::ExponentialHistogramDataPoint {
                attributes: vec![kv("server.address", "payments")],
                time_unix_nano: t,
                count: counts.iter().sum(),
                scale: 3,
                positive: Some(pm::exponential_histogram_data_point::Buckets {
                    offset: -40,
                    bucket_counts: counts,
                }),
                ..Default::default()
            }],
            aggregation_temporality: 1,
        })),
        ..Default::default()
    }
}

fn events(t: u64, opened: f64, half: f64, closed: f64) -> Vec<pm::Metric> {
    let e = |name, v| {
        sum(
            "resilience.polly.strategy.events",
            &[
                ("event.name", name),
                ("pipeline.name", "payments-pipeline"),
                ("event.severity", "Warning"),
            ],
            t,
            v,
        )
    };
    vec![
        e("OnCircuitOpened", opened),
        e("OnCircuitHalfOpened", half),
        e("OnCircuitClosed", closed),
    ]
}

fn batches(base: u64) -> Vec<ExportMetricsServiceRequest> {
    let pool = |t, used| {
        vec![
            gauge(
                "db.client.connection.count",
                &[
                    ("db.client.connection.pool.name", "orders-db"),
                    ("db.client.connection.state", "used"),
                ],
                t,
                used,
            ),
            gauge(
                "db.client.connection.max",
                &[("db.client.connection.pool.name", "orders-db")],
                t,
                10.0,
            ),
            gauge(
                "db.client.connection.pending_requests",
                &[("db.client.connection.pool.name", "orders-db")],
                t,
                3.0,
            ),
        ]
    };
    let mut out = Vec::new();
    for (i, (o, h, c)) in [
        (0.0, 0.0, 0.0),
        (1.0, 0.0, 0.0),
        (1.0, 1.0, 0.0),
        (1.0, 1.0, 1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let t = base + i as u64 * S;
        let mut m = events(t, o, h, c);
        m.extend(pool(t, 8.0));
        m.push(expo(
            t,
            if i == 0 {
                vec![5, 0, 0, 0]
            } else {
                vec![0, 0, 0, 4]
            },
        ));
        out.push(request("checkout", "pod-1", m));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_live_and_replayed_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("otlp.jsonl");
    let cli = Cli::parse_from([
        "faultline",
        "record",
        "--out",
        "x",
        "--otlp-grpc",
        "127.0.0.1:0",
        "--otlp-http",
        "127.0.0.1:0",
    ]);
    let Some(Command::Record(args)) = cli.command else {
        panic!("record args")
    };
    let live = app::start_live(&args.receivers, StoreConfig::default(), Some(&cap))
        .await
        .expect("start");
    let url = format!("http://{}/v1/metrics", live.http_addr);
    faultline::ingest::tls_files::install_default_provider();
    let client = reqwest::Client::new();
    let base = faultline::store::task::now_unix_ns() - 10 * S;
    for req in batches(base) {
        let body = serde_json::to_vec(&req).expect("json");
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    let mut snaps = live.snapshots.clone();
    let key = |c: &str, d: &str| faultline::model::edge::EdgeKey {
        caller: Arc::from(c),
        dependency: Arc::from(d),
    };
    let live_view = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            snaps.changed().await.expect("snapshots");
            let s = snaps.borrow().clone();
            if let Some(v) = s.resilience.get(&key("checkout", "payments-pipeline"))
                && v.transitions.len() == 3
            {
                return (
                    v.clone(),
                    s.resilience.get(&key("checkout", "orders-db")).cloned(),
                    s.resilience.get(&key("checkout", "payments")).cloned(),
                );
            }
        }
    })
    .await
    .expect("live snapshot shows the Polly transitions");
    live.stop().await.expect("stop");

    let (polly, pool, http) = live_view;
    assert_eq!(polly.breaker.as_str(), "closed");
    let steps: Vec<_> = polly
        .transitions
        .iter()
        .map(|t| (t.at_ns - base, t.from.as_str(), t.to.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (S, "closed", "open"),
            (2 * S, "open", "half_open"),
            (3 * S, "half_open", "closed")
        ]
    );
    let pool = pool.expect("pool view");
    assert_eq!(pool.queue_depth, Some(3.0));
    assert_eq!(pool.pool_utilisation, Some(0.8));
    // Delta exponential histograms at scale 3, all four in the window (the first one's
    // observations included): the quantiles are the sketch's answer for those exact buckets.
    let http = http.expect("http client view");
    let lat = http.latency.expect("latency");
    assert_eq!(lat.source.as_str(), "exponential_histogram");
    let mut sk = Sketch::new();
    for counts in [[5, 0, 0, 0], [0, 0, 0, 4], [0, 0, 0, 4], [0, 0, 0, 4]] {
        sk.merge_exponential(&faultline::model::sketch::ExpBuckets {
            scale: 3,
            zero_count: 0,
            zero_threshold: 0.0,
            offset: -40,
            counts: &counts,
            sum: None,
            min: None,
            max: None,
        });
    }
    assert_eq!(lat.count, 17.0);
    for (q, got) in [(0.5, lat.p50), (0.95, lat.p95), (0.99, lat.p99)] {
        let want = sk.quantile(q).expect("quantile") * 1e3;
        let got = got.expect("quantile").ms;
        assert!((got - want).abs() < 1e-9, "q{q}: {got} vs sketch {want}");
    }

    let report =
        app::report(faultline::cli::ReportArgs::try_parse_from_report(&cap)).expect("report");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&report).expect("json");
    let row = rows
        .iter()
        .find(|r| r["caller"] == "checkout" && r["dependency"] == "payments-pipeline")
        .expect("polly row in the replayed report");
    let replayed: Vec<(String, String)> = row["breaker_transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap_or("").to_owned(),
                t["to"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        replayed,
        vec![
            ("closed".into(), "open".into()),
            ("open".into(), "half_open".into()),
            ("half_open".into(), "closed".into())
        ]
    );
    assert_eq!(
        row["breaker_source"],
        "polly:resilience_polly_strategy_events"
    );
}

trait ReportArgsExt {
    fn try_parse_from_report(cap: &std::path::Path) -> faultline::cli::ReportArgs;
}

impl ReportArgsExt for faultline::cli::ReportArgs {
    fn try_parse_from_report(cap: &std::path::Path) -> faultline::cli::ReportArgs {
        let cli = Cli::parse_from([
            "faultline".as_ref(),
            "report".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            cap.as_os_str(),
        ]);
        match cli.command {
            Some(Command::Report(a)) => a,
            _ => panic!("report args"),
        }
    }
}
