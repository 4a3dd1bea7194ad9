//! faultline's log record: what the store keeps of one OTLP log record, already decoded and
//! bounded (`ingest::decode_logs`). Records with a trace id belong to their trace (and to their
//! span when they carry a span id); the others are kept per service (`store::logs`).

use std::sync::Arc;

use super::attrs::{Attributes, Text};
use super::span::{Resource, SpanId, TraceId};

/// Lowest OTLP severity number of the ERROR range (`SEVERITY_NUMBER_ERROR` = 17; FATAL is 21–24).
pub const SEVERITY_ERROR: u8 = 17;
/// Highest OTLP severity number (`SEVERITY_NUMBER_FATAL4`).
pub const SEVERITY_MAX: u8 = 24;

/// One log record as faultline keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When the event happened, Unix nanoseconds (the observed time when the sender left it 0).
    pub time_ns: u64,
    /// When the record was observed by the SDK or collector, Unix nanoseconds (0: not set).
    pub observed_ns: u64,
    /// OTLP severity number, 0 (unspecified) to [`SEVERITY_MAX`].
    pub severity: u8,
    /// Severity text as the source gave it (`ERROR`, `warn`, ...); empty when not set.
    pub severity_text: Text,
    /// The body as text: strings as they are, other values in their display form; bounded.
    pub body: Text,
    /// The trace the record was emitted in, when it carries one.
    pub trace_id: Option<TraceId>,
    /// The span the record was emitted in, when it carries one.
    pub span_id: Option<SpanId>,
    /// The producing resource (shared by the records of one batch).
    pub resource: Arc<Resource>,
    /// Instrumentation scope name (the logger name for Python `logging`).
    pub scope: Text,
    /// Record attributes, bounded like span attributes.
    pub attributes: Attributes,
}

/// The severity ranges of OTLP's `SeverityNumber`, for display and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 0: not specified.
    Unspecified,
    /// 1–4.
    Trace,
    /// 5–8.
    Debug,
    /// 9–12.
    Info,
    /// 13–16.
    Warn,
    /// 17–20.
    Error,
    /// 21–24.
    Fatal,
}

impl Severity {
    /// The range a severity number falls in.
    pub fn of(number: u8) -> Self {
        match number {
            0 => Severity::Unspecified,
            1..=4 => Severity::Trace,
            5..=8 => Severity::Debug,
            9..=12 => Severity::Info,
            13..=16 => Severity::Warn,
            17..=20 => Severity::Error,
            _ => Severity::Fatal,
        }
    }

    /// The lowest severity number of the range (0 for unspecified).
    pub fn min_number(self) -> u8 {
        match self {
            Severity::Unspecified => 0,
            Severity::Trace => 1,
            Severity::Debug => 5,
            Severity::Info => 9,
            Severity::Warn => 13,
            Severity::Error => SEVERITY_ERROR,
            Severity::Fatal => 21,
        }
    }

    /// Upper-case label, as OTLP names the ranges.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Unspecified => "UNSPECIFIED",
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }

    /// Parses a label (case-insensitive; `warning` and `critical` as Python names them).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" => Severity::Trace,
            "debug" => Severity::Debug,
            "info" => Severity::Info,
            "warn" | "warning" => Severity::Warn,
            "error" => Severity::Error,
            "fatal" | "critical" => Severity::Fatal,
            _ => return None,
        })
    }
}

impl LogRecord {
    /// The producing service.
    pub fn service(&self) -> &str {
        &self.resource.service_name
    }

    /// The severity range.
    pub fn severity_range(&self) -> Severity {
        Severity::of(self.severity)
    }

    /// The severity as shown: the sender's text when it gave one, else the range's label.
    pub fn severity_label(&self) -> &str {
        if self.severity_text.is_empty() {
            self.severity_range().label()
        } else {
            &self.severity_text
        }
    }

    /// The exception the record reports (`exception.type`, `exception.message`), when it is an
    /// exception record (either attribute present).
    pub fn exception(&self) -> Option<(Option<&str>, Option<&str>)> {
        let ty = self.attributes.str("exception.type");
        let msg = self.attributes.str("exception.message");
        (ty.is_some() || msg.is_some()).then_some((ty, msg))
    }

    /// Whether the record is error evidence for its span (see
    /// [`classify::is_error_log`](super::classify::is_error_log), the one definition).
    pub fn is_error(&self) -> bool {
        super::classify::is_error_log(self)
    }

    /// Whether the record belongs to span `id` of its trace.
    pub fn is_of_span(&self, id: &SpanId) -> bool {
        self.span_id.as_ref() == Some(id)
    }

    /// Approximate bytes held by this record (struct plus owned heap; shared parts not counted).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<LogRecord>() + self.attributes.heap_bytes() + self.body.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_ranges_round_trip() {
        for n in 0..=SEVERITY_MAX {
            let s = Severity::of(n);
            assert!(s.min_number() <= n, "{n}");
            assert_eq!(Severity::of(s.min_number()), s);
            if s != Severity::Unspecified {
                assert_eq!(Severity::parse(s.label()), Some(s));
            }
        }
        assert_eq!(Severity::parse("warning"), Some(Severity::Warn));
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Fatal));
        assert_eq!(Severity::parse("loud"), None);
    }
}
