//! Deterministic spans and stores for tests, view snapshots and benchmarks: a small builder of
//! model spans and a fixture system (a few services, one flaky dependency behind a breaker, a slow
//! one, retries) applied to a real [`Store`](crate::store::Store). Not used by the binary.

use std::sync::Arc;

mod fixture;
pub use fixture::{
    fixture_alerts, fixture_metrics, fixture_snapshot, fixture_spans, fixture_store, large_snapshot,
};

use crate::model::attrs::{AttrValue, Attributes, KeyValue};
use crate::model::log::LogRecord;
use crate::model::span::{Event, Resource, Span, SpanExtras, SpanKind, StatusCode};

/// Fixture epoch: 2025-01-01T12:00:00Z, in Unix nanoseconds.
pub const T0: u64 = 1_735_732_800_000_000_000;
/// One millisecond in nanoseconds.
pub const MS: u64 = 1_000_000;
/// One second in nanoseconds.
pub const SEC: u64 = 1_000_000_000;

/// A deterministic pseudo-random index source for property tests (xorshift64): each call gives
/// a number below its argument (which must not be 0).
pub fn xorshift(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}

/// A span under construction.
#[derive(Clone, Debug)]
pub struct SpanBuilder {
    span: Span,
    attrs: Vec<KeyValue>,
}

/// A resource with just `service.name`.
pub fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        service_name: service.into(),
        instance: None,
        attributes: Attributes::new(
            vec![KeyValue {
                key: "service.name".into(),
                value: AttrValue::Str(service.into()),
            }],
            0,
        ),
    })
}

/// A span of `trace` with id `id` (parent 0 = root), from `start_ns` lasting `dur_ns`.
#[allow(clippy::too_many_arguments)]
pub fn span(
    trace: u64,
    id: u64,
    parent: u64,
    service: &str,
    name: &str,
    kind: SpanKind,
    start_ns: u64,
    dur_ns: u64,
) -> SpanBuilder {
    let mut tid = [0u8; 16];
    tid[8..].copy_from_slice(&trace.max(1).to_be_bytes());
    SpanBuilder {
        span: Span {
            trace_id: tid,
            span_id: id.to_be_bytes(),
            parent_span_id: parent.to_be_bytes(),
            kind,
            status: StatusCode::Unset,
            name: name.into(),
            start_ns,
            end_ns: start_ns + dur_ns,
            attributes: Attributes::default(),
            resource: resource(service),
            scope: "testkit".into(),
            extras: None,
        },
        attrs: Vec::new(),
    }
}

impl SpanBuilder {
    /// Adds a string attribute.
    pub fn attr(mut self, key: &str, value: &str) -> Self {
        self.attrs.push(KeyValue {
            key: key.into(),
            value: AttrValue::Str(value.into()),
        });
        self
    }

    /// Adds an integer attribute.
    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.attrs.push(KeyValue {
            key: key.into(),
            value: AttrValue::Int(value),
        });
        self
    }

    /// Adds a boolean attribute.
    pub fn flag(mut self, key: &str, value: bool) -> Self {
        self.attrs.push(KeyValue {
            key: key.into(),
            value: AttrValue::Bool(value),
        });
        self
    }

    /// Marks the span failed, with `error.type`.
    pub fn error(mut self, error_type: &str) -> Self {
        self.span.status = StatusCode::Error;
        self.attr("error.type", error_type)
    }

    /// Adds an event at `time_ns`.
    pub fn event(mut self, name: &str, time_ns: u64) -> Self {
        let ex = self
            .span
            .extras
            .get_or_insert_with(Box::<SpanExtras>::default);
        ex.events.push(Event {
            time_ns,
            name: name.into(),
            attributes: Attributes::default(),
        });
        self
    }

    /// The finished span.
    pub fn build(mut self) -> Span {
        self.span.attributes = Attributes::new(self.attrs, 0);
        self.span
    }
}

/// A log record under construction.
#[derive(Clone, Debug)]
pub struct LogBuilder {
    rec: LogRecord,
    attrs: Vec<KeyValue>,
}

/// A log record of `service` at `time_ns` with severity number `severity` and body `body`, not
/// tied to a trace (see [`LogBuilder::of`]).
pub fn log(service: &str, time_ns: u64, severity: u8, body: &str) -> LogBuilder {
    LogBuilder {
        rec: LogRecord {
            time_ns,
            observed_ns: time_ns,
            severity,
            severity_text: Default::default(),
            body: body.into(),
            trace_id: None,
            span_id: None,
            resource: resource(service),
            scope: "testkit".into(),
            attributes: Attributes::default(),
        },
        attrs: Vec::new(),
    }
}

impl LogBuilder {
    /// Ties the record to span `span` of trace `trace` (ids as [`span`] makes them; span 0:
    /// the trace only).
    pub fn of(mut self, trace: u64, span: u64) -> Self {
        let mut tid = [0u8; 16];
        tid[8..].copy_from_slice(&trace.max(1).to_be_bytes());
        self.rec.trace_id = Some(tid);
        self.rec.span_id = (span != 0).then(|| span.to_be_bytes());
        self
    }

    /// Adds a string attribute.
    pub fn attr(mut self, key: &str, value: &str) -> Self {
        self.attrs.push(KeyValue {
            key: key.into(),
            value: AttrValue::Str(value.into()),
        });
        self
    }

    /// The finished record.
    pub fn build(mut self) -> LogRecord {
        self.rec.attributes = Attributes::new(self.attrs, 0);
        self.rec
    }
}
