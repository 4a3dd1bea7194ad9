//! The OTLP receivers' protobuf trace path (bytes decoded by `ingest::wire`, no prost tree), and
//! OTLP/HTTP's JSON one (`ingest::json`), over real sockets: the spans that reach the store equal `decode_traces` of the request; gzip,
//! partial success, auth, back-pressure, malformed bodies, oversized messages, recording (the
//! capture still gets the request, without its rejected spans) and unknown methods answer as
//! documented.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use faultline::ingest::channel::{CaptureRecord, Counters, Ingest, IngestMsg};
use faultline::ingest::decode::{decode_traces, retain_valid_spans};
use faultline::ingest::{otlp_grpc, otlp_http, otlp_json};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

#[path = "../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

/// Receivers on free ports, with the ingest channels in the test's hands.
struct Rig {
    grpc: SocketAddr,
    http: SocketAddr,
    store: mpsc::Receiver<IngestMsg>,
    capture: Option<mpsc::Receiver<CaptureRecord>>,
    counters: Arc<Counters>,
    _stop: watch::Sender<bool>,
}

async fn rig(capacity: usize, recording: bool, token: Option<&str>) -> Rig {
    let (tx, store) = mpsc::channel(capacity);
    let (ctx, capture) = match recording {
        true => {
            let (t, r) = mpsc::channel(16);
            (Some(t), Some(r))
        }
        false => (None, None),
    };
    let counters = Arc::new(Counters::default());
    let ingest = Ingest::new(tx, ctx, counters.clone());
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (gl, grpc) = otlp_grpc::bind(any).await.expect("bind grpc");
    let (hl, http) = otlp_grpc::bind(any).await.expect("bind http");
    let (stop, rx) = watch::channel(false);
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let token = token.map(String::from);
    tokio::spawn(otlp_grpc::serve(
        gl,
        otlp_grpc::GrpcReceiver::new(ingest.clone(), token.clone()),
        until(rx.clone()),
    ));
    tokio::spawn(otlp_http::serve(
        hl,
        otlp_http::HttpReceiver::new(ingest, token),
        until(rx),
    ));
    Rig {
        grpc,
        http,
        store,
        capture,
        counters,
        _stop: stop,
    }
}

/// A corpus batch with one span whose trace id is 5 bytes (rejected: partial success).
fn request() -> ExportTraceServiceRequest {
    let mut req = corpus::build_batch(64, "checkout", &mut corpus::Rng(42));
    req.resource_spans[0].scope_spans[0].spans[3].trace_id = vec![7; 5];
    req
}

async fn next_spans(r: &mut Rig) -> Vec<faultline::model::span::Span> {
    match tokio::time::timeout(Duration::from_secs(5), r.store.recv()).await {
        Ok(Some(IngestMsg::Spans(s))) => s,
        other => panic!("expected spans on the store channel, got {other:?}"),
    }
}

async fn grpc_client(addr: SocketAddr) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

/// Sends arbitrary bytes as the Export request (the generated client would re-encode).
#[derive(Clone, Copy)]
struct Raw;
impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}
impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.writer()
            .write_all(&item)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
impl Decoder for Raw {
    type Item = ();
    type Error = Status;
    fn decode(&mut self, _: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        Ok(Some(()))
    }
}

async fn grpc_raw(addr: SocketAddr, path: &'static str, body: Vec<u8>) -> Result<(), Status> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut g = tonic::client::Grpc::new(ch);
    g.ready().await.expect("ready");
    g.unary(
        tonic::Request::new(body),
        http::uri::PathAndQuery::from_static(path),
        Raw,
    )
    .await
    .map(|_| ())
}

use bytes::BufMut;

const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[tokio::test]
async fn grpc_traces_decode_like_prost_with_partial_success_and_gzip() {
    let mut r = rig(16, false, None).await;
    let req = request();
    let want = decode_traces(&req);
    for gzip in [false, true] {
        let mut c = grpc_client(r.grpc).await;
        if gzip {
            c = c.send_compressed(CompressionEncoding::Gzip);
        }
        let resp = c.export(req.clone()).await.expect("export").into_inner();
        let p = resp.partial_success.expect("partial success");
        assert_eq!(p.rejected_spans, 1);
        assert_eq!(p.error_message, want.error.clone().unwrap_or_default());
        assert_eq!(next_spans(&mut r).await, want.spans, "gzip={gzip}");
    }
    assert_eq!(Counters::get(&r.counters.spans), 2 * 63);
    assert_eq!(Counters::get(&r.counters.spans_rejected), 2);
}

#[tokio::test]
async fn grpc_malformed_is_invalid_argument_and_counted() {
    let r = rig(16, false, None).await;
    let mut bytes = request().encode_to_vec();
    bytes.truncate(bytes.len() - 7);
    for (what, body) in [
        ("truncated", bytes),
        ("garbage", b"\xff\xff\xff\xff not protobuf".to_vec()),
    ] {
        let st = grpc_raw(r.grpc, EXPORT, body).await.expect_err(what);
        assert_eq!(st.code(), Code::InvalidArgument, "{what}: {st:?}");
        assert!(
            st.message().starts_with("invalid protobuf payload: "),
            "{what}: {}",
            st.message()
        );
    }
    assert_eq!(Counters::get(&r.counters.bad_requests), 2);
    // Still serving.
    grpc_client(r.grpc)
        .await
        .export(request())
        .await
        .expect("valid request after bad ones");
}

#[tokio::test]
async fn grpc_auth_full_and_unknown_method() {
    let mut r = rig(1, false, Some("s3cret")).await;
    let st = grpc_client(r.grpc)
        .await
        .export(request())
        .await
        .expect_err("no token");
    assert_eq!(st.code(), Code::Unauthenticated);
    let with_token = |req: ExportTraceServiceRequest| {
        let mut q = tonic::Request::new(req);
        q.metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().expect("ascii"));
        q
    };
    let mut c = grpc_client(r.grpc).await;
    c.export(with_token(request()))
        .await
        .expect("first fills the channel");
    let st = c
        .export(with_token(request()))
        .await
        .expect_err("channel full");
    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
    assert_eq!(Counters::get(&r.counters.refused_full), 1);
    next_spans(&mut r).await;
    let st = grpc_raw(
        r.grpc,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        vec![],
    )
    .await
    .expect_err("unknown method");
    assert_eq!(st.code(), Code::Unimplemented);
    // Over the 16 MiB limit: refused before decoding, as RESOURCE_EXHAUSTED.
    let st = grpc_raw(r.grpc, EXPORT, vec![0; 17 << 20])
        .await
        .expect_err("oversized");
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
}

#[tokio::test]
async fn recording_still_captures_the_request() {
    let mut r = rig(16, true, None).await;
    let req = request();
    grpc_client(r.grpc)
        .await
        .export(req.clone())
        .await
        .expect("export");
    assert_eq!(next_spans(&mut r).await, decode_traces(&req).spans);
    // The capture holds the request without the rejected span.
    let mut accepted = req.clone();
    retain_valid_spans(&mut accepted);
    assert_eq!(accepted.resource_spans[0].scope_spans[0].spans.len(), 63);
    let mut cap = r.capture.take().expect("recording");
    match cap.recv().await {
        Some(CaptureRecord::Traces(got)) => assert_eq!(got, accepted),
        other => panic!("expected the request in the capture, got {other:?}"),
    }
    let (status, _) = http_post(r.http, "application/x-protobuf", &req.encode_to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(next_spans(&mut r).await, decode_traces(&req).spans);
    assert!(matches!(
        cap.recv().await,
        Some(CaptureRecord::Traces(got)) if got == accepted
    ));
}

#[tokio::test]
async fn http_protobuf_traces_decode_like_prost_and_reject_malformed() {
    let mut r = rig(16, false, None).await;
    let req = request();
    let (status, body) = http_post(r.http, "application/x-protobuf", &req.encode_to_vec()).await;
    assert_eq!(status, 200);
    // ExportTraceServiceResponse { partial_success { rejected_spans: 1, error_message } }.
    let resp =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            body.as_slice(),
        )
        .expect("response");
    assert_eq!(resp.partial_success.map(|p| p.rejected_spans), Some(1));
    assert_eq!(next_spans(&mut r).await, decode_traces(&req).spans);

    let mut bad = req.encode_to_vec();
    bad.truncate(100);
    let (status, body) = http_post(r.http, "application/x-protobuf", &bad).await;
    assert_eq!(status, 400);
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let st = RpcStatus::decode(body.as_slice()).expect("google.rpc.Status");
    assert_eq!(st.code, 3);
    assert!(
        st.message
            .starts_with("invalid protobuf payload: resource_spans: length 18750 past end"),
        "{}",
        st.message
    );
    assert_eq!(Counters::get(&r.counters.bad_requests), 1);
}

#[tokio::test]
async fn http_json_traces_decode_like_otlp_json_recording_or_not() {
    let req = request();
    // As an SDK's JSON exporter might spell it: snake_case ids, an enum by name.
    let body = String::from_utf8(serde_json::to_vec(&req).expect("json"))
        .expect("utf-8")
        .replace("\"traceId\"", "\"trace_id\"")
        .replacen("\"kind\":2", "\"kind\":\"SPAN_KIND_SERVER\"", 1)
        .into_bytes();
    let want = decode_traces(&otlp_json::parse_traces(&body).expect("reference parses"));
    assert_eq!(want.rejected, 1);
    for recording in [false, true] {
        let mut r = rig(16, recording, None).await;
        let (status, resp) = http_post(r.http, "application/json", &body).await;
        assert_eq!(status, 200, "recording {recording}");
        let resp: serde_json::Value = serde_json::from_slice(&resp).expect("JSON response");
        assert_eq!(resp["partialSuccess"]["rejectedSpans"], "1", "{resp}");
        assert_eq!(
            next_spans(&mut r).await,
            want.spans,
            "recording {recording}"
        );
        if let Some(cap) = r.capture.as_mut() {
            let mut accepted = req.clone();
            retain_valid_spans(&mut accepted);
            assert!(matches!(
                cap.recv().await,
                Some(CaptureRecord::Traces(got)) if got == accepted
            ));
        }
        let (status, resp) = http_post(r.http, "application/json", &body[..body.len() / 2]).await;
        assert_eq!(status, 400);
        let resp: serde_json::Value = serde_json::from_slice(&resp).expect("JSON status");
        let msg = resp["message"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("invalid OTLP/JSON payload: EOF while parsing"),
            "{msg}"
        );
        assert_eq!(Counters::get(&r.counters.bad_requests), 1);
    }
}

/// A minimal HTTP/1.1 POST; returns the status and body.
async fn http_post(addr: SocketAddr, ctype: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut resp))
        .await
        .expect("response in time")
        .expect("read");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let status = std::str::from_utf8(&resp[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, resp[split + 4..].to_vec())
}
