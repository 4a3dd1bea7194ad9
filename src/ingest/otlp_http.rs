//! OTLP/HTTP receiver: `POST /v1/traces`, `/v1/metrics`, `/v1/logs` with protobuf or JSON bodies,
//! optional gzip, and OTLP/HTTP's response rules: the response in the request's encoding, 400 with
//! a `google.rpc.Status` for a bad payload, 415 for an unknown content type or encoding, 413 past
//! the body limit, 429/503 with `Retry-After` when full or closing, partial success for rejected
//! items.

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tokio::net::TcpListener;

use super::accept::{
    Accepted, JsonTraceError, TraceExportError, accept_json_traces, accept_logs, accept_metrics,
    accept_protobuf_traces,
};
use super::channel::{Counters, Ingest, Refused};
use super::decode_logs::parse_logs_json;
use super::limits::{InflateError, MAX_BODY_BYTES, gunzip_bounded};
use super::server_tls::TlsIncoming;

/// Shared state of the HTTP routes.
#[derive(Clone, Debug)]
pub struct HttpReceiver {
    ingest: Ingest,
    token: Option<String>,
}

impl HttpReceiver {
    /// A receiver handing data to `ingest`, requiring `Bearer <token>` when one is given.
    pub fn new(ingest: Ingest, token: Option<String>) -> Self {
        HttpReceiver { ingest, token }
    }
}

/// The body encoding of a request, which the response mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A request that failed before it was accepted.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
    encoding: Encoding,
}

impl Failure {
    fn new(status: StatusCode, encoding: Encoding, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            encoding,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        // gRPC code numbers, as google.rpc.Status carries them.
        let code = match self.status {
            StatusCode::BAD_REQUEST => 3,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => 8,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 2,
        };
        let st = RpcStatus {
            code,
            message: self.message,
        };
        let mut resp = match self.encoding {
            Encoding::Protobuf => (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                st.encode_to_vec(),
            )
                .into_response(),
            Encoding::Json => (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({"code": st.code, "message": st.message}).to_string(),
            )
                .into_response(),
        };
        *resp.status_mut() = self.status;
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        resp
    }
}

/// The routes, with the body limit applied before any handler runs.
pub fn router(receiver: HttpReceiver) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver)
}

/// Serves the routes on `listener` (TCP_NODELAY on each connection) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    receiver: HttpReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("failed to set TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, router(receiver))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the routes over TLS connections (see `server_tls`) until `shutdown` completes.
pub async fn serve_tls(
    incoming: TlsIncoming,
    receiver: HttpReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(incoming, router(receiver))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Checks auth, content type and encoding, and returns the plain body.
fn prepare(
    r: &HttpReceiver,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(Encoding, Bytes), Failure> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match ctype.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Encoding::Json,
                format!(
                    "unsupported content type \"{other}\": use application/x-protobuf or application/json"
                ),
            ));
        }
    };
    if let Some(token) = &r.token {
        let got = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if got.and_then(|v| v.strip_prefix("Bearer ")) != Some(token.as_str()) {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                encoding,
                "missing or wrong bearer token",
            ));
        }
    }
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let body = match content_encoding.as_str() {
        "" | "identity" => body,
        "gzip" | "x-gzip" => match gunzip_bounded(&body, MAX_BODY_BYTES) {
            Ok(b) => Bytes::from(b),
            Err(e @ InflateError::TooLarge { .. }) => {
                return Err(Failure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    encoding,
                    e.to_string(),
                ));
            }
            Err(e) => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    encoding,
                    e.to_string(),
                ));
            }
        },
        other => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                encoding,
                format!("unsupported content encoding \"{other}\": use gzip or none"),
            ));
        }
    };
    Ok((encoding, body))
}

/// Decodes a body as protobuf or JSON, naming what was wrong on failure.
fn decode<T: Message + Default>(
    encoding: Encoding,
    body: &[u8],
    json: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, Failure> {
    match encoding {
        Encoding::Protobuf => T::decode(body).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                encoding,
                format!("invalid protobuf payload: {e}"),
            )
        }),
        Encoding::Json => json(body).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                encoding,
                format!("invalid OTLP/JSON payload: {e}"),
            )
        }),
    }
}

fn refused(r: Refused, encoding: Encoding) -> Failure {
    let status = match r {
        Refused::Full => StatusCode::TOO_MANY_REQUESTS,
        Refused::Closed => StatusCode::SERVICE_UNAVAILABLE,
    };
    Failure::new(status, encoding, r.to_string())
}

/// Encodes a success response (`Export*ServiceResponse`), with partial success when some items
/// were rejected. `field` is the rejected-count field name of the signal.
fn success(encoding: Encoding, a: &Accepted, field: &str) -> Response {
    let message = a.message.clone().unwrap_or_default();
    match encoding {
        Encoding::Json => {
            // A warning without rejections (a log record kept without its bad id) is a partial
            // success with 0 rejected, as OTLP allows.
            let body = if a.rejected > 0 || a.message.is_some() {
                let mut partial = serde_json::Map::new();
                partial.insert(to_camel(field), serde_json::json!(a.rejected.to_string()));
                partial.insert("errorMessage".into(), serde_json::json!(message));
                serde_json::json!({ "partialSuccess": partial })
            } else {
                serde_json::json!({})
            };
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Encoding::Protobuf => {
            // All three Export*ServiceResponse messages share this shape: field 1 is the partial
            // success { int64 rejected = 1; string error_message = 2; }.
            #[derive(Clone, PartialEq, prost::Message)]
            struct Partial {
                #[prost(int64, tag = "1")]
                rejected: i64,
                #[prost(string, tag = "2")]
                error_message: String,
            }
            #[derive(Clone, PartialEq, prost::Message)]
            struct ExportResponse {
                #[prost(message, optional, tag = "1")]
                partial_success: Option<Partial>,
            }
            let resp = ExportResponse {
                partial_success: (a.rejected > 0 || a.message.is_some()).then_some(Partial {
                    rejected: a.rejected as i64,
                    error_message: message,
                }),
            };
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                resp.encode_to_vec(),
            )
                .into_response()
        }
    }
}

fn to_camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in snake.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn bad(r: &HttpReceiver) {
    Counters::add(&r.ingest.counters.bad_requests, 1);
}

async fn traces(
    State(r): State<HttpReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let (enc, body) = prepare(&r, &headers, body).inspect_err(|_| bad(&r))?;
    let a = match enc {
        // Protobuf goes straight to model spans (no prost tree unless recording).
        Encoding::Protobuf => accept_protobuf_traces(&r.ingest, &body).map_err(|e| match e {
            TraceExportError::Refused(e) => refused(e, enc),
            malformed => {
                bad(&r);
                Failure::new(StatusCode::BAD_REQUEST, enc, malformed.to_string())
            }
        })?,
        // JSON too (through `json`, no opentelemetry-proto tree unless recording).
        Encoding::Json => accept_json_traces(&r.ingest, &body).map_err(|e| match e {
            JsonTraceError::Refused(e) => refused(e, enc),
            malformed => {
                bad(&r);
                Failure::new(StatusCode::BAD_REQUEST, enc, malformed.to_string())
            }
        })?,
    };
    Ok(success(enc, &a, "rejected_spans"))
}

async fn metrics(
    State(r): State<HttpReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let (enc, body) = prepare(&r, &headers, body).inspect_err(|_| bad(&r))?;
    let req: ExportMetricsServiceRequest =
        decode(enc, &body, |b| serde_json::from_slice(b)).inspect_err(|_| bad(&r))?;
    let a = accept_metrics(&r.ingest, req).map_err(|e| refused(e, enc))?;
    Ok(success(enc, &a, "rejected_data_points"))
}

async fn logs(
    State(r): State<HttpReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let (enc, body) = prepare(&r, &headers, body).inspect_err(|_| bad(&r))?;
    let req: ExportLogsServiceRequest =
        decode(enc, &body, parse_logs_json).inspect_err(|_| bad(&r))?;
    let a = accept_logs(&r.ingest, req).map_err(|e| refused(e, enc))?;
    Ok(success(enc, &a, "rejected_log_records"))
}
