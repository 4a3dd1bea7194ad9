//! Parser for the Prometheus text exposition format 0.0.4 (and its 1.0.0 UTF-8 variant) and
//! OpenMetrics 1.0 text: a pure function from the body of a `/metrics` response to metric
//! families. No I/O.
//!
//! Written by hand rather than taken from a crate: the Rust crates for this are unmaintained,
//! mis-parse `}` or `,` inside quoted label values (they split lines with regexes), or are LGPL.
//! A byte scanner is also several times faster than the regex-based ones (see
//! `docs/performance.md`).
//!
//! What it accepts, and the decisions taken where the formats leave room:
//! - `# HELP` (escapes `\\`, `\n`; in OpenMetrics also `\"`), `# TYPE` (every type of both
//!   formats, in either format), `# UNIT`, and in OpenMetrics `# EOF`. Other comments and blank
//!   lines are ignored. Leading/trailing spaces and tabs and a trailing `\r` are tolerated.
//! - Label values with `\"`, `\\`, `\n` escapes and any UTF-8, `}` `,` `=` included; other
//!   backslash sequences are kept as written (as Prometheus does). Empty `{}` and trailing
//!   commas are fine. Quoted metric names `{"my.metric", a="b"}` and quoted label names
//!   `{"my.label"="x"}` (Prometheus 3 / OpenMetrics 2.0) are accepted.
//! - Values: floats, integers, `NaN`, `+Inf`, `-Inf`, `Inf`. Timestamps: integer milliseconds
//!   in text 0.0.4; float seconds in OpenMetrics, stored as milliseconds.
//! - Exemplars (` # {trace_id="abc"} 0.67 1520879607.789`) on any sample, in either format.
//! - Errors: [`parse`] fails the whole exposition on its first bad line, as a Prometheus scrape
//!   does. [`parse_lenient`] skips bad lines and returns the families of the good ones plus one
//!   [`ParseError`] per bad line, so a scrape with one bad line still shows something and names
//!   the line. In OpenMetrics a missing `# EOF` (a truncated body) and data after it are errors.
//! - It is a superset of both formats: OpenMetrics rules that do not change the meaning of the
//!   data (no blank lines, counters must end in `_total`, …) are not enforced.
//!
//! ```
//! use faultline::ingest::prom_text::{MetricType, detect_format, parse};
//! use faultline::model::histogram::{Bucket, Quantile, histogram_quantile};
//!
//! let body = "# TYPE rpc_seconds histogram\n\
//!             rpc_seconds_bucket{le=\"0.1\"} 8\n\
//!             rpc_seconds_bucket{le=\"+Inf\"} 10\n\
//!             rpc_seconds_count 10\n";
//! let families = parse(body, detect_format(Some("text/plain; version=0.0.4"), body))?;
//! let rpc = &families[0];
//! assert_eq!((&*rpc.name, rpc.kind), ("rpc_seconds", MetricType::Histogram));
//! let buckets: Vec<Bucket> = rpc.samples.iter()
//!     .filter_map(|s| Bucket::from_le(s.label("le")?, s.value))
//!     .collect();
//! assert_eq!(histogram_quantile(0.5, &buckets), Quantile::Value(0.0625));
//! assert_eq!(histogram_quantile(0.99, &buckets), Quantile::AtLeast(0.1));
//! # Ok::<(), faultline::ingest::prom_text::ParseError>(())
//! ```

mod error;
mod families;
mod labels;
mod lexer;
mod line;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

use std::borrow::Cow;

pub use error::{ErrorKind, ParseError};
pub use labels::{LabelIter, LabelSet};

use line::Line;

/// The `Accept` header Prometheus 3 sends when scraping text formats, in the same preference
/// order: OpenMetrics 1.0, OpenMetrics 0.0.1, text 1.0.0 (UTF-8 names), text 0.0.4.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

/// Which text format an exposition is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and `version=1.0.0`): timestamps in integer milliseconds.
    Prometheus004,
    /// `application/openmetrics-text; version=1.0.0` (and `0.0.1`): timestamps in float
    /// seconds, the body ends with `# EOF`.
    OpenMetrics1,
}

/// A metric family's type, from its `# TYPE` line ([`MetricType::Unknown`] when it has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonic count; samples `name`, `name_total`, `name_created`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Classic cumulative histogram: `_bucket{le=..}`, `_count`, `_sum`, `_created`.
    Histogram,
    /// OpenMetrics gauge histogram: `_bucket{le=..}`, `_gcount`, `_gsum`.
    GaugeHistogram,
    /// Summary: `name{quantile=..}`, `_count`, `_sum`, `_created`.
    Summary,
    /// OpenMetrics info: `name_info{...} 1`.
    Info,
    /// OpenMetrics state set: one 0/1 sample per state, the state in the label named like the
    /// family.
    StateSet,
    /// `untyped` (text 0.0.4), `unknown` (OpenMetrics), or no `# TYPE` line at all.
    Unknown,
}

impl MetricType {
    /// The type for a `# TYPE` word of either format, e.g. `"counter"`; `None` if unknown.
    pub fn from_type_word(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The OpenMetrics name of the type (`unknown` for untyped).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// A metric family: the samples that share one `# TYPE` name, with its metadata.
///
/// Strings borrow from the parsed text (`Cow::Borrowed`) unless unescaping changed them; use
/// [`MetricFamily::into_owned`] to keep a family beyond the text's lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily<'a> {
    /// The name on the `# TYPE`/`# HELP` line (`foo` for `foo_bucket`); for an untyped sample
    /// without metadata, the sample's own name.
    pub name: Cow<'a, str>,
    /// `# HELP` text, unescaped.
    pub help: Option<Cow<'a, str>>,
    /// `# UNIT` (OpenMetrics), e.g. `seconds`.
    pub unit: Option<Cow<'a, str>>,
    /// `# TYPE`, or [`MetricType::Unknown`].
    pub kind: MetricType,
    /// Samples in exposition order.
    pub samples: Vec<Sample<'a>>,
}

impl MetricFamily<'_> {
    /// The same family owning all its strings.
    pub fn into_owned(self) -> MetricFamily<'static> {
        MetricFamily {
            name: owned(self.name),
            help: self.help.map(owned),
            unit: self.unit.map(owned),
            kind: self.kind,
            samples: self.samples.into_iter().map(Sample::into_owned).collect(),
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The full sample name, e.g. `http_request_duration_seconds_bucket`.
    pub name: Cow<'a, str>,
    /// Labels in written order, values unescaped (`le` and `quantile` included).
    pub labels: LabelSet<'a>,
    /// The value; may be NaN or ±Inf.
    pub value: f64,
    /// Milliseconds since the Unix epoch, if the line had a timestamp.
    pub timestamp_ms: Option<i64>,
    /// The exemplar after ` # `, if any (boxed: rare, and it keeps samples small).
    pub exemplar: Option<Box<Exemplar<'a>>>,
}

impl Sample<'_> {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name)
    }

    /// The same sample owning all its strings.
    pub fn into_owned(self) -> Sample<'static> {
        Sample {
            name: owned(self.name),
            labels: self.labels.into_owned(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
            exemplar: self.exemplar.map(|e| Box::new(e.into_owned())),
        }
    }
}

/// An OpenMetrics exemplar: a sampled observation with its own labels (usually a trace id).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's labels, e.g. `trace_id`.
    pub labels: LabelSet<'a>,
    /// The observed value.
    pub value: f64,
    /// Milliseconds since the Unix epoch (written as float seconds), if given.
    pub timestamp_ms: Option<i64>,
}

impl Exemplar<'_> {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name)
    }

    /// The same exemplar owning all its strings.
    pub fn into_owned(self) -> Exemplar<'static> {
        Exemplar {
            labels: self.labels.into_owned(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

fn owned(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

/// Parses a whole exposition; fails on the first bad line, as a Prometheus scrape does.
pub fn parse(text: &str, format: Format) -> Result<Vec<MetricFamily<'_>>, ParseError> {
    let (families, errors) = run(text, format, true);
    match errors.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(families),
    }
}

/// Parses a whole exposition, skipping bad lines: the families of the good lines, and one
/// error per bad line in line order.
pub fn parse_lenient(text: &str, format: Format) -> (Vec<MetricFamily<'_>>, Vec<ParseError>) {
    run(text, format, false)
}

/// The format of a scraped body: from the `Content-Type` header when it names one, else
/// OpenMetrics if the body's last line is `# EOF`, else text 0.0.4.
pub fn detect_format(content_type: Option<&str>, body: &str) -> Format {
    if let Some(ct) = content_type {
        let media = ct.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            return Format::OpenMetrics1;
        }
        if media.eq_ignore_ascii_case("text/plain") {
            return Format::Prometheus004;
        }
    }
    let last = body.trim_end().rsplit('\n').next().unwrap_or("");
    if last.trim() == "# EOF" {
        Format::OpenMetrics1
    } else {
        Format::Prometheus004
    }
}

fn run(text: &str, format: Format, strict: bool) -> (Vec<MetricFamily<'_>>, Vec<ParseError>) {
    let mut builder = families::Builder::new();
    let mut errors = Vec::new();
    let mut scratch = Vec::new();
    let mut eof_line = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if eof_line.is_some() {
            if !line.trim().is_empty() {
                errors.push(at_line_start(line_no, ErrorKind::DataAfterEof));
                break;
            }
            continue;
        }
        let result = match line::parse_line(line, line_no, format, &mut scratch) {
            Ok(Line::Skip) => Ok(()),
            Ok(Line::Sample(sample)) => {
                builder.sample(sample);
                Ok(())
            }
            Ok(Line::Help(name, text)) => builder.help(name, text),
            Ok(Line::Type(name, kind)) => builder.set_type(name, kind),
            Ok(Line::Unit(name, unit)) => builder.unit(name, unit),
            Ok(Line::Eof) => {
                eof_line = Some(line_no);
                Ok(())
            }
            Err(e) => {
                errors.push(e);
                Ok(())
            }
        };
        if let Err(kind) = result {
            errors.push(at_line_start(line_no, kind));
        }
        if strict && !errors.is_empty() {
            return (builder.finish(), errors);
        }
    }
    if format == Format::OpenMetrics1 && eof_line.is_none() {
        let last = text.trim_end_matches(['\n', '\r']).split('\n').count();
        errors.push(at_line_start(last.max(1), ErrorKind::MissingEof));
    }
    (builder.finish(), errors)
}

/// An error about a whole line (metadata conflicts, EOF problems): column 1.
fn at_line_start(line: usize, kind: ErrorKind) -> ParseError {
    ParseError {
        line,
        column: 1,
        kind,
    }
}
