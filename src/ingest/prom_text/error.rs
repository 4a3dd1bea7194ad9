//! The typed error of the Prometheus text parser: what went wrong, and where.

use thiserror::Error;

/// Longest piece of input quoted back in an error message, in characters. Longer tokens are cut
/// and end in `…`, so one absurd line cannot make a huge error.
const MAX_QUOTED: usize = 48;

/// One parse failure, located in the exposition.
///
/// Displays as `line 12, column 11: invalid value "abc" for sample foo_total`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number in the exposition.
    pub line: usize,
    /// 1-based column (in characters) where the offending token starts.
    pub column: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

/// What was wrong with a line. Quoted input is shortened to a few dozen characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A token other than the one the grammar allows here.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows at this point, e.g. `a metric name`.
        expected: &'static str,
        /// What was there instead, quoted, or `end of line`.
        found: String,
    },
    /// A `"` string (label value, quoted name) without its closing quote.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// The sample value is not a float, integer, `NaN` or `±Inf`.
    #[error("invalid value {value:?} for sample {sample}")]
    InvalidValue {
        /// The value token as written.
        value: String,
        /// The sample's metric name.
        sample: String,
    },
    /// The timestamp is not an integer (text 0.0.4, milliseconds) or a finite float
    /// (OpenMetrics, seconds).
    #[error("invalid timestamp {value:?} for sample {sample}")]
    InvalidTimestamp {
        /// The timestamp token as written.
        value: String,
        /// The sample's metric name.
        sample: String,
    },
    /// The same label name twice in one label set.
    #[error("duplicate label {label:?} in sample {sample}")]
    DuplicateLabel {
        /// The repeated label name.
        label: String,
        /// The sample's metric name.
        sample: String,
    },
    /// `# TYPE` names a type that neither format defines.
    #[error("unknown metric type {0:?}")]
    UnknownType(String),
    /// A second `# HELP`, `# TYPE` or `# UNIT` line for the same metric family.
    #[error("second {what} line for metric {family}")]
    DuplicateMetadata {
        /// `HELP`, `TYPE` or `UNIT`.
        what: &'static str,
        /// The family's name.
        family: String,
    },
    /// `# TYPE` after samples of that family were already seen (they were grouped as untyped).
    #[error("TYPE line for metric {0} comes after its samples")]
    TypeAfterSamples(String),
    /// An OpenMetrics exposition that does not end with `# EOF` (usually a truncated body).
    #[error("OpenMetrics exposition does not end with \"# EOF\" (truncated?)")]
    MissingEof,
    /// Non-empty lines after `# EOF`.
    #[error("unexpected data after \"# EOF\"")]
    DataAfterEof,
}

/// Renders a found token for an error message: quoted and shortened, or `end of line`.
pub(crate) fn describe(found: &str) -> String {
    if found.is_empty() {
        return "end of line".to_owned();
    }
    format!("{:?}", shorten(found))
}

/// Cuts `s` to at most [`MAX_QUOTED`] characters, marking the cut with `…`.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
