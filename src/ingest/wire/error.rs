//! The typed decode error: what was wrong, where (byte offset), and the path of the field being
//! read, named from the message schemas.

use std::fmt;

use super::reader::Schema;

/// A protobuf wire type, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    /// 0: varint.
    Varint,
    /// 1: 8 bytes.
    Fixed64,
    /// 2: length-delimited.
    Len,
    /// 3: start of a group.
    StartGroup,
    /// 4: end of a group.
    EndGroup,
    /// 5: 4 bytes.
    Fixed32,
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireType::Varint => "varint",
            WireType::Fixed64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::StartGroup => "start-group",
            WireType::EndGroup => "end-group",
            WireType::Fixed32 => "fixed32",
        })
    }
}

/// What was wrong with the bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireErrorKind {
    /// The input ends inside a varint.
    #[error("truncated varint")]
    TruncatedVarint,
    /// A varint longer than 10 bytes, or past 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A length-delimited field longer than what is left of its message.
    #[error("length {len} past end of message")]
    LengthPastEnd {
        /// The declared length.
        len: u64,
    },
    /// A fixed-width value cut by the end of its message.
    #[error("{width}-byte value past end of message")]
    FixedPastEnd {
        /// 4 or 8.
        width: u8,
    },
    /// A field key that does not fit 32 bits.
    #[error("field key {key} out of range")]
    KeyOutOfRange {
        /// The key read.
        key: u64,
    },
    /// Wire type 6 or 7.
    #[error("invalid wire type {0}")]
    InvalidWireType(u8),
    /// Field number 0.
    #[error("field number 0")]
    ZeroFieldNumber,
    /// A known field with another wire type than its declared one.
    #[error("wire type {actual}, expected {expected}")]
    WrongWireType {
        /// The declared wire type.
        expected: WireType,
        /// The one found.
        actual: WireType,
    },
    /// An end-group tag with no (or another) start-group before it.
    #[error("end-group tag without a matching start-group")]
    UnmatchedEndGroup,
    /// A group still open at the end of its message.
    #[error("group not closed before end of message")]
    UnterminatedGroup,
    /// A string field that is not UTF-8.
    #[error("invalid UTF-8 in a string field")]
    InvalidUtf8,
    /// Messages (or groups) nested deeper than `prost` accepts.
    #[error("nested deeper than {limit} messages")]
    TooDeep {
        /// The limit.
        limit: u32,
    },
}

/// Why an OTLP protobuf trace export could not be decoded. It displays as the path of the field
/// that was being read, what was wrong, and the byte offset, e.g.
/// `resource_spans[0].scope_spans[1].spans[7].attributes: length 300 past end of message (at
/// byte 2215)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: WireErrorKind,
    /// While decoding: the address of the offending byte; after [`WireError::finish`]: its
    /// offset in the request.
    at: usize,
    /// The field (number) of the innermost message being read, until a caller names it.
    field: Option<u32>,
    /// Innermost first.
    path: Vec<Seg>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Seg {
    name: Option<&'static str>,
    number: u32,
    index: Option<usize>,
}

/// The path of a field, outermost first: `spans[3].attributes[0].value`.
struct PathDisplay<'a>(&'a [Seg]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("request");
        }
        for (i, s) in self.0.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match s.name {
                Some(n) => f.write_str(n)?,
                None => write!(f, "#{}", s.number)?,
            }
            if let Some(ix) = s.index {
                write!(f, "[{ix}]")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (at byte {})",
            PathDisplay(&self.path),
            self.kind,
            self.at
        )
    }
}

impl WireError {
    /// An error at address `at`, while reading field `field` of the innermost message.
    #[cold]
    pub(crate) fn new(kind: WireErrorKind, at: usize, field: Option<u32>) -> Self {
        WireError(Box::new(Inner {
            kind,
            at,
            field,
            path: Vec::new(),
        }))
    }

    /// What was wrong.
    pub fn kind(&self) -> &WireErrorKind {
        &self.0.kind
    }

    /// Offset of the offending byte in the request.
    pub fn offset(&self) -> usize {
        self.0.at
    }

    /// The field path, e.g. `resource_spans[0].scope_spans[0].spans[3].name` (`request` when
    /// the error is in the request's own fields).
    pub fn path(&self) -> String {
        PathDisplay(&self.0.path).to_string()
    }

    /// Names the pending field with `child`'s field names, then records that the error happened
    /// inside field `name` (element `index` of a repeated field) of the enclosing message.
    pub(crate) fn within(
        mut self,
        name: &'static str,
        index: Option<usize>,
        child: &Schema,
    ) -> Self {
        self.name_field(child);
        self.0.path.push(Seg {
            name: Some(name),
            number: 0,
            index,
        });
        self
    }

    /// Names the pending field with the request's field names and turns the address into an
    /// offset from `origin`.
    pub(crate) fn finish(mut self, origin: &[u8], top: &Schema) -> Self {
        self.name_field(top);
        self.0.at = self.0.at.saturating_sub(origin.as_ptr() as usize);
        self
    }

    fn name_field(&mut self, schema: &Schema) {
        if let Some(number) = self.0.field.take() {
            self.0.path.push(Seg {
                name: schema.get(number).map(|(n, _)| n),
                number,
                index: None,
            });
        }
    }
}
