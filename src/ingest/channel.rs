//! The bounded hand-off between receivers and the store task (and the capture writer).
//!
//! A receiver reserves room in every consumer before it acknowledges: when the store's channel
//! (or, when recording, the writer's) is full, the request is refused with a retryable code and
//! counted, so acknowledged data always reaches the store and the capture.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::mpsc;

pub use crate::model::pipeline::{Counters, IngestMsg};

/// Default capacity of the store's ingest channel, in messages (requests).
pub const DEFAULT_CAPACITY: usize = 1024;

/// An accepted request, as the capture writer writes it (OTLP/JSON, one line each).
#[derive(Debug)]
pub enum CaptureRecord {
    /// A trace export.
    Traces(ExportTraceServiceRequest),
    /// A metrics export.
    Metrics(ExportMetricsServiceRequest),
    /// A logs export.
    Logs(ExportLogsServiceRequest),
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// A consumer's queue is full: retry later.
    #[error("faultline is at capacity, retry later")]
    Full,
    /// The store has shut down.
    #[error("faultline is shutting down")]
    Closed,
}

/// The receivers' handle: sends to the store and, when recording, to the capture writer.
#[derive(Clone, Debug)]
pub struct Ingest {
    store: mpsc::Sender<IngestMsg>,
    capture: Option<mpsc::Sender<CaptureRecord>>,
    /// Shared counters.
    pub counters: Arc<Counters>,
}

impl Ingest {
    /// A handle over the store's channel and an optional capture channel.
    pub fn new(
        store: mpsc::Sender<IngestMsg>,
        capture: Option<mpsc::Sender<CaptureRecord>>,
        counters: Arc<Counters>,
    ) -> Self {
        Ingest {
            store,
            capture,
            counters,
        }
    }

    /// Sends a message to the store only (not to the capture): source health and the like.
    /// Never waits; a full channel refuses it (and counts it).
    pub fn notify(&self, msg: IngestMsg) -> Result<(), Refused> {
        self.store.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                Counters::add(&self.counters.refused_full, 1);
                Refused::Full
            }
            mpsc::error::TrySendError::Closed(_) => Refused::Closed,
        })
    }

    /// Whether accepted requests also go to a capture writer (which needs them as request
    /// trees, for their OTLP/JSON lines).
    pub fn is_recording(&self) -> bool {
        self.capture.is_some()
    }

    /// Hands one accepted request to the store (and the capture writer), or refuses it without
    /// side effects when either is full.
    pub fn submit(
        &self,
        msg: IngestMsg,
        record: impl FnOnce() -> CaptureRecord,
    ) -> Result<(), Refused> {
        let map = |e: mpsc::error::TrySendError<()>| match e {
            mpsc::error::TrySendError::Full(()) => Refused::Full,
            mpsc::error::TrySendError::Closed(()) => Refused::Closed,
        };
        let store_permit = self.store.try_reserve().map_err(map);
        let capture_permit = self.capture.as_ref().map(|c| c.try_reserve().map_err(map));
        let result = match (store_permit, capture_permit) {
            (Ok(sp), None) => {
                sp.send(msg);
                Ok(())
            }
            (Ok(sp), Some(Ok(cp))) => {
                cp.send(record());
                sp.send(msg);
                Ok(())
            }
            (Err(e), _) | (_, Some(Err(e))) => Err(e),
        };
        if result == Err(Refused::Full) {
            Counters::add(&self.counters.refused_full, 1);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_when_full_and_counts() {
        let (tx, mut rx) = mpsc::channel(1);
        let ingest = Ingest::new(tx, None, Arc::default());
        assert_eq!(
            ingest.submit(IngestMsg::Logs(Vec::new()), unreachable_record),
            Ok(())
        );
        assert_eq!(
            ingest.submit(IngestMsg::Logs(Vec::new()), unreachable_record),
            Err(Refused::Full)
        );
        assert_eq!(Counters::get(&ingest.counters.refused_full), 1);
        assert!(matches!(rx.recv().await, Some(IngestMsg::Logs(_))));
    }

    #[tokio::test]
    async fn full_capture_refuses_without_sending_to_store() {
        let (tx, mut rx) = mpsc::channel(4);
        let (ctx, _crx) = mpsc::channel(1);
        let ingest = Ingest::new(tx, Some(ctx), Arc::default());
        let rec = || CaptureRecord::Logs(ExportLogsServiceRequest::default());
        assert_eq!(ingest.submit(IngestMsg::Logs(Vec::new()), rec), Ok(()));
        assert_eq!(
            ingest.submit(IngestMsg::Logs(Vec::new()), rec),
            Err(Refused::Full)
        );
        assert!(matches!(rx.recv().await, Some(IngestMsg::Logs(_))));
        assert!(
            rx.try_recv().is_err(),
            "refused data must not reach the store"
        );
    }

    fn unreachable_record() -> CaptureRecord {
        CaptureRecord::Logs(ExportLogsServiceRequest::default())
    }
}
