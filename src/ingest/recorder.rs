//! The capture writer: every accepted request as one line of OTLP/JSON, the OpenTelemetry
//! Collector `file` exporter's format. Lines are whole; the file is flushed at least every second
//! and when the channel closes (shutdown), so a crash loses at most the last second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::channel::{CaptureRecord, Counters};

/// Capacity of the writer's channel, in requests.
pub const CAPTURE_CAPACITY: usize = 1024;

/// Why the capture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be created or written.
    #[error("cannot write capture {path}: {source}")]
    Io {
        /// The capture file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The writer task; it returns once everything sent to it is written and flushed.
pub type WriterHandle = tokio::task::JoinHandle<Result<(), RecordError>>;

/// Serializes one record as a JSON line (without the newline).
pub fn to_json_line(rec: &CaptureRecord) -> serde_json::Result<Vec<u8>> {
    match rec {
        CaptureRecord::Traces(r) => serde_json::to_vec(r),
        CaptureRecord::Metrics(r) => serde_json::to_vec(r),
        CaptureRecord::Logs(r) => serde_json::to_vec(r),
    }
}

/// Opens `path` for writing (truncating) and returns the writer task's input channel and join
/// handle. The task ends, flushed, when every sender is dropped.
/// When `close` turns true the channel is closed to new records and drained.
pub fn start(
    path: &Path,
    counters: Arc<Counters>,
    close: tokio::sync::watch::Receiver<bool>,
) -> Result<(mpsc::Sender<CaptureRecord>, WriterHandle), RecordError> {
    let file = std::fs::File::create(path).map_err(|source| RecordError::Io {
        path: path.into(),
        source,
    })?;
    let (tx, rx) = mpsc::channel(CAPTURE_CAPACITY);
    let path = path.to_path_buf();
    let handle = tokio::spawn(async move {
        run(rx, std::io::BufWriter::new(file), &path, &counters, close).await
    });
    Ok((tx, handle))
}

/// Writes records as they come and flushes every second and at the end. Writes go to a local
/// buffered file and are short, so they run on the task itself.
async fn run(
    mut rx: mpsc::Receiver<CaptureRecord>,
    mut out: std::io::BufWriter<std::fs::File>,
    path: &Path,
    counters: &Counters,
    mut close: tokio::sync::watch::Receiver<bool>,
) -> Result<(), RecordError> {
    let io = |source| RecordError::Io {
        path: path.into(),
        source,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut closing = false;
    loop {
        tokio::select! {
            _ = close.wait_for(|c| *c), if !closing => {
                rx.close();
                closing = true;
            }
            rec = rx.recv() => match rec {
                Some(rec) => match to_json_line(&rec) {
                    Ok(mut line) => {
                        line.push(b'\n');
                        out.write_all(&line).map_err(io)?;
                        Counters::add(&counters.capture_lines, 1);
                    }
                    Err(e) => {
                        Counters::add(&counters.capture_errors, 1);
                        tracing::error!("capture: cannot serialize a request: {e}");
                    }
                },
                None => break,
            },
            _ = tick.tick() => out.flush().map_err(io)?,
        }
    }
    out.flush().map_err(io)?;
    out.get_ref().sync_data().map_err(io)
}
