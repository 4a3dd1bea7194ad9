//! Protobuf wire format: a borrowing field reader, the typed error naming the field path, and a
//! schema-driven validator for the parts of a request faultline does not keep.
//!
//! The reader accepts and rejects exactly what `prost` 0.14 does: varints of at most 10 bytes
//! (the 10th < 2), keys within `u32` with wire types 0–5 and a non-zero field number, lengths
//! within the message, groups skipped (nested groups too) until their matching end tag, and
//! `prost`'s recursion limit of 100 nested messages (unknown fields at the deepest level count,
//! as they do in `prost::encoding::skip_field`).

use super::error::{WireError, WireErrorKind, WireType};

/// Nesting budget of a request's top-level fields: `prost`'s `RECURSION_LIMIT`.
pub(crate) const RECURSION_LIMIT: u32 = 100;

/// The declared type of a known field.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// int32, uint32, int64, bool, enum.
    Varint,
    /// fixed64, double.
    Fixed64,
    /// fixed32.
    Fixed32,
    /// bytes.
    Bytes,
    /// string: must be UTF-8.
    Str,
    /// An embedded message.
    Msg(&'static Schema),
}

impl Kind {
    fn wire(self) -> WireType {
        match self {
            Kind::Varint => WireType::Varint,
            Kind::Fixed64 => WireType::Fixed64,
            Kind::Fixed32 => WireType::Fixed32,
            Kind::Bytes | Kind::Str | Kind::Msg(_) => WireType::Len,
        }
    }
}

/// The known fields of a message: number, name, type. Repetition does not matter to the wire
/// format here: the trace protocol has no repeated scalar (so no packed encoding), and a
/// repeated message or string is read one element per field occurrence.
pub(crate) struct Schema {
    pub(crate) fields: &'static [(u32, &'static str, Kind)],
}

impl Schema {
    pub(crate) fn get(&self, number: u32) -> Option<(&'static str, Kind)> {
        self.fields
            .iter()
            .find(|(n, _, _)| *n == number)
            .map(|(_, name, kind)| (*name, *kind))
    }
}

/// Wire type numbers.
pub(crate) const VARINT: u32 = 0;
/// 8 bytes.
pub(crate) const I64: u32 = 1;
/// Length-delimited.
pub(crate) const LEN: u32 = 2;

/// A field key as it is on the wire, `number << 3 | wire type`: decoders match on it, so a
/// known field with its declared wire type is one comparison.
pub(crate) const fn key(number: u32, wire: u32) -> u32 {
    (number << 3) | wire
}

fn wire_type(w: u32) -> WireType {
    match w {
        0 => WireType::Varint,
        1 => WireType::Fixed64,
        2 => WireType::Len,
        3 => WireType::StartGroup,
        4 => WireType::EndGroup,
        _ => WireType::Fixed32,
    }
}

/// Reads the fields of one message, borrowing length-delimited values.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the fields of one message.
    #[inline(always)]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// An error at the current position (errors are rare: kept out of line).
    #[cold]
    #[inline(never)]
    fn err(&self, kind: WireErrorKind, field: Option<u32>) -> WireError {
        WireError::new(kind, self.buf.as_ptr() as usize + self.pos, field)
    }

    #[inline(always)]
    fn varint(&mut self, field: Option<u32>) -> Result<u64, WireError> {
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_multi(field)
    }

    #[inline(never)]
    fn varint_multi(&mut self, field: Option<u32>) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos + i) else {
                return Err(self.err(WireErrorKind::TruncatedVarint, field));
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                // The 10th byte holds bit 63 only.
                if i == 9 && b >= 2 {
                    return Err(self.err(WireErrorKind::VarintOverflow, field));
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.err(WireErrorKind::VarintOverflow, field))
    }

    #[inline(always)]
    fn fixed<const N: usize>(&mut self, number: u32) -> Result<[u8; N], WireError> {
        match self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(b) => {
                self.pos += N;
                Ok(*b)
            }
            None => Err(self.err(WireErrorKind::FixedPastEnd { width: N as u8 }, Some(number))),
        }
    }

    /// The next field's key (validated as `prost::encoding::decode_key` does), or `None` at
    /// the end of the message.
    #[inline(always)]
    pub(crate) fn key(&mut self) -> Result<Option<u32>, WireError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        // One-byte keys (fields 1–15) with a valid wire type: the common case.
        if (8..0x80).contains(&b) && (b & 7) <= 5 {
            self.pos += 1;
            return Ok(Some(u32::from(b)));
        }
        self.key_multi().map(Some)
    }

    #[inline(never)]
    fn key_multi(&mut self) -> Result<u32, WireError> {
        let key = self.varint(None)?;
        let Ok(key) = u32::try_from(key) else {
            return Err(self.err(WireErrorKind::KeyOutOfRange { key }, None));
        };
        let wire = key & 7;
        if wire > 5 {
            return Err(self.err(WireErrorKind::InvalidWireType(wire as u8), None));
        }
        if key >> 3 == 0 {
            return Err(self.err(WireErrorKind::ZeroFieldNumber, None));
        }
        Ok(key)
    }

    /// The value of a varint field.
    #[inline(always)]
    pub(crate) fn varint_value(&mut self, key: u32) -> Result<u64, WireError> {
        self.varint(Some(key >> 3))
    }

    /// The value of a fixed64 field.
    #[inline(always)]
    pub(crate) fn fixed64(&mut self, key: u32) -> Result<u64, WireError> {
        self.fixed::<8>(key >> 3).map(u64::from_le_bytes)
    }

    /// The bytes of a length-delimited field.
    #[inline(always)]
    pub(crate) fn bytes(&mut self, key: u32) -> Result<&'a [u8], WireError> {
        self.len_delimited(key >> 3)
    }

    /// The text of a string field (`prost` rejects invalid UTF-8 in any string field).
    #[inline(always)]
    pub(crate) fn str(&mut self, key: u32) -> Result<&'a str, WireError> {
        let b = self.len_delimited(key >> 3)?;
        utf8(b, key >> 3)
    }

    #[inline(always)]
    fn len_delimited(&mut self, number: u32) -> Result<&'a [u8], WireError> {
        let at = self.pos;
        let len = self.varint(Some(number))?;
        let start = self.pos;
        match usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .and_then(|end| self.buf.get(start..end))
        {
            Some(s) => {
                self.pos = start + s.len();
                Ok(s)
            }
            None => {
                self.pos = at;
                Err(self.err(WireErrorKind::LengthPastEnd { len }, Some(number)))
            }
        }
    }

    /// Skips one field's value, as `prost::encoding::skip_field` does (budget checked first).
    fn skip(&mut self, wire: u32, number: u32, budget: u32) -> Result<(), WireError> {
        if budget == 0 {
            return Err(self.too_deep(number));
        }
        match wire {
            0 => self.varint(Some(number)).map(drop),
            1 => self.fixed::<8>(number).map(drop),
            2 => self.len_delimited(number).map(drop),
            3 => loop {
                if self.pos >= self.buf.len() {
                    return Err(self.err(WireErrorKind::UnterminatedGroup, Some(number)));
                }
                let inner = match self.key()? {
                    Some(k) => k,
                    None => return Err(self.err(WireErrorKind::UnterminatedGroup, Some(number))),
                };
                if inner & 7 == 4 {
                    if inner >> 3 != number {
                        return Err(self.err(WireErrorKind::UnmatchedEndGroup, Some(number)));
                    }
                    return Ok(());
                }
                self.skip(inner & 7, inner >> 3, budget - 1)?;
            },
            4 => Err(self.err(WireErrorKind::UnmatchedEndGroup, Some(number))),
            _ => self.fixed::<4>(number).map(drop),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, number: u32) -> WireError {
        self.err(
            WireErrorKind::TooDeep {
                limit: RECURSION_LIMIT,
            },
            Some(number),
        )
    }

    /// The nesting budget of the fields of an embedded message in field `key`, or an error
    /// when this message's fields have none left.
    #[inline(always)]
    pub(crate) fn nest(&self, budget: u32, key: u32) -> Result<u32, WireError> {
        match budget.checked_sub(1) {
            Some(b) => Ok(b),
            None => Err(self.too_deep(key >> 3)),
        }
    }

    /// Reads and checks a field the caller does not use, by `schema`: a known field must have
    /// its declared wire type, strings must be UTF-8 and embedded messages well formed (all as
    /// `prost` checks them); unknown fields are skipped as `prost` skips them.
    #[inline(never)]
    pub(crate) fn other(
        &mut self,
        key: u32,
        schema: &Schema,
        budget: u32,
    ) -> Result<(), WireError> {
        let (number, wire) = (key >> 3, key & 7);
        let Some((name, kind)) = schema.get(number) else {
            return self.skip(wire, number, budget);
        };
        let expected = kind.wire();
        if wire_type(wire) != expected {
            return Err(self.err(
                WireErrorKind::WrongWireType {
                    expected,
                    actual: wire_type(wire),
                },
                Some(number),
            ));
        }
        match kind {
            Kind::Varint => self.varint(Some(number)).map(drop),
            Kind::Fixed64 => self.fixed::<8>(number).map(drop),
            Kind::Fixed32 => self.fixed::<4>(number).map(drop),
            Kind::Bytes => self.len_delimited(number).map(drop),
            Kind::Str => self.str(key).map(drop),
            Kind::Msg(s) => {
                let b = self.len_delimited(number)?;
                let inner = self.nest(budget, key)?;
                validate(s, b, inner).map_err(|e| e.within(name, None, s))
            }
        }
    }
}

/// Validates a whole message that is not kept, by its schema.
pub(crate) fn validate(schema: &Schema, body: &[u8], budget: u32) -> Result<(), WireError> {
    let mut r = Reader::new(body);
    while let Some(key) = r.key()? {
        r.other(key, schema, budget)?;
    }
    Ok(())
}

/// A string field's text.
#[inline(always)]
pub(crate) fn utf8(b: &[u8], number: u32) -> Result<&str, WireError> {
    match crate::ingest::bounds::utf8(b) {
        Ok(s) => Ok(s),
        Err(e) => Err(bad_utf8(b, e.valid_up_to(), number)),
    }
}

/// The error for string bytes found not to be UTF-8 after they were read.
#[cold]
#[inline(never)]
pub(crate) fn utf8_error(b: &[u8], e: std::str::Utf8Error, number: u32) -> WireError {
    bad_utf8(b, e.valid_up_to(), number)
}

#[cold]
#[inline(never)]
fn bad_utf8(b: &[u8], valid: usize, number: u32) -> WireError {
    WireError::new(
        WireErrorKind::InvalidUtf8,
        b.as_ptr() as usize + valid,
        Some(number),
    )
}
