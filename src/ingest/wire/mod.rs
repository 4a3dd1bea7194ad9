//! OTLP trace protobuf bytes → faultline's model, without the `prost` message tree.
//!
//! Why hand-written: `prost` decodes into owned types (a `String` or `Vec` per key, value and
//! id, a `Vec` per list), and has no borrowed or zero-copy mode, so the receivers paid for a tree
//! that `decode::decode_traces` then copied into the model and dropped. This decoder reads the
//! request once, borrows every string and id from the input, and allocates only what the model
//! keeps (through the thread's interner, as `decode` does).
//!
//! Semantics are exactly those of `prost::Message::decode` followed by
//! [`decode_traces`](crate::ingest::decode::decode_traces): the same requests are accepted and
//! rejected (unknown fields of every wire type skipped, groups included; known fields with the
//! wrong wire type, invalid UTF-8 in any string field, truncation, bad varints and nesting past
//! `prost`'s limit of 100 are errors), and accepted requests give equal spans. The shared parts
//! (bounds, id checks, interning, span assembly) live in `ingest::bounds`. The tests in
//! `tests.rs` hold both paths to that, on the benchmark corpus and on random and mutated
//! requests; `fuzz/fuzz_targets/otlp_wire.rs` fuzzes the same comparison.
//!
//! A request cut short is an error unless the cut falls between two top-level fields, where
//! protobuf cannot tell it from a shorter request: that prefix decodes (as with `prost`).

mod error;
mod reader;
mod schema;
mod trace;
mod value;

#[cfg(test)]
mod tests;

pub use error::{WireError, WireErrorKind, WireType};

use super::decode::DecodedSpans;

/// Decodes the protobuf bytes of an `ExportTraceServiceRequest` into model spans, as
/// `decode_traces(&ExportTraceServiceRequest::decode(buf)?)` would, without building the
/// message tree. Spans with bad ids are rejected one by one (partial success); malformed bytes
/// reject the whole request with an error naming the field path.
pub fn decode(buf: &[u8]) -> Result<DecodedSpans, WireError> {
    crate::ingest::bounds::with_interner(|it| {
        let mut d = trace::Decoder::new(it);
        d.request(buf)
            .map_err(|e| e.finish(buf, &schema::REQUEST))?;
        Ok(d.out)
    })
}
