//! The OTLP trace messages as `opentelemetry-proto` 0.33 declares them (field numbers, names,
//! types): what the validator checks for the fields faultline does not keep, and how error paths
//! are named.

use super::reader::Kind::{Bytes, Fixed32, Fixed64, Msg, Str, Varint};
use super::reader::Schema;

/// `ExportTraceServiceRequest`.
pub(crate) static REQUEST: Schema = Schema {
    fields: &[(1, "resource_spans", Msg(&RESOURCE_SPANS))],
};

/// `ResourceSpans`.
pub(crate) static RESOURCE_SPANS: Schema = Schema {
    fields: &[
        (1, "resource", Msg(&RESOURCE)),
        (2, "scope_spans", Msg(&SCOPE_SPANS)),
        (3, "schema_url", Str),
    ],
};

/// `Resource`.
pub(crate) static RESOURCE: Schema = Schema {
    fields: &[
        (1, "attributes", Msg(&KEY_VALUE)),
        (2, "dropped_attributes_count", Varint),
        (3, "entity_refs", Msg(&ENTITY_REF)),
    ],
};

/// `EntityRef`.
static ENTITY_REF: Schema = Schema {
    fields: &[
        (1, "schema_url", Str),
        (2, "type", Str),
        (3, "id_keys", Str),
        (4, "description_keys", Str),
    ],
};

/// `ScopeSpans`.
pub(crate) static SCOPE_SPANS: Schema = Schema {
    fields: &[
        (1, "scope", Msg(&SCOPE)),
        (2, "spans", Msg(&SPAN)),
        (3, "schema_url", Str),
    ],
};

/// `InstrumentationScope`.
pub(crate) static SCOPE: Schema = Schema {
    fields: &[
        (1, "name", Str),
        (2, "version", Str),
        (3, "attributes", Msg(&KEY_VALUE)),
        (4, "dropped_attributes_count", Varint),
    ],
};

/// `Span`.
pub(crate) static SPAN: Schema = Schema {
    fields: &[
        (1, "trace_id", Bytes),
        (2, "span_id", Bytes),
        (3, "trace_state", Str),
        (4, "parent_span_id", Bytes),
        (5, "name", Str),
        (6, "kind", Varint),
        (7, "start_time_unix_nano", Fixed64),
        (8, "end_time_unix_nano", Fixed64),
        (9, "attributes", Msg(&KEY_VALUE)),
        (10, "dropped_attributes_count", Varint),
        (11, "events", Msg(&EVENT)),
        (12, "dropped_events_count", Varint),
        (13, "links", Msg(&LINK)),
        (14, "dropped_links_count", Varint),
        (15, "status", Msg(&STATUS)),
        (16, "flags", Fixed32),
    ],
};

/// `Span.Event`.
pub(crate) static EVENT: Schema = Schema {
    fields: &[
        (1, "time_unix_nano", Fixed64),
        (2, "name", Str),
        (3, "attributes", Msg(&KEY_VALUE)),
        (4, "dropped_attributes_count", Varint),
    ],
};

/// `Span.Link`.
pub(crate) static LINK: Schema = Schema {
    fields: &[
        (1, "trace_id", Bytes),
        (2, "span_id", Bytes),
        (3, "trace_state", Str),
        (4, "attributes", Msg(&KEY_VALUE)),
        (5, "dropped_attributes_count", Varint),
        (6, "flags", Fixed32),
    ],
};

/// `Status` (field 1 is reserved).
pub(crate) static STATUS: Schema = Schema {
    fields: &[(2, "message", Str), (3, "code", Varint)],
};

/// `KeyValue`.
pub(crate) static KEY_VALUE: Schema = Schema {
    fields: &[
        (1, "key", Str),
        (2, "value", Msg(&ANY_VALUE)),
        (3, "key_strindex", Varint),
    ],
};

/// `AnyValue` (all fields are one `oneof`).
pub(crate) static ANY_VALUE: Schema = Schema {
    fields: &[
        (1, "string_value", Str),
        (2, "bool_value", Varint),
        (3, "int_value", Varint),
        (4, "double_value", Fixed64),
        (5, "array_value", Msg(&ARRAY_VALUE)),
        (6, "kvlist_value", Msg(&KEY_VALUE_LIST)),
        (7, "bytes_value", Bytes),
        (8, "string_value_strindex", Varint),
    ],
};

/// `ArrayValue`.
pub(crate) static ARRAY_VALUE: Schema = Schema {
    fields: &[(1, "values", Msg(&ANY_VALUE))],
};

/// `KeyValueList`.
pub(crate) static KEY_VALUE_LIST: Schema = Schema {
    fields: &[(1, "values", Msg(&KEY_VALUE))],
};
