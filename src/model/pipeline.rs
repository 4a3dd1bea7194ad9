//! What ingest hands to the store, and the counters both sides share: owned by the model so
//! that `ingest` and `store` depend on it and never on each other.

use std::sync::atomic::{AtomicU64, Ordering};

use super::log::LogRecord;
use super::series::{SeriesPoint, SourceStatus};
use super::span::Span;

/// What receivers hand to the store.
#[derive(Debug)]
pub enum IngestMsg {
    /// Decoded spans of one request.
    Spans(Vec<Span>),
    /// Decoded metric points of one request (OTLP, a scrape, or a PromQL answer).
    Metrics(Vec<SeriesPoint>),
    /// The health of a metric source after an attempt (scrape target, PromQL server).
    Source(SourceStatus),
    /// Decoded log records of one request.
    Logs(Vec<LogRecord>),
    /// The latest per-dependency traffic from service-graph / span-metrics series
    /// (`ingest::fleet`), with its age and last error.
    Fleet(std::sync::Arc<super::fleet::FleetTable>),
}

/// Counters shared by receivers, the store and the front ends.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests accepted.
    pub requests: AtomicU64,
    /// Spans accepted.
    pub spans: AtomicU64,
    /// Spans rejected as invalid (partial success).
    pub spans_rejected: AtomicU64,
    /// Metric data points accepted.
    pub metric_points: AtomicU64,
    /// Log records accepted.
    pub log_records: AtomicU64,
    /// Requests refused because a consumer was full (retryable; the sender retries).
    pub refused_full: AtomicU64,
    /// Requests refused as malformed, too large or of the wrong type.
    pub bad_requests: AtomicU64,
    /// Capture lines written.
    pub capture_lines: AtomicU64,
    /// Capture write failures.
    pub capture_errors: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
