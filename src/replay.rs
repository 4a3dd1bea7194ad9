//! Replaying capture files into a store: what `report`, `lint` and `review` start from. The same
//! decode and store code as the live receivers, so a capture gives the snapshots it gave live.

use std::path::{Path, PathBuf};

use crate::ingest::capture::{self, CaptureError, LineError, Loaded, ReadOptions};
use crate::ingest::channel::CaptureRecord;
use crate::ingest::decode::{DecodedSpans, decode_traces};
use crate::ingest::decode_logs::decode_logs;
use crate::ingest::decode_metrics::decode_metrics;
use crate::store::{Snapshot, Store, StoreConfig};

/// Why a replay failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A file has unreadable lines that are not a cut-off end (corruption, not a killed recorder).
    #[error("{first}{}", if *.count > 1 { format!(" (and {} more bad lines)", .count - 1) } else { String::new() })]
    Corrupt {
        /// The first bad line.
        first: LineError,
        /// How many bad lines there are.
        count: usize,
    },
    /// A file held no readable record.
    #[error("{}: no readable OTLP record ({first})", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
        /// The first problem found, naming its line.
        first: String,
    },
}

/// What a replay loaded.
#[derive(Debug)]
pub struct Replay {
    /// The store with everything applied and every pending call resolved.
    pub store: Store,
    /// Lines that could not be read (the rest loaded).
    pub warnings: Vec<LineError>,
    /// Records read.
    pub records: usize,
    /// Spans rejected as invalid while decoding.
    pub rejected_spans: u64,
}

/// Loads `files` in order into a store built with `cfg`.
pub fn load(files: &[impl AsRef<Path>], cfg: StoreConfig) -> Result<Replay, ReplayError> {
    load_with(files, cfg, ReadOptions::default(), &|_| {})
}

/// The bytes [`load_with_progress`] will report: the files' sizes (unreadable ones count 0).
pub fn total_bytes(files: &[impl AsRef<Path>]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// [`load`], calling `progress` with each chunk of file bytes read (see [`total_bytes`]).
pub fn load_with_progress(
    files: &[impl AsRef<Path>],
    cfg: StoreConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Replay, ReplayError> {
    load_with(files, cfg, ReadOptions::default(), progress)
}

/// [`load`] with explicit read options (workers, direct or reference decoding) and a progress
/// callback. Records are applied in file order whatever the options, so the result is the same.
pub fn load_with(
    files: &[impl AsRef<Path>],
    cfg: StoreConfig,
    opts: ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Replay, ReplayError> {
    let mut store = Store::new(cfg);
    let mut warnings = Vec::new();
    let mut records = 0usize;
    let mut rejected = 0u64;
    let mut clock = 0u64;
    for file in files {
        let file = file.as_ref();
        let summary = capture::read_file_with_progress(file, opts, progress, |loaded| {
            clock += 1;
            store.counters_mut().requests += 1;
            let rec = match loaded {
                Loaded::Request(rec) => rec,
                // Trace records come decoded (no opentelemetry-proto tree).
                Loaded::Spans(d) => {
                    rejected += apply_spans(&mut store, d, clock);
                    return;
                }
            };
            let c = store.counters_mut();
            match rec {
                CaptureRecord::Traces(req) => {
                    rejected += apply_spans(&mut store, decode_traces(&req), clock);
                }
                // Points without a time get the newest time seen so far (there is no clock).
                CaptureRecord::Metrics(req) => {
                    let now = store.metrics().range.1;
                    store.apply_metrics(decode_metrics(&req, now));
                }
                // Logs arrive at `clock` like spans, so they join their traces the same way.
                CaptureRecord::Logs(req) => {
                    let d = decode_logs(&req);
                    c.log_records += d.records.len() as u64;
                    store.apply_logs(d.records, clock);
                }
            }
        })?;
        if summary.records == 0
            && let Some(first) = summary.errors.first()
        {
            return Err(ReplayError::Empty {
                file: file.into(),
                first: first.to_string(),
            });
        }
        records += summary.records;
        warnings.extend(summary.errors);
    }
    store.flush_pending();
    Ok(Replay {
        store,
        warnings,
        records,
        rejected_spans: rejected,
    })
}

/// Applies decoded spans at `clock`, counting them; returns how many were rejected.
fn apply_spans(store: &mut Store, d: DecodedSpans, clock: u64) -> u64 {
    let c = store.counters_mut();
    c.spans += d.spans.len() as u64;
    c.spans_rejected += d.rejected;
    store.apply(d.spans, clock);
    d.rejected
}

impl Replay {
    /// Fails when a line other than a cut-off last line could not be read: `report` and `lint`
    /// must not pass on a corrupt capture. A cut-off last line is only a warning.
    pub fn check_clean(&self) -> Result<(), ReplayError> {
        let mut bad = self.warnings.iter().filter(|w| !w.truncated);
        match bad.next() {
            Some(first) => Err(ReplayError::Corrupt {
                first: first.clone(),
                count: 1 + bad.count(),
            }),
            None => Ok(()),
        }
    }

    /// A snapshot as of the newest data.
    pub fn snapshot(&mut self) -> Snapshot {
        self.store.snapshot(None)
    }
}
