//! OTLP/gRPC receiver: `TraceService`, `MetricsService` and `LogsService` on one port, gzip in
//! and out, TCP_NODELAY on accepted sockets, an optional bearer token, optional TLS
//! (`server_tls`). Traces take the raw-bytes
//! path of `grpc_raw` (decoded by `wire`, no `prost` tree); metrics and logs the generated
//! servers.

use std::future::Future;
use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::accept::{Accepted, ProtobufTraces, accept_decoded_traces, accept_logs, accept_metrics};
use super::channel::{Counters, Ingest, Refused};
use super::grpc_raw::RawTraceServer;
use super::limits::MAX_BODY_BYTES;
use super::server_tls::TlsIncoming;

/// The gRPC services' shared state.
#[derive(Clone, Debug)]
pub struct GrpcReceiver {
    ingest: Ingest,
    token: Option<String>,
}

impl GrpcReceiver {
    /// A receiver handing data to `ingest`, requiring `Bearer <token>` when one is given.
    pub fn new(ingest: Ingest, token: Option<String>) -> Self {
        GrpcReceiver { ingest, token }
    }

    fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let got = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if got.and_then(|v| v.strip_prefix("Bearer ")) == Some(token.as_str()) {
            Ok(())
        } else {
            Counters::add(&self.ingest.counters.bad_requests, 1);
            Err(Status::unauthenticated("missing or wrong bearer token"))
        }
    }
}

/// Maps a refusal to the status OTLP exporters retry on: `UNAVAILABLE` is always retryable.
fn refused(r: Refused) -> Status {
    Status::unavailable(r.to_string())
}

fn partial(a: &Accepted) -> (i64, String) {
    (a.rejected as i64, a.message.clone().unwrap_or_default())
}

impl GrpcReceiver {
    /// The ingest handle.
    pub(crate) fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// `TraceService/Export`, its body already decoded by `grpc_raw`'s codec (malformed bodies
    /// were answered `INVALID_ARGUMENT` there).
    pub(crate) fn export_traces(
        &self,
        req: Request<ProtobufTraces>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.check(&req)?;
        let a = accept_decoded_traces(&self.ingest, req.into_inner()).map_err(refused)?;
        let partial_success = (a.rejected > 0).then(|| {
            let (rejected_spans, error_message) = partial(&a);
            ExportTracePartialSuccess {
                rejected_spans,
                error_message,
            }
        });
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.check(&req)?;
        let a = accept_metrics(&self.ingest, req.into_inner()).map_err(refused)?;
        let partial_success = (a.rejected > 0).then(|| {
            let (rejected_data_points, error_message) = partial(&a);
            ExportMetricsPartialSuccess {
                rejected_data_points,
                error_message,
            }
        });
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.check(&req)?;
        let a = accept_logs(&self.ingest, req.into_inner()).map_err(refused)?;
        // A warning (bad id dropped from a record) is a partial success with 0 rejected.
        let partial_success = (a.rejected > 0 || a.message.is_some()).then(|| {
            let (rejected_log_records, error_message) = partial(&a);
            ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }
        });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

/// Serves the three OTLP services on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    receiver: GrpcReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    routes(receiver)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Serves the three OTLP services over TLS connections until `shutdown` completes.
pub async fn serve_tls(
    incoming: TlsIncoming,
    receiver: GrpcReceiver,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    routes(receiver)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

fn routes(receiver: GrpcReceiver) -> tonic::transport::server::Router {
    tonic::transport::Server::builder()
        // Traces on raw bytes (gzip, size limit and answers as the generated server's).
        .add_service(RawTraceServer::new(receiver.clone()))
        .add_service(
            MetricsServiceServer::new(receiver.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_BODY_BYTES),
        )
        .add_service(
            LogsServiceServer::new(receiver)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_BODY_BYTES),
        )
}

/// Binds `addr` (port 0 picks a free port) and returns the listener and its real address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind(addr).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}
