//! Byte-level scanning of one exposition line: names, quoted strings, label sets, numbers.
//!
//! Every position the cursor stops at is a UTF-8 character boundary: it only steps over ASCII
//! bytes, or over a whole quoted string (which ends at the ASCII `"`), so slicing never panics.

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError, describe, shorten};
use super::labels::LabelSet;

/// Label sets up to this size are checked for duplicate names pair by pair as they are read;
/// larger ones once, by sorting, so a hostile line with thousands of labels stays O(n log n).
const PAIRWISE_DUPLICATE_CHECK: usize = 32;

/// Decoded label pairs, the scratch buffer of [`Cursor::label_set`].
pub(crate) type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// A position in one line of the exposition.
pub(crate) struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    line_no: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `line`, which is line `line_no` (1-based) of the exposition.
    pub(crate) fn new(line: &'a str, line_no: usize) -> Self {
        Cursor {
            line,
            pos: 0,
            line_no,
        }
    }

    /// The current byte offset in the line.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The byte under the cursor, if any.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    /// Whether the whole line has been consumed.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// The rest of the line from the cursor.
    pub(crate) fn rest(&self) -> &'a str {
        self.line.get(self.pos..).unwrap_or("")
    }

    /// Consumes `b` if it is under the cursor.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `word` if the rest of the line starts with it.
    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        if self.rest().starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs; returns how many were skipped.
    pub(crate) fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        let bytes = self.line.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Consumes and returns everything up to the next space, tab or the end of the line.
    pub(crate) fn token(&mut self) -> &'a str {
        let start = self.pos;
        let bytes = self.line.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if b == b' ' || b == b'\t' {
                break;
            }
            self.pos += 1;
        }
        self.line.get(start..self.pos).unwrap_or("")
    }

    /// Consumes a bare metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`, if one is under the cursor.
    pub(crate) fn metric_name(&mut self) -> Option<&'a str> {
        self.ident(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
    }

    /// Consumes a bare label name, `[a-zA-Z_][a-zA-Z0-9_]*`, if one is under the cursor.
    pub(crate) fn label_name(&mut self) -> Option<&'a str> {
        self.ident(|b| b.is_ascii_alphabetic() || b == b'_')
    }

    fn ident(&mut self, first: impl Fn(u8) -> bool) -> Option<&'a str> {
        let bytes = self.line.as_bytes();
        let start = self.pos;
        if !bytes.get(start).is_some_and(|&b| first(b)) {
            return None;
        }
        let colon_ok = first(b':');
        let mut end = start + 1;
        while let Some(&b) = bytes.get(end) {
            if b.is_ascii_alphanumeric() || b == b'_' || (colon_ok && b == b':') {
                end += 1;
            } else {
                break;
            }
        }
        self.pos = end;
        self.line.get(start..end)
    }

    /// Consumes a `"`-quoted string (the cursor must be on the opening quote) and returns its
    /// content with `\\`, `\"` and `\n` unescaped. Other backslash sequences are kept as written,
    /// as Prometheus does. Borrows when there is nothing to unescape.
    pub(crate) fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let open = self.pos;
        let bytes = self.line.as_bytes();
        let start = open + 1;
        let mut i = start;
        let mut seg = start;
        let mut owned: Option<String> = None;
        loop {
            match bytes.get(i) {
                None => return Err(self.error_at(open, ErrorKind::UnterminatedString)),
                Some(b'"') => break,
                Some(b'\\') => {
                    let buf = owned.get_or_insert_with(String::new);
                    buf.push_str(self.line.get(seg..i).unwrap_or(""));
                    let (unescaped, width) = match bytes.get(i + 1) {
                        Some(b'n') => ('\n', 2),
                        Some(b'\\') => ('\\', 2),
                        Some(b'"') => ('"', 2),
                        None => return Err(self.error_at(open, ErrorKind::UnterminatedString)),
                        // Unknown escape: keep the backslash; the next char is copied as is.
                        Some(_) => ('\\', 1),
                    };
                    buf.push(unescaped);
                    i += width;
                    seg = i;
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        let tail = self.line.get(seg..i).unwrap_or("");
        Ok(match owned {
            None => Cow::Borrowed(tail),
            Some(mut buf) => {
                buf.push_str(tail);
                Cow::Owned(buf)
            }
        })
    }

    /// A metric name, bare or quoted (Prometheus 3 / OpenMetrics 2.0 UTF-8 names).
    pub(crate) fn any_metric_name(&mut self) -> Result<Option<Cow<'a, str>>, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted().map(Some);
        }
        Ok(self.metric_name().map(Cow::Borrowed))
    }

    /// Parses a label set; the cursor must be on `{`. `scratch` is a reusable buffer (cleared
    /// here) so that a set without escapes costs no allocation.
    ///
    /// When `name` is `Some(None)` (no bare name before the brace), a quoted string standing
    /// alone as the first item is taken as the metric name: `{"my.metric", code="200"}`.
    pub(crate) fn label_set(
        &mut self,
        scratch: &mut Pairs<'a>,
        mut name: Option<&mut Option<Cow<'a, str>>>,
    ) -> Result<LabelSet<'a>, ParseError> {
        scratch.clear();
        let open = self.pos;
        self.pos += 1; // '{'
        let mut items_start = self.pos;
        let mut plain = true;
        let mut first = true;
        loop {
            self.skip_ws();
            let name_pos = self.pos;
            let label: Cow<'a, str> = match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"') => {
                    let quoted = self.quoted()?;
                    self.skip_ws();
                    if self.peek() == Some(b'=') {
                        quoted
                    } else if let Some(slot) = name.as_mut().filter(|s| first && s.is_none()) {
                        **slot = Some(quoted);
                        first = false;
                        let closed = self.end_of_label()?;
                        items_start = self.pos;
                        if closed {
                            break;
                        }
                        continue;
                    } else {
                        return Err(self.unexpected("'=' after the label name"));
                    }
                }
                _ => match self.label_name() {
                    Some(l) => Cow::Borrowed(l),
                    None => return Err(self.unexpected("a label name or '}'")),
                },
            };
            first = false;
            self.skip_ws();
            if !self.eat(b'=') {
                return Err(self.unexpected("'=' after the label name"));
            }
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a quoted label value"));
            }
            let value = self.quoted()?;
            if scratch.len() < PAIRWISE_DUPLICATE_CHECK && scratch.iter().any(|(n, _)| *n == *label)
            {
                return Err(self.duplicate(name_pos, &label, name.as_deref()));
            }
            plain &= matches!(label, Cow::Borrowed(_)) && matches!(value, Cow::Borrowed(_));
            scratch.push((label, value));
            self.skip_ws();
            if self.end_of_label()? {
                break;
            }
        }
        if scratch.len() > PAIRWISE_DUPLICATE_CHECK {
            // A huge label set: sort the names once instead of comparing every pair.
            let mut names: Vec<&str> = scratch.iter().map(|(n, _)| &**n).collect();
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(self.duplicate(open, pair[0], name.as_deref()));
            }
        }
        if plain {
            // From the first label to the closing brace, which is at pos - 1.
            let text = self.line.get(items_start..self.pos - 1).unwrap_or("");
            Ok(LabelSet::plain(text, scratch.len()))
        } else {
            Ok(LabelSet::from_pairs(std::mem::take(scratch)))
        }
    }

    fn duplicate(
        &self,
        pos: usize,
        label: &str,
        name: Option<&Option<Cow<'_, str>>>,
    ) -> ParseError {
        let sample = name.and_then(|s| s.as_deref()).unwrap_or("");
        self.error_at(
            pos,
            ErrorKind::DuplicateLabel {
                label: shorten(label),
                sample: shorten(sample),
            },
        )
    }

    /// After a label: consumes `,` (returns false) or the closing `}` (returns true).
    fn end_of_label(&mut self) -> Result<bool, ParseError> {
        if self.eat(b',') {
            Ok(false)
        } else if self.eat(b'}') {
            Ok(true)
        } else {
            Err(self.unexpected("',' or '}'"))
        }
    }

    /// An error at byte offset `pos` of this line.
    pub(crate) fn error_at(&self, pos: usize, kind: ErrorKind) -> ParseError {
        let column = self.line.get(..pos).map_or(pos, |s| s.chars().count()) + 1;
        ParseError {
            line: self.line_no,
            column,
            kind,
        }
    }

    /// "expected X, found <token under the cursor>".
    pub(crate) fn unexpected(&self, expected: &'static str) -> ParseError {
        self.unexpected_at(self.pos, expected)
    }

    /// "expected X, found <token at byte offset `pos`>".
    pub(crate) fn unexpected_at(&self, pos: usize, expected: &'static str) -> ParseError {
        let rest = self.line.get(pos..).unwrap_or("");
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let found = describe(rest.get(..end).unwrap_or(rest));
        self.error_at(pos, ErrorKind::Unexpected { expected, found })
    }
}

/// Parses a sample or exemplar value: a float or integer, `NaN`, `+Inf`, `-Inf` or `Inf`
/// (case-insensitive, as Go's `strconv.ParseFloat` that Prometheus uses).
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    // Fast path: most values are small non-negative integers, exact in an f64 below 10^15.
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        let n = b
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        return Some(n as f64);
    }
    // Rust also accepts "infinity"/"nan" in any case, like Go; hex floats and '_' are refused
    // by both. Leading '.' or trailing '.' ("1.", ".5") are accepted by both.
    s.parse::<f64>().ok()
}

/// Unescapes `# HELP` text: `\\` and `\n`, and in OpenMetrics also `\"`. Other backslash
/// sequences are kept as written.
pub(crate) fn unescape_help(s: &str, openmetrics: bool) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if openmetrics => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    Cow::Owned(out)
}
