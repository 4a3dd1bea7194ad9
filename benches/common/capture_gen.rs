//! A synthetic capture (OTLP/JSON lines, as `faultline record` writes them) with realistic trace
//! structure: each trace is a `frontend` request (SERVER, with a `session.id`) that calls 3 of 8
//! services (CLIENT spans answered by SERVER spans on one of 3 instances); each service queries
//! its database 1–3 times. About 2 % of calls fail with 503 and are retried with a backoff, so
//! the retry, timeout, session and N+1 detectors all have work to do. Deterministic (seeded).
//! Used by `examples/gen_capture.rs` (for the perf scripts) and `benches/capture_load.rs`.

#![allow(dead_code)]

use std::io::Write;

use faultline::ingest::channel::CaptureRecord;
use faultline::ingest::recorder::to_json_line;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}
fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        key_strindex: 0,
    }
}

const SERVICES: [&str; 8] = [
    "checkout",
    "payments",
    "inventory",
    "users",
    "shipping",
    "search",
    "pricing",
    "reviews",
];

#[derive(Default)]
struct Batch {
    // (service, instance) → spans
    groups: Vec<((String, String), Vec<Span>)>,
}

impl Batch {
    fn push(&mut self, svc: &str, inst: &str, sp: Span) {
        match self
            .groups
            .iter_mut()
            .find(|(k, _)| k.0 == svc && k.1 == inst)
        {
            Some((_, v)) => v.push(sp),
            None => self.groups.push(((svc.into(), inst.into()), vec![sp])),
        }
    }
    fn take(&mut self) -> ExportTraceServiceRequest {
        let groups = std::mem::take(&mut self.groups);
        ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|((svc, inst), spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![s("service.name", &svc), s("service.instance.id", &inst)],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "gen".into(),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }
}

#[allow(clippy::too_many_arguments)] // a plain span constructor: every field is one argument
fn span(
    tid: &[u8],
    sid: u64,
    parent: u64,
    kind: i32,
    name: &str,
    start: u64,
    dur: u64,
    error: bool,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: tid.to_vec(),
        span_id: sid.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            parent.to_be_bytes().to_vec()
        },
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur,
        attributes: attrs,
        status: Some(Status {
            code: if error { 2 } else { 0 },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Writes about `target` spans (whole traces, 512-span requests) to `w`; returns the numbers
/// of spans and traces written.
pub fn write_capture(w: &mut impl Write, target: u64) -> std::io::Result<(u64, u64)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut batch = Batch::default();
    let (mut spans, mut in_batch, mut t) = (0u64, 0u64, 1_767_225_600_000_000_000u64);
    let mut trace_no = 0u64;
    while spans < target {
        trace_no += 1;
        t += 2_000_000 + rng.below(4_000_000); // ~330 requests/s
        let mut tid = [0u8; 16];
        tid[..8].copy_from_slice(&trace_no.to_be_bytes());
        tid[8..].copy_from_slice(&rng.next().to_be_bytes());
        let mut sid = 1u64;
        let root = sid;
        let fe_inst = format!("frontend-{}", rng.below(3));
        let session = format!("s{}", rng.below(5_000));
        let mut at = t + 100_000;
        let mut children = Vec::new();
        for _ in 0..3 {
            let svc = SERVICES[rng.below(SERVICES.len() as u64) as usize];
            let attempts = if rng.below(50) == 0 { 2 } else { 1 };
            for a in 0..attempts {
                sid += 1;
                let client = sid;
                let dur = 2_000_000 + rng.below(30_000_000);
                let fail = a + 1 < attempts;
                let code = if fail { 503 } else { 200 };
                children.push((
                    "frontend".to_string(),
                    fe_inst.clone(),
                    span(
                        &tid,
                        client,
                        root,
                        3,
                        "GET",
                        at,
                        dur,
                        fail,
                        vec![
                            s("http.request.method", "GET"),
                            s("server.address", svc),
                            s("url.template", "/api/items/{id}"),
                            s(
                                "url.full",
                                &format!("http://{svc}/api/items/{}", rng.below(10_000)),
                            ),
                            i("http.response.status_code", code),
                        ],
                    ),
                ));
                sid += 1;
                let server = sid;
                let inst = format!("{svc}-{}", rng.below(3));
                children.push((
                    svc.to_string(),
                    inst.clone(),
                    span(
                        &tid,
                        server,
                        client,
                        2,
                        "GET /api/items/{id}",
                        at + 200_000,
                        dur - 400_000,
                        fail,
                        vec![
                            s("http.request.method", "GET"),
                            s("http.route", "/api/items/{id}"),
                            i("http.response.status_code", code),
                            s("client.address", "10.0.0.1"),
                            i("client.port", 30_000 + rng.below(20_000) as i64),
                        ],
                    ),
                ));
                let mut dat = at + 300_000;
                for _ in 0..1 + rng.below(3) {
                    sid += 1;
                    let d = 100_000 + rng.below(1_000_000);
                    children.push((
                        svc.to_string(),
                        inst.clone(),
                        span(
                            &tid,
                            sid,
                            server,
                            3,
                            "SELECT items",
                            dat,
                            d,
                            false,
                            vec![
                                s("db.system.name", "postgresql"),
                                s("server.address", &format!("{svc}-db")),
                                s("db.namespace", svc),
                                s("db.operation.name", "SELECT"),
                                s("db.collection.name", "items"),
                                s(
                                    "db.query.text",
                                    &format!(
                                        "SELECT * FROM items WHERE id = {}",
                                        rng.below(100_000)
                                    ),
                                ),
                            ],
                        ),
                    ));
                    dat += d + 50_000;
                }
                at += dur + if fail { 100_000_000 } else { 100_000 };
            }
        }
        batch.push(
            "frontend",
            &fe_inst,
            span(
                &tid,
                root,
                0,
                2,
                "GET /page",
                t,
                at - t + 200_000,
                false,
                vec![
                    s("http.request.method", "GET"),
                    s("http.route", "/page"),
                    i("http.response.status_code", 200),
                    s("session.id", &session),
                    s("client.address", "203.0.113.9"),
                    i("client.port", 40_000 + rng.below(20_000) as i64),
                ],
            ),
        );
        spans += 1 + children.len() as u64;
        in_batch += 1 + children.len() as u64;
        for (svc, inst, sp) in children {
            batch.push(&svc, &inst, sp);
        }
        if in_batch >= 512 {
            let line = to_json_line(&CaptureRecord::Traces(batch.take()))?;
            w.write_all(&line)?;
            w.write_all(b"\n")?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        let line = to_json_line(&CaptureRecord::Traces(batch.take()))?;
        w.write_all(&line)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok((spans, trace_no))
}
