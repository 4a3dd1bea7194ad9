//! Capture reading: formats, cut-off and corrupt lines, and the parallel reader's order.
use super::*;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, data).expect("write fixture");
    p
}

const LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

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
    let bad_log = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"zz"}]}]}]}"#;
    let e = parse_record(bad_log).err().unwrap_or_default();
    assert!(
        e.contains("resourceLogs[0].scopeLogs[0].logRecords[0].spanId: "),
        "{e}"
    );
}

/// A capture of many lines spread over several chunks: traces of varied sizes, metrics and
/// logs lines, blank lines, a corrupt line and a cut-off last line.
fn mixed_capture(dir: &tempfile::TempDir) -> PathBuf {
    let mut text = String::new();
    let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"up","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"5"}]}}]}]}]}"#;
    let logs =
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;
    for i in 0..400 {
        match i % 37 {
            5 => text.push_str(metrics),
            11 => text.push_str(logs),
            17 => {}
            23 if i == 23 => text.push_str("{\"resourceSpans\":[}"),
            _ => {
                // 1–200 spans of the corpus line's shape, so chunks hold different numbers of
                // lines.
                let n = 1 + (i * 7919) % 200;
                let span = &LINE[LINE.find("[{\"traceId").map_or(0, |p| p + 1)..LINE.len() - 6];
                let spans: Vec<String> = (0..n)
                    .map(|k| {
                        span.replace("eee19b7ec3c1b174", &format!("{:016x}", i * 1000 + k + 1))
                    })
                    .collect();
                text.push_str(&LINE.replace(span, &spans.join(",")));
            }
        }
        text.push('\n');
    }
    text.push_str(&LINE[..40]);
    write(dir, "mixed.jsonl", text.as_bytes())
}

/// What a read gave, comparable across paths: trace records as the spans `decode_traces`
/// gives, the rest as their debug form.
fn records(p: &Path, opts: ReadOptions) -> (Vec<String>, ReadSummary) {
    let mut got = Vec::new();
    let s = read_file_with(p, opts, |l| {
        got.push(match l {
            Loaded::Spans(d) => format!("{d:?}"),
            Loaded::Request(CaptureRecord::Traces(r)) => {
                format!("{:?}", crate::ingest::decode::decode_traces(&r))
            }
            Loaded::Request(other) => format!("{other:?}"),
        })
    })
    .expect("readable");
    (got, s)
}

#[test]
fn parallel_reading_gives_the_reference_records_in_file_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = mixed_capture(&dir);
    assert!(
        std::fs::metadata(&p).expect("size").len() > 3 * (1 << 20),
        "several chunks"
    );
    let (want, ws) = records(
        &p,
        ReadOptions {
            workers: 0,
            direct: false,
        },
    );
    assert!(want.len() > 350, "{}", want.len());
    let lines: Vec<(usize, bool)> = ws.errors.iter().map(|e| (e.line, e.truncated)).collect();
    assert_eq!(lines, vec![(24, false), (401, true)]);
    for workers in [0, 1, 2, 3] {
        let (got, gs) = records(
            &p,
            ReadOptions {
                workers,
                direct: true,
            },
        );
        assert_eq!(got.len(), want.len(), "{workers} workers");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "{workers} workers: record {i} differs");
        }
        assert_eq!(gs.records, ws.records);
        assert_eq!(gs.errors, ws.errors, "{workers} workers");
    }
}

#[test]
fn cut_last_line_and_corrupt_line_name_file_and_line_in_parallel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = &LINE[..LINE.len() / 2];
    let p = write(
        &dir,
        "c.jsonl",
        format!("{LINE}\n\n{LINE}\n{{\"resourceSpans\":7}}\n{LINE}\n{cut}").as_bytes(),
    );
    let mut n = 0;
    let s = read_file_with(
        &p,
        ReadOptions {
            workers: 2,
            direct: true,
        },
        |_| n += 1,
    )
    .expect("readable");
    assert_eq!((n, s.records), (3, 3));
    assert_eq!(s.errors.len(), 2);
    assert_eq!((s.errors[0].line, s.errors[0].truncated), (4, false));
    assert!(
        s.errors[0]
            .to_string()
            .starts_with(&format!("{}:4: invalid OTLP/JSON at column", p.display())),
        "{}",
        s.errors[0]
    );
    assert_eq!((s.errors[1].line, s.errors[1].truncated), (6, true));
    assert!(s.errors[1].message.contains("ends mid-line"));
}

/// The progress a reader reports adds up to the file's size, plain and gzip-compressed (the bar
/// counts file bytes), with and without parsing workers.
#[test]
fn progress_adds_up_to_the_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{LINE}\n").repeat(2000);
    let plain = write(&dir, "a.jsonl", text.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let packed = write(&dir, "a.jsonl.gz", &gz.finish().unwrap());
    for workers in [0, 2] {
        for p in [&plain, &packed] {
            let read = std::sync::atomic::AtomicU64::new(0);
            let mut n = 0;
            let opts = ReadOptions {
                workers,
                ..ReadOptions::default()
            };
            let add = |b| {
                read.fetch_add(b, std::sync::atomic::Ordering::Relaxed);
            };
            read_file_with_progress(p, opts, &add, |_| n += 1).unwrap();
            assert_eq!(n, 2000);
            assert_eq!(
                read.load(std::sync::atomic::Ordering::Relaxed),
                std::fs::metadata(p).unwrap().len(),
                "{}",
                p.display()
            );
        }
    }
}
