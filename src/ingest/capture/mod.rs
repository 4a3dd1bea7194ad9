//! Reading capture files: OTLP/JSON lines written by `faultline record` or an OpenTelemetry
//! Collector `file` exporter (`.jsonl`, `.json`, optionally gzip-compressed), a pretty-printed
//! single request (`.json`), and OTLP protobuf files (the Collector's length-prefixed `proto`
//! format, or one bare message). Trace records are decoded straight to model spans (`json` for
//! OTLP/JSON lines, `wire` for protobuf), JSON lines on worker threads while the caller takes
//! them in file order (`lines`). A line that cannot be read is reported with its number and the
//! rest of the file still loads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::channel::CaptureRecord;
use super::decode::DecodedSpans;
use super::{json, otlp_json, wire};

mod lines;

/// A problem with one line (or record) of a capture file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{}:{line}: {message}", file.display())]
pub struct LineError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (or record) number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
    /// The file ends inside this line (a recorder that was killed): the rest of the file is whole.
    pub truncated: bool,
}

/// Why a capture file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What reading one file gave.
#[derive(Debug, Default)]
pub struct ReadSummary {
    /// Records read.
    pub records: usize,
    /// Lines that could not be read (the rest were).
    pub errors: Vec<LineError>,
}

/// One record of a capture file, as the reader hands it over.
#[derive(Debug)]
pub enum Loaded {
    /// A request tree: metrics and logs (JSON lines or protobuf files), and trace lines when
    /// read by the reference path (`ReadOptions::direct` off).
    Request(CaptureRecord),
    /// A trace request decoded straight to model spans (`json` for OTLP/JSON lines, `wire` for
    /// protobuf): the spans `decode_traces` would give, without building the
    /// `opentelemetry-proto` tree.
    Spans(DecodedSpans),
}

/// How a capture is read.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Threads parsing OTLP/JSON lines while the caller's thread takes the records in file order;
    /// 0 parses on the caller's thread.
    pub workers: usize,
    /// Trace lines decoded straight to model spans ([`json::decode`], [`Loaded::Spans`]); `false`
    /// builds the `opentelemetry-proto` tree ([`Loaded::Request`]) as before: the reference path,
    /// for benches and tests.
    pub direct: bool,
}

impl Default for ReadOptions {
    /// Direct decoding on one worker per core.
    fn default() -> Self {
        ReadOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            direct: true,
        }
    }
}

/// Reads every record of `path`, calling `sink` for each in file order.
pub fn read_file(path: &Path, sink: impl FnMut(Loaded)) -> Result<ReadSummary, CaptureError> {
    read_file_with(path, ReadOptions::default(), sink)
}

/// [`read_file`] with explicit options. Records reach `sink` in file order whatever the number
/// of workers, so a replay is the same every time.
pub fn read_file_with(
    path: &Path,
    opts: ReadOptions,
    sink: impl FnMut(Loaded),
) -> Result<ReadSummary, CaptureError> {
    read_file_with_progress(path, opts, &|_| {}, sink)
}

/// [`read_file_with`], calling `progress` with the number of file bytes (compressed, for
/// `.gz`) each read consumed: what a progress bar counts against the file's size. The reading
/// may happen on another thread, so `progress` must be `Sync`.
pub fn read_file_with_progress(
    path: &Path,
    opts: ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
    mut sink: impl FnMut(Loaded),
) -> Result<ReadSummary, CaptureError> {
    let io = |source| CaptureError::Io {
        file: path.into(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    drop(file);
    let raw = Counted {
        inner: File::open(path).map_err(io)?,
        progress,
    };
    let reader: Box<dyn BufRead + Send + '_> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, raw))
    };
    read_stream(path, reader, opts, &mut sink)
}

/// A reader that reports how many bytes each read gave.
struct Counted<'a, R> {
    inner: R,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn read_stream(
    path: &Path,
    mut r: Box<dyn BufRead + Send + '_>,
    opts: ReadOptions,
    sink: &mut dyn FnMut(Loaded),
) -> Result<ReadSummary, CaptureError> {
    let io = |source| CaptureError::Io {
        file: path.into(),
        source,
    };
    let first = r.fill_buf().map_err(io)?;
    let is_json = first
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b == b'{');
    if !is_json {
        let mut all = Vec::new();
        r.read_to_end(&mut all).map_err(io)?;
        return Ok(read_protobuf(path, &all, sink));
    }
    lines::read(path, r, opts, sink)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The first key of a JSON object, to tell traces, metrics and logs apart without parsing twice.
fn first_key(b: &[u8]) -> Option<&[u8]> {
    let rest = trim(b).strip_prefix(b"{")?;
    let rest = trim(rest).strip_prefix(b"\"")?;
    let end = rest.iter().position(|c| *c == b'"')?;
    Some(&rest[..end])
}

/// Parses one OTLP/JSON line: trace requests straight to spans ([`json::decode`]), metrics and
/// logs into their request trees. Errors name the JSON error's column.
pub fn parse_line(text: &[u8]) -> Result<Loaded, String> {
    match first_key(text) {
        Some(b"resourceSpans" | b"resource_spans") => json::decode(text)
            .map(Loaded::Spans)
            .map_err(|e| format!("invalid OTLP/JSON at column {}: {e}", e.column())),
        _ => parse_record(text).map(Loaded::Request),
    }
}

/// Parses one OTLP/JSON line into a request tree, naming the JSON error's column (traces through
/// `otlp_json`: the reference for [`parse_line`]).
pub fn parse_record(text: &[u8]) -> Result<CaptureRecord, String> {
    let describe =
        |e: serde_json::Error| format!("invalid OTLP/JSON at column {}: {e}", e.column());
    match first_key(text) {
        Some(b"resourceSpans" | b"resource_spans") => otlp_json::parse_traces(text)
            .map(CaptureRecord::Traces)
            .map_err(describe),
        Some(b"resourceMetrics" | b"resource_metrics") => {
            serde_json::from_slice::<ExportMetricsServiceRequest>(text)
                .map(CaptureRecord::Metrics)
                .map_err(describe)
        }
        Some(b"resourceLogs" | b"resource_logs") => {
            crate::ingest::decode_logs::parse_logs_json(text)
                .map(CaptureRecord::Logs)
                .map_err(describe)
        }
        Some(k) => Err(format!(
            "expected an object with resourceSpans, resourceMetrics or resourceLogs, found \"{}\"",
            String::from_utf8_lossy(k)
        )),
        None => match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
            Err(e) => Err(describe(e)),
            Ok(_) => Err(
                "expected a JSON object with resourceSpans, resourceMetrics or resourceLogs".into(),
            ),
        },
    }
}

/// Protobuf captures: the Collector's `proto` format (each message prefixed by a 4-byte
/// big-endian length) or one bare message. Traces are assumed unless the name says metrics/logs.
fn read_protobuf(path: &Path, all: &[u8], sink: &mut dyn FnMut(Loaded)) -> ReadSummary {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let decode = |b: &[u8]| -> Result<Loaded, String> {
        if name.contains("metric") {
            ExportMetricsServiceRequest::decode(b)
                .map(|r| Loaded::Request(CaptureRecord::Metrics(r)))
                .map_err(|e| e.to_string())
        } else if name.contains("log") {
            ExportLogsServiceRequest::decode(b)
                .map(|r| Loaded::Request(CaptureRecord::Logs(r)))
                .map_err(|e| e.to_string())
        } else {
            wire::decode(b)
                .map(Loaded::Spans)
                .map_err(|e| e.to_string())
        }
    };
    let mut summary = ReadSummary::default();
    let mut frames = Vec::new();
    let mut at = 0usize;
    while at + 4 <= all.len() {
        let len = u32::from_be_bytes([all[at], all[at + 1], all[at + 2], all[at + 3]]) as usize;
        if at + 4 + len > all.len() {
            break;
        }
        frames.push(&all[at + 4..at + 4 + len]);
        at += 4 + len;
    }
    let framed = at == all.len() && !frames.is_empty();
    if !framed {
        frames = vec![all];
    }
    for (i, f) in frames.into_iter().enumerate() {
        match decode(f) {
            Ok(rec) => {
                summary.records += 1;
                sink(rec);
            }
            Err(e) => summary.errors.push(LineError {
                file: path.into(),
                line: i + 1,
                message: format!("invalid OTLP protobuf record: {e}"),
                truncated: false,
            }),
        }
    }
    summary
}

#[cfg(test)]
mod tests;
