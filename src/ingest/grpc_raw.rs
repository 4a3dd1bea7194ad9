//! OTLP/gRPC `TraceService/Export` on raw bytes: a tonic codec whose decoder turns the request's
//! protobuf bytes, in tonic's buffer, straight into model spans with `wire` (no `prost` tree
//! unless recording), and the tower service routing the method to it. It replaces the generated
//! `TraceServiceServer`, which hard-codes the `prost` codec, and answers as it did: gzip in and
//! out, the [`MAX_BODY_BYTES`] decoding limit, partial success, the bearer token, `UNAVAILABLE`
//! when full. Two answers differ, as the receivers document them: a malformed request is
//! `INVALID_ARGUMENT` (the generated server said `INTERNAL`), and a message over the limit
//! `RESOURCE_EXHAUSTED` (tonic says `OUT_OF_RANGE`).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::accept::{ProtobufTraces, decode_protobuf_traces};
use super::channel::Counters;
use super::limits::MAX_BODY_BYTES;
use super::otlp_grpc::GrpcReceiver;

/// The gRPC service name of the trace receiver.
pub const TRACE_SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// Path of the `Export` method.
pub const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Decodes a request message (after tonic has removed the framing and inflated it) straight
/// into model spans, from tonic's own buffer: no copy, no `prost` tree unless recording.
/// Encodes the response with `prost`.
#[derive(Clone, Debug)]
pub struct TraceCodec {
    recording: bool,
    counters: Arc<Counters>,
}

impl Codec for TraceCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = ProtobufTraces;
    type Encoder = TraceCodec;
    type Decoder = TraceCodec;

    fn encoder(&mut self) -> Self::Encoder {
        self.clone()
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.clone()
    }
}

impl Encoder for TraceCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the response: {e}")))
    }
}

impl Decoder for TraceCodec {
    type Item = ProtobufTraces;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<ProtobufTraces>, Status> {
        let len = src.remaining();
        // tonic buffers a whole message in one contiguous buffer; copy only if it ever did not.
        let decoded = if src.chunk().len() == len {
            let d = decode_protobuf_traces(src.chunk(), self.recording);
            src.advance(len);
            d
        } else {
            decode_protobuf_traces(&src.copy_to_bytes(len), self.recording)
        };
        match decoded {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                Counters::add(&self.counters.bad_requests, 1);
                Err(Status::invalid_argument(e.to_string()))
            }
        }
    }
}

/// The trace service on raw bytes, for `tonic::transport::Server::add_service`.
#[derive(Clone, Debug)]
pub struct RawTraceServer {
    receiver: Arc<GrpcReceiver>,
}

impl RawTraceServer {
    /// Serves `Export` with `receiver`'s ingest handle and token.
    pub fn new(receiver: GrpcReceiver) -> Self {
        RawTraceServer {
            receiver: Arc::new(receiver),
        }
    }
}

impl NamedService for RawTraceServer {
    const NAME: &'static str = TRACE_SERVICE;
}

/// The `Export` method as tonic's unary handler sees it.
struct Export(Arc<GrpcReceiver>);

impl UnaryService<ProtobufTraces> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<Response<Self::Response>, Status>>;

    fn call(&mut self, request: Request<ProtobufTraces>) -> Self::Future {
        std::future::ready(self.0.export_traces(request))
    }
}

impl<B> Service<http::Request<B>> for RawTraceServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != TRACE_EXPORT_PATH {
            return Box::pin(async { Ok(unimplemented()) });
        }
        let method = Export(self.receiver.clone());
        let ingest = self.receiver.ingest();
        let codec = TraceCodec {
            recording: ingest.is_recording(),
            counters: ingest.counters.clone(),
        };
        Box::pin(async move {
            let mut grpc = Grpc::new(codec)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_BODY_BYTES);
            Ok(oversize_is_resource_exhausted(
                grpc.unary(method, req).await,
            ))
        })
    }
}

/// tonic refuses a message over the decoding limit with `OUT_OF_RANGE`; gRPC's convention, and
/// the receivers' documented answer, is `RESOURCE_EXHAUSTED`. That refusal comes before `Export`
/// runs, as a trailers-only response (status in the headers), and `Export` itself never answers
/// `OUT_OF_RANGE`, so the code is rewritten there.
fn oversize_is_resource_exhausted(
    mut resp: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let out_of_range = http::HeaderValue::from(tonic::Code::OutOfRange as i32);
    let headers = resp.headers_mut();
    if headers.get(Status::GRPC_STATUS) == Some(&out_of_range) {
        headers.insert(
            Status::GRPC_STATUS,
            http::HeaderValue::from(tonic::Code::ResourceExhausted as i32),
        );
    }
    resp
}

/// The answer to a method this service does not have (as generated servers give it).
fn unimplemented() -> http::Response<tonic::body::Body> {
    let mut response = http::Response::new(tonic::body::Body::default());
    let headers = response.headers_mut();
    headers.insert(
        Status::GRPC_STATUS,
        http::HeaderValue::from(tonic::Code::Unimplemented as i32),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        tonic::metadata::GRPC_CONTENT_TYPE,
    );
    response
}
