//! `faultline report --from/--to`: what the system looked like at a moment of an incident.
//! Traces and resilience4j-shaped breaker and bulkhead gauges are posted over OTLP/HTTP to the
//! real `faultline record`; `report` on the capture at two instants gives the breaker state as
//! of each (OPEN inside the open period, CLOSED after the recovery), from the metric, with the
//! queue depth of that moment and only the calls of the window.

mod common;

use std::path::Path;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

use faultline::ingest::prom_otlp::{gauge, kv as mkv, request};

use common::{Recorder, Row, report_raw};

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// `checkout` calls `payments` every 100 ms over `[from_s, to_s)` after `base`.
fn calls(base: u64, from_s: u64, to_s: u64) -> ExportTraceServiceRequest {
    let spans = (from_s * 10..to_s * 10)
        .map(|i| {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&0x7e57_0000_0000_0001u64.to_be_bytes());
            trace_id[8..].copy_from_slice(&(i + 1).to_be_bytes());
            let start = base + i * 100 * MS;
            Span {
                trace_id: trace_id.to_vec(),
                span_id: (i + 1).to_be_bytes().to_vec(),
                name: "POST".into(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 20 * MS,
                attributes: vec![kv("peer.service", "payments")],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The breaker (one-hot) and bulkhead queue gauges of `checkout`'s `payments` breaker at `t`.
fn gauges(t: u64, state: &str, queue: f64) -> ExportMetricsServiceRequest {
    let mut m: Vec<_> = ["closed", "open", "half_open", "forced_open", "disabled"]
        .into_iter()
        .map(|s| {
            gauge(
                "resilience4j_circuitbreaker_state",
                vec![mkv("name", "payments"), mkv("state", s)],
                t,
                f64::from(u8::from(s == state)),
            )
        })
        .collect();
    m.push(gauge(
        "resilience4j_bulkhead_queue_depth",
        vec![mkv("name", "payments")],
        t,
        queue,
    ));
    m.push(gauge(
        "resilience4j_bulkhead_queue_capacity",
        vec![mkv("name", "payments")],
        t,
        100.0,
    ));
    request("checkout", "pod-1", m)
}

fn post(rec: &Recorder, path: &str, body: Vec<u8>) {
    // reqwest carries no TLS crypto provider of its own; faultline installs rustls' (ring).
    faultline::ingest::tls_files::install_default_provider();
    let resp = reqwest::blocking::Client::new()
        .post(rec.http_url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .expect("post to the recorder");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

fn report_at(cap: &Path, args: &[&str]) -> Vec<Row> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = report_raw(&[cap], &all);
    assert!(
        out.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows")
}

fn payments(rows: &[Row]) -> Row {
    rows.iter()
        .find(|r| r.caller == "checkout" && r.dependency == "payments")
        .cloned()
        .unwrap_or_else(|| panic!("no checkout → payments row in {rows:#?}"))
}

#[test]
fn report_from_to_shows_the_state_at_that_moment() {
    let rec = Recorder::start();
    // Aligned to the store's 10 s buckets: windows count calls in whole buckets.
    let now = faultline::model::clock::now_unix_ns() - 200 * S;
    let base = now - now % (10 * S);
    post(
        &rec,
        "/v1/traces",
        serde_json::to_vec(&calls(base, 0, 120)).expect("json"),
    );
    for s in (0..=120u64).step_by(5) {
        let state = match s {
            0..40 => "closed",
            40..70 => "open",
            70..80 => "half_open",
            _ => "closed",
        };
        let body = serde_json::to_vec(&gauges(base + s * S, state, s as f64 / 5.0)).expect("json");
        post(&rec, "/v1/metrics", body);
    }
    let stopped = rec.stop();
    let cap = stopped.out.clone();

    let open = payments(&report_at(&cap, &["--from", "+30s", "--to", "+60s"]));
    assert_eq!(open.breaker, "open", "{open:#?}");
    assert_eq!(
        open.breaker_source.as_deref(),
        Some("resilience4j:resilience4j_circuitbreaker_state")
    );
    assert_eq!(open.calls, 300, "only the window's calls");
    assert_eq!(open.breaker_transitions.len(), 1, "closed → open at 40 s");
    assert_eq!(
        (open.queue_depth, open.queue_capacity),
        (Some(11.0), Some(100.0))
    );
    assert_eq!(open.queue_source.as_deref(), Some("metric"));

    let after = payments(&report_at(&cap, &["--from", "+90s", "--to", "+100s"]));
    assert_eq!(after.breaker, "closed", "{after:#?}");
    assert_eq!(after.calls, 100);

    let half = payments(&report_at(&cap, &["--from", "+70s", "--to", "+76s"]));
    assert_eq!(half.breaker, "half_open");

    let whole = payments(&report_at(&cap, &[]));
    assert_eq!(whole.calls, 1200);
    assert_eq!(whole.breaker, "closed");
    assert_eq!(whole.breaker_transitions.len(), 3);

    let bad = report_raw(&[&cap], &["--from", "+90s", "--to", "+30s"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = report_raw(&[&cap], &["--from", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}
