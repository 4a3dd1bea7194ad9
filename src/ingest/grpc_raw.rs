//! OTLP/gRPC `TraceService/Export` on raw bytes: a tonic codec whose decoder hands the request's
//! protobuf bytes over as they are (so `wire` decodes them into model spans, with no `prost`
//! tree), and the tower service routing the method to it. It replaces the generated
//! `TraceServiceServer`, which hard-codes the `prost` codec, and answers as it did: gzip in and
//! out, the [`MAX_BODY_BYTES`] decoding limit, partial success, the bearer token, `UNAVAILABLE`
//! when full. Two answers differ, as the receivers document them: a malformed request is
//! `INVALID_ARGUMENT` (the generated server said `INTERNAL`), and a message over the limit
//! `RESOURCE_EXHAUSTED` (tonic says `OUT_OF_RANGE`).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::limits::MAX_BODY_BYTES;
use super::otlp_grpc::GrpcReceiver;

/// The gRPC service name of the trace receiver.
pub const TRACE_SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// Path of the `Export` method.
pub const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Decodes a request message to its bytes (after tonic has removed the framing and inflated
/// it); encodes the response with `prost`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the response: {e}")))
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // Splits the bytes off tonic's buffer; no copy.
        Ok(Some(src.copy_to_bytes(src.remaining())))
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

impl UnaryService<Bytes> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<Response<Self::Response>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
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
        Box::pin(async move {
            let mut grpc = Grpc::new(RawCodec)
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
