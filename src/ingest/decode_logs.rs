//! OTLP log records (the `prost` tree of protobuf bodies, OTLP/JSON bodies and capture lines
//! alike) → [`LogRecord`]s. Wire types stop here. The bounds are the spans' (`bounds`: 128
//! attributes, 4 KiB attribute strings, nesting depth 8) plus [`MAX_BODY_BYTES`] for the body.
//!
//! Ids follow the OTLP rule for logs: a record whose trace or span id is empty, all zero or of
//! the wrong length is kept but not tied to a trace or span; a wrong length is reported back
//! (partial success with 0 rejected: a warning naming the record and the field).

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1 as pl;

use super::bounds::{self, Interner};
use super::decode::{attrs, resource, value};
use crate::model::attrs::{AttrsBuilder, Text};
use crate::model::log::{LogRecord, SEVERITY_MAX};
use crate::model::span::SpanId;

/// Longest body kept, in bytes; longer bodies are cut at a char boundary.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The log records of one request, plus the first problem found in it.
#[derive(Debug, Default, PartialEq)]
pub struct DecodedLogs {
    /// Every record (none is rejected: bad ids are dropped from the record, not the record).
    pub records: Vec<LogRecord>,
    /// The first problem found, naming the record and the field (for the partial-success
    /// message; a warning, the record is kept).
    pub warning: Option<String>,
    /// Records with a problem.
    pub warnings: u64,
}

/// Number of log records in a logs export.
pub fn log_records(req: &ExportLogsServiceRequest) -> u64 {
    req.resource_logs
        .iter()
        .flat_map(|r| r.scope_logs.iter())
        .map(|s| s.log_records.len() as u64)
        .sum()
}

/// Parses an OTLP/JSON logs export (HTTP bodies, capture lines). When it does not parse, the
/// error names the record and the field when it can
/// (`resourceLogs[0].scopeLogs[0].logRecords[2].traceId: Invalid character 'x' at position 0`).
pub fn parse_logs_json(body: &[u8]) -> Result<ExportLogsServiceRequest, serde_json::Error> {
    serde_json::from_slice(body).map_err(|e| match locate(body) {
        Some(path) => <serde_json::Error as serde::de::Error>::custom(format!("{path}: {e}")),
        None => e,
    })
}

/// The path of the first part of a logs export that does not parse, by parsing it again part by
/// part (only on failure: a bad request, not the hot path).
fn locate(body: &[u8]) -> Option<String> {
    use serde_json::Value;
    fn bad<T: serde::de::DeserializeOwned>(v: &Value) -> bool {
        serde_json::from_value::<T>(v.clone()).is_err()
    }
    // A list under its camelCase or snake_case name (both parse).
    fn items<'a>(v: &'a Value, keys: [&str; 2]) -> &'a [Value] {
        keys.iter()
            .find_map(|k| v.get(k).and_then(Value::as_array))
            .map_or(&[], Vec::as_slice)
    }
    let root: Value = serde_json::from_slice(body).ok()?;
    let rls = items(&root, ["resourceLogs", "resource_logs"]);
    for (i, rl) in rls.iter().enumerate() {
        if !bad::<pl::ResourceLogs>(rl) {
            continue;
        }
        let at = format!("resourceLogs[{i}]");
        let sls = items(rl, ["scopeLogs", "scope_logs"]);
        for (j, sl) in sls.iter().enumerate() {
            if !bad::<pl::ScopeLogs>(sl) {
                continue;
            }
            let at = format!("{at}.scopeLogs[{j}]");
            let recs = items(sl, ["logRecords", "log_records"]);
            for (k, r) in recs.iter().enumerate() {
                if !bad::<pl::LogRecord>(r) {
                    continue;
                }
                let at = format!("{at}.logRecords[{k}]");
                let field = r.as_object().and_then(|o| {
                    o.iter().find_map(|(key, v)| {
                        let one = Value::Object([(key.clone(), v.clone())].into_iter().collect());
                        bad::<pl::LogRecord>(&one).then(|| key.clone())
                    })
                });
                return Some(match field {
                    Some(f) => format!("{at}.{f}"),
                    None => at,
                });
            }
            return Some(at);
        }
        return Some(at);
    }
    None
}

/// Converts a logs export into model log records, validating ids and bounding sizes.
pub fn decode_logs(req: &ExportLogsServiceRequest) -> DecodedLogs {
    let mut out = DecodedLogs::default();
    out.records.reserve(log_records(req) as usize);
    bounds::with_interner(|it| {
        let mut b = AttrsBuilder::default();
        let mut n = 0usize;
        for rl in &req.resource_logs {
            let resource = Arc::new(resource(rl.resource.as_ref(), it, &mut b));
            for sl in &rl.scope_logs {
                let scope = it.get(sl.scope.as_ref().map_or("", |s| s.name.as_str()));
                for r in &sl.log_records {
                    let (rec, problem) = record(r, &resource, &scope, it, &mut b);
                    if let Some(p) = problem {
                        out.warnings += 1;
                        out.warning
                            .get_or_insert_with(|| format!("log record {n}: {p}"));
                    }
                    out.records.push(rec);
                    n += 1;
                }
            }
        }
    });
    out
}

fn record(
    r: &pl::LogRecord,
    resource: &Arc<crate::model::span::Resource>,
    scope: &Text,
    it: &mut Interner,
    b: &mut AttrsBuilder,
) -> (LogRecord, Option<String>) {
    let mut problem = None;
    let trace_id = id::<16>(&r.trace_id, "traceId", &mut problem);
    let span_id = id::<8>(&r.span_id, "spanId", &mut problem);
    // A span id without a trace id cannot be joined to anything.
    let span_id: Option<SpanId> = span_id.filter(|_| trace_id.is_some());
    let severity = match u8::try_from(r.severity_number) {
        Ok(n) if n <= SEVERITY_MAX => n,
        _ => {
            problem.get_or_insert_with(|| {
                format!(
                    "severityNumber {} is outside 0..={SEVERITY_MAX}",
                    r.severity_number
                )
            });
            0
        }
    };
    let body = body(r.body.as_ref(), it);
    let time_ns = match r.time_unix_nano {
        0 => r.observed_time_unix_nano,
        t => t,
    };
    let rec = LogRecord {
        time_ns,
        observed_ns: r.observed_time_unix_nano,
        severity,
        severity_text: it.name(bounds::truncate(&r.severity_text)),
        body,
        trace_id,
        span_id,
        resource: resource.clone(),
        scope: scope.clone(),
        attributes: attrs(&r.attributes, r.dropped_attributes_count, it, b),
    };
    (rec, problem)
}

/// An id of `N` bytes: `None` when empty or all zero; a wrong length is a problem naming `field`.
fn id<const N: usize>(b: &[u8], field: &str, problem: &mut Option<String>) -> Option<[u8; N]> {
    if b.is_empty() {
        return None;
    }
    match <[u8; N]>::try_from(b) {
        Ok(a) if a == [0; N] => None,
        Ok(a) => Some(a),
        Err(_) => {
            problem.get_or_insert_with(|| {
                format!(
                    "{field} must be {N} bytes, got {} (the record is kept without it)",
                    b.len()
                )
            });
            None
        }
    }
}

/// The body as text: a string as it is, anything else in its display form; cut to
/// [`MAX_BODY_BYTES`].
fn body(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>, it: &mut Interner) -> Text {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match v.and_then(|v| v.value.as_ref()) {
        None => Text::default(),
        Some(Value::StringValue(s)) => Text::from(cut(s)),
        Some(_) => Text::from(cut(&value(v, it, 0).to_display())),
    }
}

/// Cuts a string to at most [`MAX_BODY_BYTES`] at a char boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_BODY_BYTES {
        return s;
    }
    let mut end = MAX_BODY_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attrs::MAX_ATTRIBUTES;
    use opentelemetry_proto::tonic::common::v1 as pc;

    fn s(v: &str) -> Option<pc::AnyValue> {
        Some(pc::AnyValue {
            value: Some(pc::any_value::Value::StringValue(v.into())),
        })
    }

    fn kv(k: &str, v: &str) -> pc::KeyValue {
        pc::KeyValue {
            key: k.into(),
            value: s(v),
            key_strindex: 0,
        }
    }

    fn req(records: Vec<pl::LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![pl::ResourceLogs {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![kv("service.name", "svc")],
                    ..Default::default()
                }),
                scope_logs: vec![pl::ScopeLogs {
                    scope: Some(pc::InstrumentationScope {
                        name: "app.logger".into(),
                        ..Default::default()
                    }),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn rec(body: &str) -> pl::LogRecord {
        pl::LogRecord {
            time_unix_nano: 5,
            observed_time_unix_nano: 7,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: s(body),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }
    }

    #[test]
    fn decodes_every_field() {
        let mut r = rec("boom");
        r.attributes = vec![kv("exception.type", "ValueError")];
        let d = decode_logs(&req(vec![r]));
        assert_eq!(d.warning, None);
        let l = &d.records[0];
        assert_eq!((l.time_ns, l.observed_ns, l.severity), (5, 7, 17));
        assert_eq!(&*l.severity_text, "ERROR");
        assert_eq!(&*l.body, "boom");
        assert_eq!(l.trace_id, Some([1; 16]));
        assert_eq!(l.span_id, Some([2; 8]));
        assert_eq!(l.service(), "svc");
        assert_eq!(&*l.scope, "app.logger");
        assert_eq!(l.exception(), Some((Some("ValueError"), None)));
        assert!(l.is_error());
    }

    #[test]
    fn bad_ids_are_dropped_from_the_record_and_named() {
        let mut r = rec("x");
        r.trace_id = vec![1; 5];
        let mut z = rec("y");
        z.trace_id = vec![0; 16];
        z.span_id = vec![];
        z.time_unix_nano = 0;
        let d = decode_logs(&req(vec![rec("ok"), r, z]));
        assert_eq!(d.records.len(), 3);
        assert_eq!(d.warnings, 1);
        assert_eq!(
            d.warning.as_deref(),
            Some("log record 1: traceId must be 16 bytes, got 5 (the record is kept without it)")
        );
        assert_eq!((d.records[1].trace_id, d.records[1].span_id), (None, None));
        assert_eq!(d.records[2].trace_id, None, "all zero is no trace");
        assert_eq!(d.records[2].time_ns, 7, "no time: the observed time");
    }

    #[test]
    fn bad_severity_is_named() {
        let mut r = rec("x");
        r.severity_number = 99;
        let d = decode_logs(&req(vec![r]));
        assert_eq!(d.records[0].severity, 0);
        assert!(
            d.warning
                .as_deref()
                .is_some_and(|w| w.contains("severityNumber 99")),
            "{:?}",
            d.warning
        );
    }

    #[test]
    fn bounds_body_and_attributes() {
        let mut r = rec(&"é".repeat(MAX_BODY_BYTES));
        r.attributes = (0..1000).map(|i| kv(&format!("k{i}"), "v")).collect();
        let d = decode_logs(&req(vec![r]));
        let l = &d.records[0];
        assert!(l.body.len() <= MAX_BODY_BYTES && l.body.len() > MAX_BODY_BYTES - 2);
        assert_eq!(l.attributes.len(), MAX_ATTRIBUTES);
        assert_eq!(l.attributes.dropped() as usize, 1000 - MAX_ATTRIBUTES);
    }

    #[test]
    fn json_errors_name_the_record_and_field() {
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"body":{"stringValue":"fine"}},
            {"body":{"stringValue":"bad"},"traceId":"xyz","severityNumber":9}]}]}]}"#;
        let e = parse_logs_json(body).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.starts_with("resourceLogs[0].scopeLogs[0].logRecords[1].traceId: "),
            "{e}"
        );
        let e = parse_logs_json(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"loud"}]}]}]}"#,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(e.contains("logRecords[0].severityNumber: "), "{e}");
        assert!(parse_logs_json(b"{").is_err());
        let ok = parse_logs_json(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0af7651916cd43dd8448eb211c80319c"}]}]}]}"#);
        assert_eq!(ok.map(|r| log_records(&r)).ok(), Some(1));
    }

    #[test]
    fn structured_bodies_are_shown_as_text() {
        let mut r = rec("");
        r.body = Some(pc::AnyValue {
            value: Some(pc::any_value::Value::KvlistValue(pc::KeyValueList {
                values: vec![kv("event", "login"), kv("user", "ann")],
            })),
        });
        let d = decode_logs(&req(vec![r]));
        assert_eq!(&*d.records[0].body, "{event=login,user=ann}");
    }
}
