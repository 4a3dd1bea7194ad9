//! The grammar of one line: metadata comment, plain comment, blank, or sample.

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError, describe, shorten};
use super::labels::LabelSet;
use super::lexer::{Cursor, Pairs, parse_value, unescape_help};
use super::{Exemplar, Format, MetricType, Sample};

/// One classified line of the exposition.
pub(crate) enum Line<'a> {
    /// Empty, whitespace only, or a comment that is not metadata.
    Skip,
    /// `# HELP name text`, text unescaped.
    Help(Cow<'a, str>, Cow<'a, str>),
    /// `# TYPE name type`.
    Type(Cow<'a, str>, MetricType),
    /// `# UNIT name unit`.
    Unit(Cow<'a, str>, &'a str),
    /// `# EOF` (OpenMetrics only; in text 0.0.4 it is a plain comment).
    Eof,
    /// A sample, not yet assigned to a family.
    Sample(Sample<'a>),
}

/// Parses line `line_no` (1-based). `scratch` is a reusable label buffer.
pub(crate) fn parse_line<'a>(
    line: &'a str,
    line_no: usize,
    format: Format,
    scratch: &mut Pairs<'a>,
) -> Result<Line<'a>, ParseError> {
    let mut cur = Cursor::new(line, line_no);
    cur.skip_ws();
    match cur.peek() {
        None => Ok(Line::Skip),
        Some(b'#') => comment(cur, format),
        Some(_) => sample(cur, format, scratch).map(Line::Sample),
    }
}

/// A line starting with `#`: HELP, TYPE, UNIT, EOF, or any other comment (ignored).
fn comment(mut cur: Cursor<'_>, format: Format) -> Result<Line<'_>, ParseError> {
    cur.eat(b'#');
    if cur.skip_ws() == 0 {
        return Ok(Line::Skip);
    }
    let keyword = if cur.eat_word("HELP") {
        "HELP"
    } else if cur.eat_word("TYPE") {
        "TYPE"
    } else if cur.eat_word("UNIT") {
        "UNIT"
    } else if cur.eat_word("EOF") {
        "EOF"
    } else {
        return Ok(Line::Skip);
    };
    let ws = cur.skip_ws();
    if keyword == "EOF" {
        // "# EOF" alone; "# EOFX" or "# EOF more" is an ordinary comment.
        return Ok(match (cur.at_end(), format) {
            (true, Format::OpenMetrics1) => Line::Eof,
            _ => Line::Skip,
        });
    }
    if ws == 0 {
        // "# HELPER ..." is an ordinary comment; "# HELP" alone lacks its name.
        return if cur.at_end() {
            Err(cur.unexpected("a metric name"))
        } else {
            Ok(Line::Skip)
        };
    }
    let Some(name) = cur.any_metric_name()? else {
        return Err(cur.unexpected("a metric name"));
    };
    let ws = cur.skip_ws();
    if ws == 0 && !cur.at_end() {
        return Err(cur.unexpected("whitespace after the metric name"));
    }
    match keyword {
        "HELP" => {
            let text = unescape_help(cur.rest(), format == Format::OpenMetrics1);
            Ok(Line::Help(name, text))
        }
        "TYPE" => {
            let at = cur.pos();
            let word = cur.token();
            let Some(kind) = MetricType::from_type_word(word) else {
                return Err(if word.is_empty() {
                    cur.error_at(at, unexpected_end("a metric type"))
                } else {
                    cur.error_at(at, ErrorKind::UnknownType(shorten(word)))
                });
            };
            end_of_line(&mut cur)?;
            Ok(Line::Type(name, kind))
        }
        _ => {
            let unit = cur.token();
            end_of_line(&mut cur)?;
            Ok(Line::Unit(name, unit))
        }
    }
}

fn unexpected_end(expected: &'static str) -> ErrorKind {
    ErrorKind::Unexpected {
        expected,
        found: describe(""),
    }
}

fn end_of_line(cur: &mut Cursor<'_>) -> Result<(), ParseError> {
    cur.skip_ws();
    if cur.at_end() {
        Ok(())
    } else {
        Err(cur.unexpected("end of line"))
    }
}

/// `name{labels} value [timestamp] [# {labels} value [timestamp]]`.
fn sample<'a>(
    mut cur: Cursor<'a>,
    format: Format,
    scratch: &mut Pairs<'a>,
) -> Result<Sample<'a>, ParseError> {
    let start = cur.pos();
    let mut name = cur.metric_name().map(Cow::Borrowed);
    // Whitespace may separate the name from its label set, or from the value.
    let mut ws = cur.skip_ws();
    let mut labels = LabelSet::empty();
    if cur.peek() == Some(b'{') {
        labels = cur.label_set(scratch, Some(&mut name))?;
        ws = 0;
    }
    let Some(name) = name else {
        return Err(cur.unexpected_at(start, "a metric name"));
    };
    let value = number(&mut cur, ws, "the value", parse_value, |value| {
        ErrorKind::InvalidValue {
            value,
            sample: shorten(&name),
        }
    })?;
    ws = cur.skip_ws();
    let mut timestamp_ms = None;
    if !cur.at_end() && cur.peek() != Some(b'#') {
        let at = cur.pos();
        let tok = cur.token();
        timestamp_ms = Some(parse_timestamp(tok, format).ok_or_else(|| {
            cur.error_at(
                at,
                ErrorKind::InvalidTimestamp {
                    value: shorten(tok),
                    sample: shorten(&name),
                },
            )
        })?);
        ws = cur.skip_ws();
    }
    let mut exemplar = None;
    if ws > 0 && cur.peek() == Some(b'#') {
        cur.eat(b'#');
        exemplar = Some(Box::new(parse_exemplar(&mut cur, &name, scratch)?));
    }
    end_of_line(&mut cur)?;
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
        exemplar,
    })
}

/// Whitespace then a number token, converted by `parse`; `invalid` builds the error.
/// `ws_before` is whitespace the caller already skipped.
fn number<T>(
    cur: &mut Cursor<'_>,
    ws_before: usize,
    what: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    invalid: impl FnOnce(String) -> ErrorKind,
) -> Result<T, ParseError> {
    let ws = ws_before + cur.skip_ws();
    let at = cur.pos();
    let tok = cur.token();
    if tok.is_empty() {
        return Err(cur.error_at(at, unexpected_end(what)));
    }
    if ws == 0 {
        return Err(cur.error_at(
            at,
            ErrorKind::Unexpected {
                expected: "whitespace before the value",
                found: describe(tok),
            },
        ));
    }
    parse(tok).ok_or_else(|| cur.error_at(at, invalid(shorten(tok))))
}

/// Text 0.0.4: integer milliseconds. OpenMetrics: finite float seconds, rounded to milliseconds.
fn parse_timestamp(tok: &str, format: Format) -> Option<i64> {
    match format {
        Format::Prometheus004 => tok.parse::<i64>().ok(),
        Format::OpenMetrics1 => seconds_to_ms(tok),
    }
}

fn seconds_to_ms(tok: &str) -> Option<i64> {
    let secs = parse_value(tok).filter(|s| s.is_finite())?;
    // `as` saturates out-of-range values instead of wrapping.
    Some((secs * 1000.0).round() as i64)
}

/// After ` # `: `{labels} value [timestamp-in-seconds]`.
fn parse_exemplar<'a>(
    cur: &mut Cursor<'a>,
    sample: &str,
    scratch: &mut Pairs<'a>,
) -> Result<Exemplar<'a>, ParseError> {
    cur.skip_ws();
    if cur.peek() != Some(b'{') {
        return Err(cur.unexpected("'{' starting the exemplar's labels"));
    }
    let labels = cur.label_set(scratch, None)?;
    let value = number(cur, 0, "the exemplar value", parse_value, |value| {
        ErrorKind::InvalidValue {
            value,
            sample: format!("{} (exemplar)", shorten(sample)),
        }
    })?;
    cur.skip_ws();
    let mut timestamp_ms = None;
    if !cur.at_end() {
        let at = cur.pos();
        let tok = cur.token();
        timestamp_ms = Some(seconds_to_ms(tok).ok_or_else(|| {
            cur.error_at(
                at,
                ErrorKind::InvalidTimestamp {
                    value: shorten(tok),
                    sample: format!("{} (exemplar)", shorten(sample)),
                },
            )
        })?);
    }
    Ok(Exemplar {
        labels,
        value,
        timestamp_ms,
    })
}
