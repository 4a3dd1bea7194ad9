//! faultline's span: what the store keeps of one OTLP span, already decoded and bounded.

use std::sync::Arc;

use super::attrs::{Attributes, Text};

/// A 16-byte trace id (all zero is invalid in OTLP and rejected at decode).
pub type TraceId = [u8; 16];
/// An 8-byte span id; all zero means "none" for parents.
pub type SpanId = [u8; 8];

/// Span kind, numbered as the OTLP protobuf enum (CLIENT = 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// Not specified by the producer.
    #[default]
    Unspecified,
    /// In-process work.
    Internal,
    /// The server side of a synchronous call.
    Server,
    /// The client side of a synchronous call.
    Client,
    /// The sending side of an asynchronous message.
    Producer,
    /// The receiving side of an asynchronous message.
    Consumer,
}

impl SpanKind {
    /// From the OTLP protobuf enum value; unknown values map to `Unspecified`.
    pub fn from_proto(v: i32) -> Self {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The OTLP protobuf enum value.
    pub fn to_proto(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }

    /// Whether the span is the calling side of an edge (CLIENT or PRODUCER).
    pub fn is_outbound(self) -> bool {
        matches!(self, SpanKind::Client | SpanKind::Producer)
    }

    /// Whether the span is the receiving side of an edge (SERVER or CONSUMER).
    pub fn is_inbound(self) -> bool {
        matches!(self, SpanKind::Server | SpanKind::Consumer)
    }

    /// Short upper-case label.
    pub fn label(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "UNSPECIFIED",
            SpanKind::Internal => "INTERNAL",
            SpanKind::Server => "SERVER",
            SpanKind::Client => "CLIENT",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
        }
    }
}

/// Span status code (OTLP `Status.StatusCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatusCode {
    /// Not set by the instrumentation.
    #[default]
    Unset,
    /// Explicitly OK.
    Ok,
    /// An error.
    Error,
}

impl StatusCode {
    /// From the OTLP protobuf enum value.
    pub fn from_proto(v: i32) -> Self {
        match v {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

/// The producing entity: `service.name`, instance and the resource attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// `service.name`, or `unknown_service` when absent (as the SDKs default).
    pub service_name: Arc<str>,
    /// `service.instance.id`, then `k8s.pod.name`, then `host.name`.
    pub instance: Option<Arc<str>>,
    /// All resource attributes.
    pub attributes: Attributes,
}

/// A timestamped event on a span (exceptions, retries, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Event time, Unix nanoseconds.
    pub time_ns: u64,
    /// Event name, e.g. `exception`.
    pub name: Text,
    /// Event attributes.
    pub attributes: Attributes,
}

/// A link to another span.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// Link attributes.
    pub attributes: Attributes,
}

/// Rarely present parts of a span, boxed to keep [`Span`] small.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanExtras {
    /// Span events.
    pub events: Vec<Event>,
    /// Span links.
    pub links: Vec<Link>,
    /// Status message, when the status carries one.
    pub status_message: Option<Box<str>>,
    /// Events and links the sender dropped.
    pub dropped_events: u32,
    /// Links the sender dropped.
    pub dropped_links: u32,
    /// Error-evidence log records of the span joined so far (see
    /// [`classify::is_error_log`](super::classify::is_error_log)); set by the store.
    pub error_logs: u32,
}

/// One span as faultline keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id; all zero for a root span.
    pub parent_span_id: SpanId,
    /// Span kind from the protobuf enum.
    pub kind: SpanKind,
    /// Status code.
    pub status: StatusCode,
    /// Span name (operation); shared when it repeats.
    pub name: Text,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds (never before start: decode clamps).
    pub end_ns: u64,
    /// Span attributes.
    pub attributes: Attributes,
    /// The resource that produced the span (shared by the spans of one batch).
    pub resource: Arc<Resource>,
    /// Instrumentation scope name.
    pub scope: Text,
    /// Events, links and status message, when present.
    pub extras: Option<Box<SpanExtras>>,
}

impl Span {
    /// Duration in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.duration_ns() as f64 / 1e9
    }

    /// Whether the span has a parent.
    pub fn has_parent(&self) -> bool {
        self.parent_span_id != [0; 8]
    }

    /// The producing service.
    pub fn service(&self) -> &str {
        &self.resource.service_name
    }

    /// Events on the span (empty when none).
    pub fn events(&self) -> &[Event] {
        self.extras
            .as_ref()
            .map(|e| e.events.as_slice())
            .unwrap_or(&[])
    }

    /// Whether an error-evidence log record of this span has been joined to it.
    pub fn error_logged(&self) -> bool {
        self.extras.as_ref().is_some_and(|e| e.error_logs > 0)
    }

    /// Counts an error-evidence log record of this span (see [`Span::error_logged`]).
    pub fn add_error_log(&mut self) {
        let e = self.extras.get_or_insert_with(Default::default);
        e.error_logs = e.error_logs.saturating_add(1);
    }

    /// Whether this call failed (see [`super::classify::is_error`], the one definition).
    pub fn is_error(&self) -> bool {
        super::classify::is_error(self)
    }

    /// Approximate bytes held by this span (struct plus owned heap; shared parts not counted).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Span>()
            + self.attributes.heap_bytes()
            + self.extras.as_ref().map_or(0, |e| {
                std::mem::size_of::<SpanExtras>()
                    + e.events
                        .iter()
                        .map(|ev| std::mem::size_of::<Event>() + ev.attributes.heap_bytes())
                        .sum::<usize>()
                    + e.links
                        .iter()
                        .map(|l| std::mem::size_of::<Link>() + l.attributes.heap_bytes())
                        .sum::<usize>()
            })
    }
}
