//! A deterministic corpus of realistic OTLP trace batches: the shape of
//! `../shared/tools/otlp-loadgen` (HTTP client and server spans with semconv attributes, about
//! 290 bytes each on the wire, 512 per request, ~2 % errors), reproduced here so benches and the
//! memory example measure the same bytes the load generator sends.

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

/// xorshift64: deterministic and dependency-free.
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
        key_strindex: 0,
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        key_strindex: 0,
    }
}

const SERVICES: [&str; 8] = [
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

/// One export request from one service, as an SDK would send it.
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
                code: if code >= 500 { 2 } else { 0 },
                ..Default::default()
            }),
            ..Default::default()
        };
        if rng.below(2) == 0 {
            let dep = DEPS[rng.below(DEPS.len() as u64) as usize];
            sp.name = method.into();
            sp.kind = 3;
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
            sp.kind = 2;
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

/// `distinct` encoded batches of `batch` spans each.
pub fn encoded_batches(distinct: usize, batch: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..distinct)
        .map(|i| build_batch(batch, SERVICES[i % SERVICES.len()], &mut rng).encode_to_vec())
        .collect()
}
