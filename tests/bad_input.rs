//! Bad input against a running `faultline record`, over OTLP/HTTP and OTLP/gRPC: each gets the
//! documented error (HTTP 400 with a google.rpc.Status body, 415, 413; gRPC INVALID_ARGUMENT,
//! RESOURCE_EXHAUSTED), the receiver keeps serving (a valid request on both transports succeeds
//! afterwards), memory stays bounded, and the capture holds exactly the accepted requests.
//!
//! Every case starts its own recorder, so one failure names one case.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

const MIB: usize = 1024 * 1024;
/// The receivers' documented limit is 16 MiB decompressed; "clearly larger" than that:
const OVER_LIMIT: usize = 24 * MIB;
const TRACE_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// ------------------------------------------------------------------------------ requests

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// One CLIENT span in service `bad-input-test`, named `name`, with `attrs`; ids derive from `n`.
fn request(n: u64, name: &str, attrs: Vec<KeyValue>) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&0xfa17_11e0_0000_0000u64.to_be_bytes());
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    let mut all = vec![kv("peer.service", "downstream")];
    all.extend(attrs);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "bad-input-test")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: trace_id.to_vec(),
                    span_id: (n + 1).to_be_bytes().to_vec(),
                    name: name.into(),
                    kind: span::SpanKind::Client as i32,
                    start_time_unix_nano: now - 5_000_000,
                    end_time_unix_nano: now,
                    attributes: all,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn json_request(n: u64, name: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bad-input-test"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": format!("fa1711e000000000{n:016x}"),
            "spanId": format!("{:016x}", n + 1),
            "name": name, "kind": 3,
            "startTimeUnixNano": (now - 5_000_000).to_string(),
            "endTimeUnixNano": now.to_string(),
            "attributes": [{"key": "peer.service", "value": {"stringValue": "downstream"}}]
        }]}]
    }]})
    .to_string()
}

/// A google.rpc.Status, to read the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(bytes = "vec", repeated, tag = "3")]
    details: Vec<Vec<u8>>,
}

// ------------------------------------------------------------------------------ gRPC raw codec

/// Sends arbitrary bytes as a gRPC message (for payloads the typed client cannot make).
#[derive(Clone, Default)]
struct Raw;
struct RawEnc;
struct RawDec;
impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEnc;
    type Decoder = RawDec;
    fn encoder(&mut self) -> RawEnc {
        RawEnc
    }
    fn decoder(&mut self) -> RawDec {
        RawDec
    }
}
impl Encoder for RawEnc {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}
impl Decoder for RawDec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

// ------------------------------------------------------------------------------ the session

/// A recorder plus clients for both transports, keeping count of what was accepted.
struct Session {
    rec: Recorder,
    http: reqwest::blocking::Client,
    rt: tokio::runtime::Runtime,
    /// Span names of every request the receiver acknowledged, in order.
    accepted: Vec<String>,
    n: u64,
}

impl Session {
    fn new() -> Session {
        let rec = Recorder::start();
        faultline::ingest::tls_files::install_default_provider();
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Session {
            rec,
            http,
            rt,
            accepted: Vec::new(),
            n: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    fn post(
        &self,
        path: &str,
        ctype: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::blocking::Response {
        let mut req = self
            .http
            .post(self.rec.http_url(path))
            .header("content-type", ctype)
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        req.send()
            .unwrap_or_else(|e| panic!("POST {path} failed at the transport level: {e}"))
    }

    async fn channel(addr: String) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(addr)
            .unwrap()
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .expect("connect to the gRPC receiver")
    }

    /// Sends raw bytes as a TraceService/Export message; the gRPC status (OK or not).
    fn grpc_raw(&self, bytes: Vec<u8>, gzip: bool) -> Status {
        let addr = self.rec.grpc_url();
        self.rt.block_on(async move {
            let ch = Self::channel(addr).await;
            let mut g = tonic::client::Grpc::new(ch);
            if gzip {
                g = g.send_compressed(CompressionEncoding::Gzip);
            }
            g.ready().await.expect("gRPC channel ready");
            match g
                .unary(
                    tonic::Request::new(bytes),
                    PathAndQuery::from_static(TRACE_PATH),
                    Raw,
                )
                .await
            {
                Ok(_) => Status::ok(""),
                Err(s) => s,
            }
        })
    }

    /// Sends a typed request with the generated client; the gRPC status.
    fn grpc_typed(&self, req: ExportTraceServiceRequest, gzip: bool) -> Status {
        let addr = self.rec.grpc_url();
        self.rt.block_on(async move {
            let ch = Self::channel(addr).await;
            let mut c = TraceServiceClient::new(ch);
            if gzip {
                c = c.send_compressed(CompressionEncoding::Gzip);
            }
            match c.export(req).await {
                Ok(resp) => {
                    // Partial success is allowed only with a reason.
                    if let Some(ps) = resp.into_inner().partial_success
                        && ps.rejected_spans > 0
                    {
                        assert!(
                            !ps.error_message.is_empty(),
                            "partial success without a message"
                        );
                    }
                    Status::ok("")
                }
                Err(s) => s,
            }
        })
    }

    /// A valid request over OTLP/HTTP protobuf, OTLP/HTTP JSON and gRPC: all must succeed.
    fn valid_everywhere(&mut self, after: &str) {
        let n = self.next();
        let name = format!("valid-http-proto-{n}");
        let resp = self.post(
            "/v1/traces",
            "application/x-protobuf",
            None,
            request(n, &name, vec![]).encode_to_vec(),
        );
        assert_eq!(
            resp.status().as_u16(),
            200,
            "valid OTLP/HTTP protobuf request after {after}"
        );
        self.accepted.push(name);

        let n = self.next();
        let name = format!("valid-http-json-{n}");
        let resp = self.post(
            "/v1/traces",
            "application/json",
            None,
            json_request(n, &name).into_bytes(),
        );
        assert_eq!(
            resp.status().as_u16(),
            200,
            "valid OTLP/HTTP JSON request after {after}"
        );
        self.accepted.push(name);

        let n = self.next();
        let name = format!("valid-grpc-{n}");
        let st = self.grpc_typed(request(n, &name, vec![]), false);
        assert_eq!(
            st.code(),
            Code::Ok,
            "valid gRPC request after {after}: {st:?}"
        );
        self.accepted.push(name);
    }

    /// Stops the recorder; the capture must hold exactly the acknowledged requests' spans.
    /// Client connections are closed first: this file tests bad input, not shutdown with
    /// clients attached (record_lifecycle.rs does that).
    fn finish(self) {
        let Session {
            mut rec,
            http,
            rt,
            mut accepted,
            ..
        } = self;
        drop(http);
        drop(rt);
        assert!(
            rec.alive(),
            "faultline record died; stderr:\n{}",
            rec.stderr_so_far()
        );
        let stopped = rec.stop();
        stopped.assert_clean();
        let cap = read_capture(&stopped.out);
        let mut got: Vec<String> = cap
            .span_ids
            .iter()
            .map(|(_, _, name)| name.clone())
            .collect();
        got.sort();
        accepted.sort();
        assert_eq!(
            got, accepted,
            "the capture must hold exactly the accepted requests' spans"
        );
        // And it is a capture `report` reads.
        let rows = report_json(&[&stopped.out]);
        assert!(
            rows.iter()
                .any(|r| r.caller == "bad-input-test" && r.dependency == "downstream"),
            "{rows:?}"
        );
    }
}

/// A bad span inside a well-formed request may be refused whole (400 + Status) or, as OTLP
/// allows, by partial success: 200 with `partialSuccess.rejectedSpans` > 0 and a message.
fn assert_span_rejected(resp: reqwest::blocking::Response, what: &str) {
    if resp.status().as_u16() != 200 {
        return assert_http_error(resp, 400, true, what);
    }
    let body = resp.bytes().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{what}: 200 body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    let ps = &v["partialSuccess"];
    let rejected = match &ps["rejectedSpans"] {
        serde_json::Value::String(s) => s.parse::<u64>().unwrap_or(0),
        n => n.as_u64().unwrap_or(0),
    };
    assert!(
        rejected >= 1 && ps["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: accepted without rejecting the span (want 400, or partialSuccess with rejectedSpans and errorMessage): {v}"
    );
}

fn assert_http_error(resp: reqwest::blocking::Response, want: u16, json: bool, what: &str) {
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.bytes().unwrap_or_default();
    assert_eq!(
        status,
        want,
        "{what}: HTTP {status}, want {want}; body {:?}",
        String::from_utf8_lossy(&body)
    );
    if want == 400 {
        // OTLP/HTTP: the body is a google.rpc.Status in the request's encoding.
        if json {
            assert!(
                ctype.starts_with("application/json"),
                "{what}: content-type {ctype:?}"
            );
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!(
                    "{what}: 400 body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&body)
                )
            });
            assert!(
                v.get("message")
                    .and_then(|m| m.as_str())
                    .is_some_and(|m| !m.is_empty()),
                "{what}: JSON Status needs a message: {v}"
            );
        } else {
            assert!(
                ctype.starts_with("application/x-protobuf"),
                "{what}: content-type {ctype:?}"
            );
            let st = RpcStatus::decode(body.as_ref())
                .unwrap_or_else(|e| panic!("{what}: 400 body is not a google.rpc.Status ({e})"));
            assert!(!st.message.is_empty(), "{what}: Status without a message");
        }
    }
}

fn assert_grpc(st: &Status, want: Code, what: &str) {
    assert_eq!(
        st.code(),
        want,
        "{what}: got {:?} ({:?}), want {want:?}",
        st.code(),
        st.message()
    );
}

/// Bytes that are not an ExportTraceServiceRequest (checked with prost itself, so the test
/// cannot pass because the "garbage" happened to decode).
fn garbage() -> Vec<u8> {
    let g = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01this is not protobuf\x00\x07".to_vec();
    assert!(ExportTraceServiceRequest::decode(g.as_slice()).is_err());
    g
}

fn truncated() -> Vec<u8> {
    let full = request(999, "never-accepted", vec![kv("k", &"v".repeat(300))]).encode_to_vec();
    let cut = full[..full.len() / 2].to_vec();
    assert!(ExportTraceServiceRequest::decode(cut.as_slice()).is_err());
    cut
}

/// A valid request whose span name is then overwritten with bytes that are not UTF-8.
fn invalid_utf8() -> Vec<u8> {
    let mut b = request(998, "NAME-TO-BREAK", vec![]).encode_to_vec();
    let pos = b.windows(13).position(|w| w == b"NAME-TO-BREAK").unwrap();
    b[pos..pos + 4].copy_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    assert!(
        ExportTraceServiceRequest::decode(b.as_slice()).is_err(),
        "must be invalid UTF-8 to prost"
    );
    b
}

/// A valid request of about `size` bytes (one big attribute).
fn big_request(n: u64, name: &str, size: usize) -> ExportTraceServiceRequest {
    request(n, name, vec![kv("blob", &"a".repeat(size))])
}

fn many_attributes(n: u64, name: &str, count: usize) -> ExportTraceServiceRequest {
    request(
        n,
        name,
        (0..count)
            .map(|i| kv(&format!("attr.{i:05}"), &format!("value-{i}")))
            .collect(),
    )
}

// ------------------------------------------------------------------------------ HTTP cases

#[test]
fn http_garbage_protobuf() {
    let s = Session::new();
    let r = s.post("/v1/traces", "application/x-protobuf", None, garbage());
    assert_http_error(r, 400, false, "garbage protobuf");
    let mut s = s;
    s.valid_everywhere("garbage protobuf");
    s.finish();
}

#[test]
fn http_garbage_json() {
    let mut s = Session::new();
    let r = s.post(
        "/v1/traces",
        "application/json",
        None,
        b"{\"resourceSpans\": [ this is not json".to_vec(),
    );
    assert_http_error(r, 400, true, "garbage JSON");
    s.valid_everywhere("garbage JSON");
    s.finish();
}

#[test]
fn http_truncated_protobuf() {
    let mut s = Session::new();
    let r = s.post("/v1/traces", "application/x-protobuf", None, truncated());
    assert_http_error(r, 400, false, "truncated protobuf");
    s.valid_everywhere("truncated protobuf");
    s.finish();
}

#[test]
fn http_json_with_wrong_types() {
    let mut s = Session::new();
    let span = |field: &str, value: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(&json_request(997, "never-accepted")).unwrap();
        v["resourceSpans"][0]["scopeSpans"][0]["spans"][0][field] =
            serde_json::from_str(value).unwrap();
        v.to_string()
    };
    // Structural errors: the request is not an ExportTraceServiceRequest at all.
    for (what, body) in [
        ("resourceSpans is a string", r#"{"resourceSpans": "nope"}"#),
        (
            "resourceSpans is an object",
            r#"{"resourceSpans": {"a": 1}}"#,
        ),
        ("the body is a JSON array", "[1, 2, 3]"),
        ("the body is a JSON string", r#""resourceSpans""#),
    ] {
        let r = s.post(
            "/v1/traces",
            "application/json",
            None,
            body.as_bytes().to_vec(),
        );
        assert_http_error(r, 400, true, &format!("JSON with wrong types: {what}"));
    }
    // A bad field inside one span: a 400 or a partial success that rejects the span.
    for (what, field, value) in [
        ("traceId is a number", "traceId", "12"),
        (
            "traceId is not hex",
            "traceId",
            r#""zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz""#,
        ),
        (
            "startTimeUnixNano is an object",
            "startTimeUnixNano",
            r#"{"x": 1}"#,
        ),
        (
            "endTimeUnixNano is not a number",
            "endTimeUnixNano",
            r#""soon""#,
        ),
        ("kind is a list", "kind", "[3]"),
        ("attributes is a string", "attributes", r#""k=v""#),
    ] {
        let r = s.post(
            "/v1/traces",
            "application/json",
            None,
            span(field, value).into_bytes(),
        );
        assert_span_rejected(r, &format!("JSON with wrong types: {what}"));
    }
    s.valid_everywhere("JSON with wrong types");
    s.finish();
}

#[test]
fn http_unknown_content_type() {
    let mut s = Session::new();
    let body = request(996, "never-accepted", vec![]).encode_to_vec();
    for ct in ["text/plain", "application/xml", "image/png"] {
        let r = s.post("/v1/traces", ct, None, body.clone());
        assert_http_error(r, 415, false, &format!("content-type {ct}"));
    }
    s.valid_everywhere("unknown content types");
    s.finish();
}

#[test]
fn http_bad_content_encoding() {
    let mut s = Session::new();
    // Says gzip, is not.
    let body = request(995, "never-accepted", vec![]).encode_to_vec();
    let r = s.post("/v1/traces", "application/x-protobuf", Some("gzip"), body);
    let code = r.status().as_u16();
    assert!(
        code == 400 || code == 415,
        "a body that is not gzip but says so: {code}, want 400 (or 415)"
    );
    s.valid_everywhere("a bad Content-Encoding");
    s.finish();
}

/// Raw HTTP/1.1 so the status line can be read even if the server stops reading the body:
/// writes `body` from a second thread while reading the response.
fn raw_post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Option<u16> {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut w = sock.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(head.as_bytes());
        for chunk in body.chunks(256 * 1024) {
            if w.write_all(chunk).is_err() {
                break; // the server answered and stopped reading: fine
            }
        }
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let _ = sock.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok())
}

#[test]
fn http_oversized_body() {
    let mut s = Session::new();
    let body = big_request(994, "never-accepted", OVER_LIMIT).encode_to_vec();
    let code = raw_post(
        s.rec.http,
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        body,
    );
    assert_eq!(
        code,
        Some(413),
        "a {} MiB body (limit 16 MiB) must be answered 413 before the connection closes",
        OVER_LIMIT / MIB
    );
    s.valid_everywhere("an oversized body");
    s.finish();
}

#[test]
fn http_body_under_the_limit_is_accepted() {
    // 8 MiB is half the documented limit: a receiver with a smaller hidden limit fails here.
    let mut s = Session::new();
    let r = s.post(
        "/v1/traces",
        "application/x-protobuf",
        None,
        big_request(993, "big-8mib", 8 * MIB).encode_to_vec(),
    );
    assert_eq!(
        r.status().as_u16(),
        200,
        "an 8 MiB request is within the 16 MiB limit"
    );
    s.accepted.push("big-8mib".into());
    s.valid_everywhere("an 8 MiB request");
    s.finish();
}

#[test]
fn http_gzip_bomb() {
    let mut s = Session::new();
    let inflated = 128 * MIB;
    let bomb = gzip(&big_request(992, "never-accepted", inflated).encode_to_vec());
    assert!(
        bomb.len() < MIB,
        "the bomb is small on the wire ({} bytes)",
        bomb.len()
    );
    let (_, peak_before) = s.rec.rss_kib();
    let r = s.post("/v1/traces", "application/x-protobuf", Some("gzip"), bomb);
    assert_http_error(r, 413, false, "gzip bomb (128 MiB inflated)");
    let (_, peak_after) = s.rec.rss_kib();
    let grew_mib = (peak_after.saturating_sub(peak_before)) / 1024;
    assert!(
        grew_mib < 96,
        "decompression must stop at the limit: peak RSS grew by {grew_mib} MiB for a 128 MiB bomb"
    );
    s.valid_everywhere("a gzip bomb");
    s.finish();
}

#[test]
fn http_ten_thousand_attributes() {
    let mut s = Session::new();
    let body = many_attributes(991, "many-attrs-http", 10_000).encode_to_vec();
    let r = s.post("/v1/traces", "application/x-protobuf", None, body);
    let code = r.status().as_u16();
    match code {
        200 => s.accepted.push("many-attrs-http".into()),
        400 | 413 => assert_http_error(r, code, false, "10,000 attributes"),
        other => panic!(
            "10,000 attributes on one span: HTTP {other}; want 200 (bounded) or a clear 400/413"
        ),
    }
    let (rss, _) = s.rec.rss_kib();
    assert!(
        rss / 1024 < 512,
        "RSS {} MiB after 10,000 attributes",
        rss / 1024
    );
    s.valid_everywhere("10,000 attributes");
    s.finish();
}

#[test]
fn http_invalid_utf8() {
    let mut s = Session::new();
    let r = s.post("/v1/traces", "application/x-protobuf", None, invalid_utf8());
    assert_http_error(r, 400, false, "invalid UTF-8 in a protobuf string");
    let mut json = json_request(990, "XX").into_bytes();
    let pos = json.windows(4).position(|w| w == b"\"XX\"").unwrap();
    json[pos + 1] = 0xff;
    json[pos + 2] = 0xfe;
    assert!(std::str::from_utf8(&json).is_err());
    let r = s.post("/v1/traces", "application/json", None, json);
    assert_http_error(r, 400, true, "invalid UTF-8 in a JSON string");
    s.valid_everywhere("invalid UTF-8");
    s.finish();
}

#[test]
fn http_unknown_path_and_method() {
    let mut s = Session::new();
    let body = request(989, "never-accepted", vec![]).encode_to_vec();
    let r = s.post("/v1/nope", "application/x-protobuf", None, body);
    assert_eq!(r.status().as_u16(), 404, "unknown path");
    let r = s.http.get(s.rec.http_url("/v1/traces")).send().unwrap();
    assert!(
        matches!(r.status().as_u16(), 404 | 405),
        "GET /v1/traces: {}",
        r.status()
    );
    s.valid_everywhere("an unknown path");
    s.finish();
}

// ------------------------------------------------------------------------------ gRPC cases

#[test]
fn grpc_garbage() {
    let mut s = Session::new();
    assert_grpc(
        &s.grpc_raw(garbage(), false),
        Code::InvalidArgument,
        "garbage bytes",
    );
    assert_grpc(
        &s.grpc_raw(garbage(), true),
        Code::InvalidArgument,
        "garbage bytes, gzip",
    );
    s.valid_everywhere("gRPC garbage");
    s.finish();
}

#[test]
fn grpc_truncated_protobuf() {
    let mut s = Session::new();
    assert_grpc(
        &s.grpc_raw(truncated(), false),
        Code::InvalidArgument,
        "truncated protobuf",
    );
    s.valid_everywhere("gRPC truncated protobuf");
    s.finish();
}

#[test]
fn grpc_oversized_message() {
    let mut s = Session::new();
    let st = s.grpc_typed(big_request(988, "never-accepted", OVER_LIMIT), false);
    assert_grpc(
        &st,
        Code::ResourceExhausted,
        "a 24 MiB message (limit 16 MiB)",
    );
    s.valid_everywhere("a gRPC oversized message");
    s.finish();
}

#[test]
fn grpc_message_under_the_limit_is_accepted() {
    let mut s = Session::new();
    let st = s.grpc_typed(big_request(987, "big-8mib-grpc", 8 * MIB), false);
    assert_grpc(
        &st,
        Code::Ok,
        "an 8 MiB message is within the 16 MiB limit (tonic's default is 4 MiB)",
    );
    s.accepted.push("big-8mib-grpc".into());
    s.valid_everywhere("an 8 MiB gRPC message");
    s.finish();
}

#[test]
fn grpc_gzip_bomb() {
    let mut s = Session::new();
    let (_, peak_before) = s.rec.rss_kib();
    // The client gzips 128 MiB of one repeated byte into a small message.
    let st = s.grpc_typed(big_request(986, "never-accepted", 128 * MIB), true);
    assert_grpc(
        &st,
        Code::ResourceExhausted,
        "a gzip message inflating to 128 MiB",
    );
    let (_, peak_after) = s.rec.rss_kib();
    let grew_mib = (peak_after.saturating_sub(peak_before)) / 1024;
    assert!(
        grew_mib < 96,
        "decompression must stop at the limit: peak RSS grew by {grew_mib} MiB"
    );
    s.valid_everywhere("a gRPC gzip bomb");
    s.finish();
}

#[test]
fn grpc_ten_thousand_attributes() {
    let mut s = Session::new();
    let st = s.grpc_typed(many_attributes(985, "many-attrs-grpc", 10_000), false);
    match st.code() {
        Code::Ok => s.accepted.push("many-attrs-grpc".into()),
        Code::InvalidArgument | Code::ResourceExhausted => {
            assert!(!st.message().is_empty(), "a rejection must say why")
        }
        other => panic!(
            "10,000 attributes: {other:?} ({}); want OK (bounded) or a clear rejection",
            st.message()
        ),
    }
    let (rss, _) = s.rec.rss_kib();
    assert!(
        rss / 1024 < 512,
        "RSS {} MiB after 10,000 attributes",
        rss / 1024
    );
    s.valid_everywhere("10,000 attributes over gRPC");
    s.finish();
}

#[test]
fn grpc_invalid_utf8() {
    let mut s = Session::new();
    assert_grpc(
        &s.grpc_raw(invalid_utf8(), false),
        Code::InvalidArgument,
        "invalid UTF-8 in a string",
    );
    s.valid_everywhere("gRPC invalid UTF-8");
    s.finish();
}

#[test]
fn grpc_unknown_method_is_unimplemented() {
    let mut s = Session::new();
    let addr = s.rec.grpc_url();
    let st = s.rt.block_on(async move {
        let ch = Session::channel(addr).await;
        let mut g = tonic::client::Grpc::new(ch);
        g.ready().await.unwrap();
        let path =
            PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Nope");
        match g.unary(tonic::Request::new(vec![]), path, Raw).await {
            Ok(_) => Status::ok(""),
            Err(s) => s,
        }
    });
    assert_grpc(&st, Code::Unimplemented, "an unknown method");
    s.valid_everywhere("an unknown gRPC method");
    s.finish();
}
