//! Reading capture files: OTLP/JSON lines written by `faultline record` or an OpenTelemetry
//! Collector `file` exporter (`.jsonl`, `.json`, optionally gzip-compressed), a pretty-printed
//! single request (`.json`), and OTLP protobuf files (the Collector's length-prefixed `proto`
//! format, or one bare message; trace records decoded straight to spans by `wire`). A line that cannot be read is reported with its number and the
//! rest of the file still loads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::channel::CaptureRecord;
use super::decode::DecodedSpans;
use super::{otlp_json, wire};

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
    /// A request: OTLP/JSON lines, and metrics or logs protobuf files.
    Request(CaptureRecord),
    /// A trace request of a protobuf file, decoded straight from its bytes by `wire`: the spans
    /// `decode_traces` would give, without building the `prost` tree.
    Spans(DecodedSpans),
}

/// Reads every record of `path`, calling `sink` for each in file order.
pub fn read_file(path: &Path, sink: impl FnMut(Loaded)) -> Result<ReadSummary, CaptureError> {
    read_file_with_progress(path, &|_| {}, sink)
}

/// [`read_file`], calling `progress` with the number of file bytes (compressed, for `.gz`) each
/// read consumed: what a progress bar counts against the file's size.
pub fn read_file_with_progress(
    path: &Path,
    progress: &dyn Fn(u64),
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
    let reader: Box<dyn BufRead + '_> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, raw))
    };
    read_stream(path, reader, &mut sink)
}

/// A reader that reports how many bytes each read gave.
struct Counted<'a, R> {
    inner: R,
    progress: &'a dyn Fn(u64),
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
    mut r: Box<dyn BufRead + '_>,
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
    let mut summary = ReadSummary::default();
    let mut line = Vec::new();
    let mut lineno = 0usize;
    let mut pending: Vec<u8> = Vec::new();
    loop {
        line.clear();
        let got = r.read_until(b'\n', &mut line).map_err(io)?;
        if got == 0 {
            break;
        }
        lineno += 1;
        let text = trim(&line);
        if text.is_empty() {
            continue;
        }
        match parse_record(text) {
            Ok(rec) => {
                summary.records += 1;
                sink(Loaded::Request(rec));
            }
            Err(message) => {
                if lineno == 1 && !line.ends_with(b"\n") {
                    summary.errors.push(LineError {
                        file: path.into(),
                        line: lineno,
                        message,
                        truncated: true,
                    });
                    continue;
                }
                if lineno == 1 && summary.records == 0 {
                    // Possibly one pretty-printed request spanning many lines: try the whole file.
                    pending.extend_from_slice(&line);
                    r.read_to_end(&mut pending).map_err(io)?;
                    match parse_record(trim(&pending)) {
                        Ok(rec) => {
                            summary.records += 1;
                            sink(Loaded::Request(rec));
                        }
                        Err(_) => summary.errors.push(LineError {
                            file: path.into(),
                            line: lineno,
                            message,
                            truncated: false,
                        }),
                    }
                    break;
                }
                let truncated = !line.ends_with(b"\n");
                let cut = if truncated {
                    " (the file ends mid-line)"
                } else {
                    ""
                };
                summary.errors.push(LineError {
                    file: path.into(),
                    line: lineno,
                    message: format!("{message}{cut}"),
                    truncated,
                });
            }
        }
    }
    Ok(summary)
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

/// Parses one OTLP/JSON line into a record, naming the JSON error's column.
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
            serde_json::from_slice::<ExportLogsServiceRequest>(text)
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
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, data).expect("write fixture");
        p
    }

    const LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    /// The progress a reader reports adds up to the file's size, plain and gzip-compressed
    /// (the bar counts file bytes).
    #[test]
    fn progress_adds_up_to_the_file_size() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{LINE}\n").repeat(2000);
        let plain = write(&dir, "a.jsonl", text.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let packed = write(&dir, "a.jsonl.gz", &gz.finish().unwrap());
        for p in [plain, packed] {
            let read = std::cell::Cell::new(0u64);
            let mut n = 0;
            read_file_with_progress(&p, &|b| read.set(read.get() + b), |_| n += 1).unwrap();
            assert_eq!(n, 2000);
            assert_eq!(
                read.get(),
                std::fs::metadata(&p).unwrap().len(),
                "{}",
                p.display()
            );
        }
    }

    fn count(p: &Path) -> (usize, Vec<LineError>) {
        let mut n = 0;
        let s = read_file(p, |_| n += 1).expect("readable");
        assert_eq!(n, s.records);
        (n, s.errors)
    }

    #[test]
    fn reads_lines_and_reports_cut_last_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cut = &LINE[..LINE.len() / 2];
        let p = write(&dir, "c.jsonl", format!("{LINE}\n{LINE}\n{cut}").as_bytes());
        let (n, errs) = count(&p);
        assert_eq!(n, 2);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);
        assert!(errs[0].to_string().contains("c.jsonl:3"), "{}", errs[0]);
        assert!(errs[0].message.contains("ends mid-line"));
    }

    #[test]
    fn reads_gzip_pretty_json_and_protobuf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(format!("{LINE}\n{LINE}\n").as_bytes())
            .expect("gz");
        let p = write(&dir, "c.jsonl.gz", &gz.finish().expect("gz"));
        assert_eq!(count(&p).0, 2);

        let v: serde_json::Value = serde_json::from_str(LINE).expect("json");
        let pretty = serde_json::to_string_pretty(&v).expect("json");
        let p = write(&dir, "one.json", pretty.as_bytes());
        assert_eq!(count(&p), (1, vec![]));

        let Ok(CaptureRecord::Traces(req)) = parse_record(LINE.as_bytes()) else {
            panic!("traces")
        };
        let msg = req.encode_to_vec();
        let mut framed = Vec::new();
        for _ in 0..3 {
            framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
            framed.extend_from_slice(&msg);
        }
        assert_eq!(count(&write(&dir, "t.binpb", &framed)).0, 3);
        assert_eq!(count(&write(&dir, "bare.pb", &msg)).0, 1);
    }

    #[test]
    fn protobuf_trace_records_decode_like_prost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Ok(CaptureRecord::Traces(req)) = parse_record(LINE.as_bytes()) else {
            panic!("traces")
        };
        let msg = req.encode_to_vec();
        let mut got = Vec::new();
        read_file(&write(&dir, "t.pb", &msg), |l| got.push(l)).expect("readable");
        match got.as_slice() {
            [Loaded::Spans(d)] => {
                assert_eq!(d, &crate::ingest::decode::decode_traces(&req));
                assert_eq!(d.spans.len(), 1);
            }
            other => panic!("expected one decoded trace record, got {other:?}"),
        }
        let cut = &msg[..msg.len() - 3];
        let s = read_file(&write(&dir, "cut.pb", cut), |_| {}).expect("readable");
        assert_eq!(s.records, 0);
        assert!(
            s.errors[0]
                .message
                .starts_with("invalid OTLP protobuf record: resource_spans"),
            "{}",
            s.errors[0]
        );
    }

    #[test]
    fn names_the_bad_field() {
        let bad = LINE.replace(r#""kind":3"#, r#""kind":"sideways""#);
        let e = parse_record(bad.as_bytes()).err().unwrap_or_default();
        assert!(e.contains("sideways"), "{e}");
        assert!(parse_record(b"[1,2]").is_err());
        assert!(
            parse_record(br#"{"foo":1}"#)
                .err()
                .unwrap_or_default()
                .contains("foo")
        );
    }
}
