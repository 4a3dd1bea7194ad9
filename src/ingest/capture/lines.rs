//! OTLP/JSON lines: parsed on worker threads, handed to the caller in file order.
//!
//! A reader thread cuts the stream (decompressing it when gzip) into chunks of whole lines and
//! deals them to the workers in turn; the caller takes the parsed chunks back in the same turn,
//! so records reach it in file order however the threads run, and what it applies (the store)
//! stays on its own thread. Channels hold at most two chunks per worker, so memory stays
//! bounded whatever the file's size. With no worker, lines are parsed on the caller's thread.
//! Hand-written on `std` threads and channels: dealing in turn keeps the order without a
//! reordering buffer, and no pool crate is needed for that.

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{
    CaptureError, LineError, Loaded, ReadOptions, ReadSummary, parse_line, parse_record, trim,
};

/// Bytes of lines per chunk (a chunk holds at least one line).
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks waiting in each channel.
const QUEUE: usize = 2;

/// Reads the lines of `r` (an OTLP/JSON capture) into `sink`.
pub(super) fn read(
    path: &Path,
    mut r: Box<dyn BufRead + Send + '_>,
    opts: ReadOptions,
    sink: &mut dyn FnMut(Loaded),
) -> Result<ReadSummary, CaptureError> {
    let io = |source| CaptureError::Io {
        file: path.into(),
        source,
    };
    let mut summary = ReadSummary::default();
    // Line 1 here: when it is not a request, the file may be one pretty-printed request.
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line).map_err(io)? == 0 {
        return Ok(summary);
    }
    let text = trim(&line);
    if !text.is_empty() {
        match parse(text, opts.direct) {
            Ok(rec) => {
                summary.records += 1;
                sink(rec);
            }
            Err(message) if !line.ends_with(b"\n") => {
                summary.errors.push(LineError {
                    file: path.into(),
                    line: 1,
                    message,
                    truncated: true,
                });
                return Ok(summary);
            }
            Err(message) => {
                let mut all = line;
                r.read_to_end(&mut all).map_err(io)?;
                match parse(trim(&all), opts.direct) {
                    Ok(rec) => {
                        summary.records += 1;
                        sink(rec);
                    }
                    Err(_) => summary.errors.push(LineError {
                        file: path.into(),
                        line: 1,
                        message,
                        truncated: false,
                    }),
                }
                return Ok(summary);
            }
        }
    }
    let mut take = |parsed: Result<Loaded, LineError>| match parsed {
        Ok(rec) => {
            summary.records += 1;
            sink(rec);
        }
        Err(e) => summary.errors.push(e),
    };
    if opts.workers == 0 {
        let mut lineno = 1;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).map_err(io)? == 0 {
                break;
            }
            lineno += 1;
            if let Some(parsed) = parse_numbered(path, lineno, &line, opts.direct) {
                take(parsed);
            }
        }
    } else {
        parallel(path, r, opts, &mut take).map_err(io)?;
    }
    Ok(summary)
}

/// Line 2 on, parsed on `opts.workers` threads, handed to `take` in order.
fn parallel(
    path: &Path,
    r: Box<dyn BufRead + Send + '_>,
    opts: ReadOptions,
    take: &mut dyn FnMut(Result<Loaded, LineError>),
) -> std::io::Result<()> {
    let n = opts.workers;
    std::thread::scope(|s| {
        let mut jobs: Vec<SyncSender<Chunk>> = Vec::with_capacity(n);
        let mut results: Vec<Receiver<Vec<Result<Loaded, LineError>>>> = Vec::with_capacity(n);
        for _ in 0..n {
            let (job_tx, job_rx) = sync_channel::<Chunk>(QUEUE);
            let (res_tx, res_rx) = sync_channel(QUEUE);
            jobs.push(job_tx);
            results.push(res_rx);
            s.spawn(move || {
                for chunk in job_rx {
                    let parsed = chunk.parse(path, opts.direct);
                    if res_tx.send(parsed).is_err() {
                        break;
                    }
                }
            });
        }
        let reader = s.spawn(move || deal(r, jobs));
        // Chunk k went to worker k % n; once one has none, there are no more.
        'chunks: for k in 0.. {
            let Ok(parsed) = results[k % n].recv() else {
                break 'chunks;
            };
            parsed.into_iter().for_each(&mut *take);
        }
        drop(results);
        reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Lines of the stream, from line 2 on, with their numbers.
struct Chunk {
    buf: Vec<u8>,
    /// Line number, and where the line is in `buf`.
    lines: Vec<(usize, usize, usize)>,
}

impl Chunk {
    fn parse(&self, path: &Path, direct: bool) -> Vec<Result<Loaded, LineError>> {
        self.lines
            .iter()
            .filter_map(|&(no, a, b)| parse_numbered(path, no, &self.buf[a..b], direct))
            .collect()
    }
}

/// The reader thread: cuts `r` into chunks and deals them to the workers in turn.
fn deal(mut r: Box<dyn BufRead + Send + '_>, jobs: Vec<SyncSender<Chunk>>) -> std::io::Result<()> {
    let mut lineno = 1;
    for k in 0.. {
        let mut chunk = Chunk {
            buf: Vec::with_capacity(CHUNK_BYTES + (CHUNK_BYTES >> 2)),
            lines: Vec::new(),
        };
        while chunk.buf.len() < CHUNK_BYTES {
            let start = chunk.buf.len();
            if r.read_until(b'\n', &mut chunk.buf)? == 0 {
                break;
            }
            lineno += 1;
            chunk.lines.push((lineno, start, chunk.buf.len()));
        }
        if chunk.lines.is_empty() || jobs[k % jobs.len()].send(chunk).is_err() {
            break;
        }
    }
    Ok(())
}

/// Line `lineno` (raw, with its newline if it has one): `None` when blank.
fn parse_numbered(
    path: &Path,
    lineno: usize,
    line: &[u8],
    direct: bool,
) -> Option<Result<Loaded, LineError>> {
    let text = trim(line);
    if text.is_empty() {
        return None;
    }
    Some(parse(text, direct).map_err(|message| {
        let truncated = !line.ends_with(b"\n");
        let cut = if truncated {
            " (the file ends mid-line)"
        } else {
            ""
        };
        LineError {
            file: path.into(),
            line: lineno,
            message: format!("{message}{cut}"),
            truncated,
        }
    }))
}

fn parse(text: &[u8], direct: bool) -> Result<Loaded, String> {
    if direct {
        parse_line(text)
    } else {
        parse_record(text).map(Loaded::Request)
    }
}
