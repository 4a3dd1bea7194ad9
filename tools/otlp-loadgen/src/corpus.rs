//! The load generator's corpus: realistic OTLP trace requests, pre-encoded, replayed with fresh
//! ids. Shared, unchanged, by faultline's benches and memory example (`#[path]` include), so
//! they measure the very bytes the load generator sends.

#![allow(dead_code)]

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use serde_json::json;

/// Corpus shape (see `--shape`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every span its own trace.
    Spans,
    /// 10-span traces across services.
    Traces,
}

/// xorshift64: deterministic, dependency-free.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn kv_str(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}
fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

pub const SERVICES: [&str; 8] = [
    "frontend",
    "checkout",
    "payments",
    "inventory",
    "users",
    "shipping",
    "search",
    "pricing",
];
const DEPS: [&str; 8] = [
    "payments.internal",
    "inventory.internal",
    "users-db.internal",
    "redis-cache",
    "auth.internal",
    "shipping.internal",
    "search.internal",
    "pricing.internal",
];

/// One export request from one service (one resource, one scope), as an SDK would send it.
/// Half the spans are HTTP server spans, half HTTP client spans (semconv attribute names);
/// about 2 % carry a 5xx status and an error span status.
pub fn build_batch(n_spans: usize, svc: &str, rng: &mut Rng) -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![
            kv_str("service.name", svc),
            kv_str("service.version", "1.42.0"),
            kv_str(
                "service.instance.id",
                &format!("{:016x}{:016x}", rng.next(), rng.next()),
            ),
            kv_str("deployment.environment.name", "production"),
            kv_str(
                "host.name",
                &format!("ip-10-0-{}-{}.ec2.internal", rng.below(256), rng.below(256)),
            ),
            kv_str("telemetry.sdk.name", "opentelemetry"),
            kv_str("telemetry.sdk.language", "rust"),
            kv_str("telemetry.sdk.version", "0.31.0"),
        ],
        ..Default::default()
    };
    let mut spans = Vec::with_capacity(n_spans);
    for _ in 0..n_spans {
        let start = 1_700_000_000_000_000_000u64 + rng.below(1_000_000_000);
        let dur = 200_000 + rng.below(50_000_000);
        let code: i64 = if rng.below(50) == 0 {
            [500, 503][rng.below(2) as usize]
        } else {
            200
        };
        let method = if rng.below(4) == 0 { "POST" } else { "GET" };
        let item = rng.below(100_000);
        let mut sp = Span {
            trace_id: rng.bytes(16),
            span_id: rng.bytes(8),
            parent_span_id: rng.bytes(8),
            flags: 0x101,
            start_time_unix_nano: start,
            end_time_unix_nano: start + dur,
            status: Some(Status {
                code: if code >= 500 {
                    status::StatusCode::Error
                } else {
                    status::StatusCode::Unset
                } as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        if rng.below(2) == 0 {
            let dep = DEPS[rng.below(DEPS.len() as u64) as usize];
            sp.name = method.into();
            sp.kind = span::SpanKind::Client as i32;
            sp.attributes = vec![
                kv_str("http.request.method", method),
                kv_str("server.address", dep),
                kv_int("server.port", 443),
                kv_str("url.full", &format!("https://{dep}/api/v1/items/{item}")),
                kv_int("http.response.status_code", code),
                kv_str("network.protocol.version", "1.1"),
            ];
        } else {
            sp.name = format!("{method} /api/v1/items/{{id}}");
            sp.kind = span::SpanKind::Server as i32;
            sp.attributes = vec![
                kv_str("http.request.method", method),
                kv_str("http.route", "/api/v1/items/{id}"),
                kv_str("url.path", &format!("/api/v1/items/{item}")),
                kv_str("url.scheme", "https"),
                kv_int("http.response.status_code", code),
                kv_str(
                    "client.address",
                    &format!("10.0.{}.{}", rng.below(256), rng.below(256)),
                ),
            ];
        }
        spans.push(sp);
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry-http".into(),
                    version: "0.31.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `distinct`-ish requests of whole 10-span traces: each service's spans cut into requests of
/// `batch` spans, requests of different services interleaved (so children often arrive first).
pub fn build_trace_batches(
    distinct: usize,
    batch: usize,
    rng: &mut Rng,
) -> Vec<ExportTraceServiceRequest> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n_traces = (distinct * batch).div_ceil(10);
    let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    let span = |rng: &mut Rng,
                trace: &[u8],
                parent: &[u8],
                name: String,
                kind: span::SpanKind,
                start: u64,
                dur: u64,
                attrs: Vec<KeyValue>,
                err: bool| Span {
        trace_id: trace.to_vec(),
        span_id: rng.bytes(8),
        parent_span_id: parent.to_vec(),
        flags: 0x101,
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur,
        attributes: attrs,
        status: Some(Status {
            code: if err {
                status::StatusCode::Error
            } else {
                status::StatusCode::Unset
            } as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    for _ in 0..n_traces {
        let trace = rng.bytes(16);
        let t0 = now - 1_000_000_000 + rng.below(1_000_000_000);
        let client_addr = format!("10.0.{}.{}", rng.below(256), rng.below(256));
        let mut root = span(
            rng,
            &trace,
            &[],
            "GET /checkout".into(),
            span::SpanKind::Server,
            t0,
            0,
            vec![
                kv_str("http.request.method", "GET"),
                kv_str("http.route", "/checkout"),
                kv_str("url.path", "/checkout"),
                kv_str("url.scheme", "https"),
                kv_int("http.response.status_code", 200),
                kv_str("client.address", &client_addr),
            ],
            false,
        );
        let mut at = t0 + 100_000;
        for _ in 0..3 {
            let callee = 1 + rng.below(SERVICES.len() as u64 - 1) as usize;
            let svc = SERVICES[callee];
            let item = rng.below(100_000);
            let dur = 300_000 + rng.below(40_000_000);
            let err = rng.below(50) == 0;
            let code = if err { 503 } else { 200 };
            let client = span(
                rng,
                &trace,
                &root.span_id,
                "GET".into(),
                span::SpanKind::Client,
                at,
                dur,
                vec![
                    kv_str("http.request.method", "GET"),
                    kv_str("server.address", &format!("{svc}.internal")),
                    kv_int("server.port", 443),
                    kv_str(
                        "url.full",
                        &format!("https://{svc}.internal/api/v1/items/{item}"),
                    ),
                    kv_int("http.response.status_code", code),
                    kv_str("network.protocol.version", "1.1"),
                ],
                err,
            );
            let server = span(
                rng,
                &trace,
                &client.span_id,
                "GET /api/v1/items/{id}".into(),
                span::SpanKind::Server,
                at + 50_000,
                dur - 100_000,
                vec![
                    kv_str("http.request.method", "GET"),
                    kv_str("http.route", "/api/v1/items/{id}"),
                    kv_str("url.path", &format!("/api/v1/items/{item}")),
                    kv_str("url.scheme", "https"),
                    kv_int("http.response.status_code", code),
                    kv_str("client.address", "10.0.0.7"),
                ],
                err,
            );
            let db = span(
                rng,
                &trace,
                &server.span_id,
                "SELECT items".into(),
                span::SpanKind::Client,
                at + 80_000,
                (dur - 100_000) / 2,
                vec![
                    kv_str("db.system.name", "postgresql"),
                    kv_str("db.namespace", "items"),
                    kv_str("db.operation.name", "SELECT"),
                    kv_str(
                        "db.query.text",
                        "SELECT id, name, price FROM items WHERE id = $1",
                    ),
                    kv_str("server.address", "items-db.internal"),
                    kv_int("server.port", 5432),
                ],
                false,
            );
            per_service[0].push(client);
            per_service[callee].push(server);
            per_service[callee].push(db);
            at += dur + 50_000;
        }
        root.end_time_unix_nano = at + 100_000;
        per_service[0].push(root);
    }
    let mut chunks: Vec<Vec<(usize, Vec<Span>)>> = Vec::new();
    for (i, spans) in per_service.into_iter().enumerate() {
        let mut rest = spans;
        let mut k = 0;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(batch));
            if chunks.len() <= k {
                chunks.push(Vec::new());
            }
            chunks[k].push((i, rest));
            rest = tail;
            k += 1;
        }
    }
    let mut out = Vec::new();
    // Requests hold exactly `batch` spans (throughput is counted per request); the short last
    // request of each service is left out, which orphans a few spans, as sampling would.
    for (i, spans) in chunks
        .into_iter()
        .flatten()
        .filter(|(_, s)| s.len() == batch)
    {
        let mut m = build_batch(0, SERVICES[i], rng);
        m.resource_spans[0].scope_spans[0].spans = spans;
        out.push(m);
    }
    out
}

/// The pre-encoded batches (and, for `--typed`, the messages they were encoded from).
pub struct Corpus {
    pub bodies: Vec<Bytes>,
    /// Per body: byte offsets of every trace id (first 8 of its 16 bytes), span id and parent id.
    pub id_offsets: Vec<Vec<u32>>,
    pub msgs: Vec<ExportTraceServiceRequest>,
    pub spans_per_batch: usize,
}

impl Corpus {
    pub fn build(
        distinct: usize,
        batch: usize,
        seed: u64,
        keep_msgs: bool,
        shape: Shape,
    ) -> Corpus {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let msgs_in: Vec<ExportTraceServiceRequest> = match shape {
            Shape::Spans => (0..distinct)
                .map(|i| build_batch(batch, SERVICES[i % SERVICES.len()], &mut rng))
                .collect(),
            Shape::Traces => build_trace_batches(distinct, batch, &mut rng),
        };
        let mut bodies = Vec::with_capacity(msgs_in.len());
        let mut id_offsets = Vec::with_capacity(msgs_in.len());
        let mut msgs = Vec::new();
        for m in msgs_in {
            let body = m.encode_to_vec();
            id_offsets.push(find_id_offsets(&body, &m));
            bodies.push(Bytes::from(body));
            if keep_msgs {
                msgs.push(m);
            }
        }
        Corpus {
            bodies,
            id_offsets,
            msgs,
            spans_per_batch: batch,
        }
    }
    /// Body `i` for replay `round`: round 0 is the original bytes; later rounds XOR every id with
    /// the round number (same original id -> same new id, so traces stay whole).
    pub fn body(&self, i: usize, round: u64) -> Bytes {
        if round == 0 {
            return self.bodies[i].clone();
        }
        let mut b = self.bodies[i].to_vec();
        let x = round.to_le_bytes();
        for &off in &self.id_offsets[i] {
            let o = off as usize;
            for j in 0..8 {
                b[o + j] ^= x[j];
            }
        }
        Bytes::from(b)
    }
    pub fn total_bytes(&self) -> usize {
        self.bodies.iter().map(|b| b.len()).sum()
    }
    /// FNV-1a over all bodies: identical digests mean identical bytes across runs/modes.
    pub fn digest(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &self.bodies {
            for &x in b.iter() {
                h = (h ^ x as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
    pub fn json(&self) -> serde_json::Value {
        let n = self.bodies.len() * self.spans_per_batch;
        json!({
            "distinct": self.bodies.len(),
            "batch": self.spans_per_batch,
            "bytes_per_span": (self.total_bytes() as f64 / n as f64 * 10.0).round() / 10.0,
            "bytes_per_request": self.total_bytes() / self.bodies.len(),
            "digest": self.digest(),
        })
    }
}

/// Offsets of each span's ids in its encoded batch, found in order (prost writes a span's
/// fields in tag order: trace_id, span_id, parent_span_id).
fn find_id_offsets(body: &[u8], m: &ExportTraceServiceRequest) -> Vec<u32> {
    let mut out = Vec::new();
    let mut from = 0usize;
    let mut find = |needle: &[u8], from: &mut usize| {
        let at = body[*from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("id is in the body")
            + *from;
        out.push(at as u32);
        *from = at + needle.len();
    };
    for rs in &m.resource_spans {
        for ss in &rs.scope_spans {
            for sp in &ss.spans {
                find(&sp.trace_id, &mut from);
                find(&sp.span_id, &mut from);
                if !sp.parent_span_id.is_empty() {
                    find(&sp.parent_span_id, &mut from);
                }
            }
        }
    }
    out
}

/// `distinct` encoded batches of `batch` spans each, services in turn (faultline's decoder
/// tests: the load generator's own spans, so they check the very bytes it sends).
pub fn encoded_batches(distinct: usize, batch: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..distinct)
        .map(|i| build_batch(batch, SERVICES[i % SERVICES.len()], &mut rng).encode_to_vec())
        .collect()
}
