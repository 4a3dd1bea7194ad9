//! Accepting one decoded export request: model conversion, counting, hand-off. Shared by the
//! gRPC and HTTP receivers so both transports behave the same.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::channel::{CaptureRecord, Counters, Ingest, IngestMsg, Refused};
use super::decode::{decode_traces, retain_valid_spans};
use super::decode_logs::decode_logs;
use super::decode_metrics::decode_metrics;
use crate::model::clock::now_unix_ns;

/// The outcome of an accepted request, for OTLP's partial-success response.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Items rejected as invalid (spans, data points or log records).
    pub rejected: u64,
    /// Why, when `rejected > 0`.
    pub message: Option<String>,
}

/// Accepts a trace export: decodes to model spans and hands them (and the request, when
/// recording) on. Invalid spans are rejected individually (partial success).
pub fn accept_traces(
    ingest: &Ingest,
    mut req: ExportTraceServiceRequest,
) -> Result<Accepted, Refused> {
    let decoded = decode_traces(&req);
    if decoded.rejected > 0 {
        retain_valid_spans(&mut req);
    }
    accept_spans(ingest, decoded, || CaptureRecord::Traces(req))
}

/// Why an OTLP/JSON trace export was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum JsonTraceError {
    /// The body is not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("invalid OTLP/JSON payload: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A consumer is full or closing.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// Accepts an OTLP/JSON trace export (the OTLP/HTTP body): decoded straight into model spans
/// by [`json::decode`](super::json::decode), or, when recording, into the request tree the
/// capture writer needs (`otlp_json`) and from it (one parse either way). The spans are the
/// same both ways.
pub fn accept_json_traces(ingest: &Ingest, body: &[u8]) -> Result<Accepted, JsonTraceError> {
    if ingest.is_recording() {
        let req = super::otlp_json::parse_traces(body)?;
        return Ok(accept_traces(ingest, req)?);
    }
    let spans = super::json::decode(body)?;
    // Not recording: `submit` never asks for the record.
    Ok(accept_spans(ingest, spans, || {
        CaptureRecord::Traces(ExportTraceServiceRequest::default())
    })?)
}

/// Accepts a metrics export: decodes it into series points for the store (and hands the
/// request to the capture writer when recording). Scrapes and PromQL answers come this way
/// too, converted to OTLP first, so they are recorded like any export.
pub fn accept_metrics(
    ingest: &Ingest,
    req: ExportMetricsServiceRequest,
) -> Result<Accepted, Refused> {
    let decoded = decode_metrics(&req, now_unix_ns());
    let points = decoded.len() as u64;
    ingest.submit(IngestMsg::Metrics(decoded), || CaptureRecord::Metrics(req))?;
    Counters::add(&ingest.counters.requests, 1);
    Counters::add(&ingest.counters.metric_points, points);
    Ok(Accepted::default())
}

/// Accepts a logs export: decodes it into model log records for the store (and hands the
/// request to the capture writer when recording). No record is rejected; a record with a bad id
/// is kept without it and the first such problem is returned as a warning (partial success
/// with 0 rejected, as OTLP allows).
pub fn accept_logs(ingest: &Ingest, req: ExportLogsServiceRequest) -> Result<Accepted, Refused> {
    let decoded = decode_logs(&req);
    let records = decoded.records.len() as u64;
    ingest.submit(IngestMsg::Logs(decoded.records), || {
        CaptureRecord::Logs(req)
    })?;
    Counters::add(&ingest.counters.requests, 1);
    Counters::add(&ingest.counters.log_records, records);
    Ok(Accepted {
        rejected: 0,
        message: decoded.warning,
    })
}

/// Number of data points in a metrics export.
pub fn metric_points(req: &ExportMetricsServiceRequest) -> u64 {
    req.resource_metrics
        .iter()
        .flat_map(|r| r.scope_metrics.iter())
        .flat_map(|s| s.metrics.iter())
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        } as u64)
        .sum()
}

/// Why a protobuf trace export was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TraceExportError {
    /// The bytes are not an `ExportTraceServiceRequest`.
    #[error("invalid protobuf payload: {0}")]
    Malformed(#[from] super::wire::WireError),
    /// The bytes decoded, but not with `prost` for the capture: the two decoders disagree
    /// (a bug; the request is refused rather than recorded wrong).
    #[error("invalid protobuf payload: {0}")]
    MalformedForCapture(prost::DecodeError),
    /// A consumer is full or closing.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// A trace export decoded from protobuf bytes: model spans, and the `prost` request tree only
/// when recording (the capture writer needs it for its JSON line).
#[derive(Debug)]
pub struct ProtobufTraces {
    /// The spans, as `decode_traces` would give them.
    pub spans: super::decode::DecodedSpans,
    /// The request without its rejected spans, when recording.
    pub request: Option<ExportTraceServiceRequest>,
}

/// Decodes a protobuf trace export straight into model spans with
/// [`wire::decode`](super::wire::decode); builds the `prost` tree only when `recording`.
pub fn decode_protobuf_traces(
    body: &[u8],
    recording: bool,
) -> Result<ProtobufTraces, TraceExportError> {
    let spans = super::wire::decode(body)?;
    let request = match recording {
        true => {
            let mut req = <ExportTraceServiceRequest as prost::Message>::decode(body)
                .map_err(TraceExportError::MalformedForCapture)?;
            if spans.rejected > 0 {
                retain_valid_spans(&mut req);
            }
            Some(req)
        }
        false => None,
    };
    Ok(ProtobufTraces { spans, request })
}

/// Accepts a trace export decoded by [`decode_protobuf_traces`] (with `ingest.is_recording()`).
pub fn accept_decoded_traces(ingest: &Ingest, t: ProtobufTraces) -> Result<Accepted, Refused> {
    let request = t.request;
    // `submit` asks for the record only when recording, and then `request` is `Some`.
    accept_spans(ingest, t.spans, move || {
        CaptureRecord::Traces(request.unwrap_or_default())
    })
}

/// Accepts a trace export given as protobuf bytes (the OTLP/HTTP body): decoded straight into
/// model spans, the `prost` tree built only when recording.
pub fn accept_protobuf_traces(ingest: &Ingest, body: &[u8]) -> Result<Accepted, TraceExportError> {
    let t = decode_protobuf_traces(body, ingest.is_recording())?;
    Ok(accept_decoded_traces(ingest, t)?)
}

/// Hands decoded spans on (with the request for the capture, when recording) and counts them.
/// Invalid spans were rejected individually (partial success).
fn accept_spans(
    ingest: &Ingest,
    decoded: super::decode::DecodedSpans,
    record: impl FnOnce() -> CaptureRecord,
) -> Result<Accepted, Refused> {
    let n = decoded.spans.len() as u64;
    ingest.submit(IngestMsg::Spans(decoded.spans), record)?;
    let c = &ingest.counters;
    Counters::add(&c.requests, 1);
    Counters::add(&c.spans, n);
    Counters::add(&c.spans_rejected, decoded.rejected);
    Ok(Accepted {
        rejected: decoded.rejected,
        message: decoded.error,
    })
}
