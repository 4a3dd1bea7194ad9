//! Metric series: the one model that Prometheus scrapes, PromQL results and OTLP metrics all
//! decode into. Names and label names are Prometheus-style (OTel names are translated by the
//! rules of the reference's §0), so one mapping profile matches every source.

use std::sync::Arc;

/// The labels of one series, sorted by name, names Prometheus-style (`service_name`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(Arc<str>, Arc<str>)>);

impl Labels {
    /// Labels from pairs in any order; the last of two equal names wins.
    pub fn new(mut pairs: Vec<(Arc<str>, Arc<str>)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Labels(pairs)
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// Sets `name` unless it is already present.
    pub fn insert_missing(&mut self, name: &str, value: Arc<str>) {
        if let Err(i) = self.0.binary_search_by(|(n, _)| (**n).cmp(name)) {
            self.0.insert(i, (Arc::from(name), value));
        }
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What kind of metric a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// A monotonic count (Prometheus counter, OTLP monotonic Sum).
    Counter,
    /// A value that goes up and down (gauge, non-monotonic Sum, untyped).
    Gauge,
    /// Classic explicit-bucket histogram.
    Histogram,
    /// OTLP exponential (or Prometheus native) histogram.
    ExponentialHistogram,
    /// Pre-computed quantiles.
    Summary,
}

/// Explicit-bucket histogram values, cumulative over time (or a delta, see [`SeriesPoint`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicHistogram {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// `(upper bound, cumulative count)` pairs in increasing bound order, `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
}

/// Exponential histogram values (positive side; durations are never negative).
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialHistogram {
    /// OTLP scale.
    pub scale: i32,
    /// Observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: Option<f64>,
    /// Values in the zero bucket.
    pub zero_count: u64,
    /// The zero bucket's threshold.
    pub zero_threshold: f64,
    /// Index of `counts[0]`.
    pub offset: i32,
    /// Per-bucket counts (not cumulative).
    pub counts: Vec<u64>,
    /// Smallest observation, if known.
    pub min: Option<f64>,
    /// Largest observation, if known.
    pub max: Option<f64>,
}

/// A summary point: pre-computed quantiles.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryValue {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// `(quantile, value)` pairs.
    pub quantiles: Vec<(f64, f64)>,
}

/// The value of one data point.
#[derive(Clone, Debug, PartialEq)]
pub enum PointValue {
    /// Counter or gauge value.
    Number(f64),
    /// Classic histogram.
    Histogram(ClassicHistogram),
    /// Exponential histogram.
    Exponential(ExponentialHistogram),
    /// Summary.
    Summary(SummaryValue),
}

/// One data point of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPoint {
    /// Prometheus-style name: `_total` on counters, unit suffix, histogram base name.
    pub name: Arc<str>,
    /// The metric kind.
    pub kind: SeriesKind,
    /// Labels, including `job`/`instance` from the resource when the point had none.
    pub labels: Labels,
    /// When the value was observed, Unix nanoseconds.
    pub t_ns: u64,
    /// Start of a cumulative series (a change means a reset), Unix nanoseconds, if known.
    pub start_ns: Option<u64>,
    /// Whether the value is a delta since the previous point (OTLP delta temporality) rather
    /// than cumulative.
    pub delta: bool,
    /// The value.
    pub value: PointValue,
}

/// Health of one metric source (a scrape target or a PromQL server) as of its last attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStatus {
    /// `scrape` or `promql`.
    pub kind: &'static str,
    /// The URL.
    pub url: String,
    /// The job name its series carry.
    pub job: String,
    /// Whether the last attempt succeeded.
    pub up: bool,
    /// The last error, if the last attempt failed (or parsed with bad lines).
    pub last_error: Option<String>,
    /// When the last attempt finished, Unix nanoseconds.
    pub at_ns: u64,
    /// Duration of the last attempt, milliseconds.
    pub duration_ms: u64,
}

/// Replaces every character Prometheus does not allow in a name by `_` and collapses runs of
/// `_` (the OTel→Prometheus rule: `db.client.connection.count` → `db_client_connection_count`).
/// A leading digit gets a `_` in front.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == ':' {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus word for a UCUM unit (`s` → `seconds`), `None` for units that add no suffix
/// (annotations such as `{connection}`, empty).
fn unit_word(unit: &str) -> Option<String> {
    let unit = unit.trim();
    if unit.is_empty() || unit.starts_with('{') {
        return None;
    }
    let word = |u: &str| -> Option<&'static str> {
        Some(match u {
            "d" => "days",
            "h" => "hours",
            "min" => "minutes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "By" => "bytes",
            "KiBy" => "kibibytes",
            "MiBy" => "mebibytes",
            "GiBy" => "gibibytes",
            "KBy" => "kilobytes",
            "MBy" => "megabytes",
            "GBy" => "gigabytes",
            "m" => "meters",
            "V" => "volts",
            "A" => "amperes",
            "J" => "joules",
            "W" => "watts",
            "g" => "grams",
            "Cel" => "celsius",
            "Hz" => "hertz",
            "%" => "percent",
            _ => return None,
        })
    };
    let strip = |u: &str| u.split('{').next().unwrap_or("").trim().to_owned();
    match unit.split_once('/') {
        Some((a, b)) => {
            let a = strip(a);
            let b = strip(b);
            let a = word(&a).map_or_else(|| sanitize(&a), str::to_owned);
            let b = match b.as_str() {
                "s" => "second".to_owned(),
                "m" => "minute".to_owned(),
                "h" => "hour".to_owned(),
                "d" => "day".to_owned(),
                other => word(other).map_or_else(|| sanitize(other), str::to_owned),
            };
            Some(if a.is_empty() {
                format!("per_{b}")
            } else {
                format!("{a}_per_{b}")
            })
        }
        None => {
            let u = strip(unit);
            if u.is_empty() {
                None
            } else {
                Some(word(&u).map_or_else(|| sanitize(&u), str::to_owned))
            }
        }
    }
}

/// Translates an OTel metric name to its Prometheus name (reference §0): dots and other
/// characters to `_`, the unit appended unless the name already has it (`s` → `_seconds`,
/// `By` → `_bytes`, `{…}` dropped, a gauge of unit `1` → `_ratio`), `_total` appended to
/// monotonic sums. Names that are already Prometheus-style without a unit pass unchanged.
pub fn prometheus_name(name: &str, unit: &str, kind: SeriesKind) -> String {
    let mut out = sanitize(name);
    let tokens = |s: &str| s.split('_').map(str::to_owned).collect::<Vec<_>>();
    let suffix = match (unit.trim(), kind) {
        ("1", SeriesKind::Gauge) => Some("ratio".to_owned()),
        ("1", _) => None,
        (u, _) => unit_word(u),
    };
    if let Some(word) = suffix {
        let have = tokens(&out);
        let want = tokens(&word);
        let present = have.windows(want.len()).any(|w| w == want.as_slice());
        if !present {
            let base = out.strip_suffix("_total").map(str::to_owned);
            let had_total = base.is_some();
            out = base.unwrap_or(out);
            out = format!("{}_{word}", out.trim_end_matches('_'));
            if had_total {
                out.push_str("_total");
            }
        }
    }
    if kind == SeriesKind::Counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// The key under which a name is matched against profiles: the sanitized name without a
/// trailing `_total`, so `circuit` (prom-client), `circuit_total` (OpenMetrics) and an OTLP
/// monotonic sum `circuit` all match one profile entry.
pub fn match_key(name: &str) -> String {
    let s = sanitize(name);
    match s.strip_suffix("_total") {
        Some(base) if !base.is_empty() => base.to_owned(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_names_translate_as_the_collector_does() {
        let c = SeriesKind::Counter;
        let g = SeriesKind::Gauge;
        let h = SeriesKind::Histogram;
        assert_eq!(
            prometheus_name("resilience.polly.strategy.events", "{event}", c),
            "resilience_polly_strategy_events_total"
        );
        assert_eq!(
            prometheus_name("resilience.polly.strategy.attempt.duration", "ms", h),
            "resilience_polly_strategy_attempt_duration_milliseconds"
        );
        assert_eq!(
            prometheus_name("http.client.request.duration", "s", h),
            "http_client_request_duration_seconds"
        );
        assert_eq!(
            prometheus_name("db.client.connection.count", "{connection}", g),
            "db_client_connection_count"
        );
        assert_eq!(
            prometheus_name("system.memory.usage", "By", g),
            "system_memory_usage_bytes"
        );
        assert_eq!(
            prometheus_name("cpu.utilization", "1", g),
            "cpu_utilization_ratio"
        );
        assert_eq!(
            prometheus_name("request_duration_seconds", "s", h),
            "request_duration_seconds"
        );
        assert_eq!(prometheus_name("circuit", "", c), "circuit_total");
        assert_eq!(prometheus_name("x_total", "", c), "x_total");
        assert_eq!(
            prometheus_name("net.io", "By/s", g),
            "net_io_bytes_per_second"
        );
    }

    #[test]
    fn match_keys_ignore_total() {
        assert_eq!(match_key("circuit"), "circuit");
        assert_eq!(match_key("circuit_total"), "circuit");
        assert_eq!(
            match_key("resilience.polly.strategy.events"),
            "resilience_polly_strategy_events"
        );
        assert_eq!(match_key("_total"), "_total");
    }

    #[test]
    fn labels_sort_and_dedup() {
        let a = |s: &str| Arc::<str>::from(s);
        let l = Labels::new(vec![(a("b"), a("1")), (a("a"), a("2")), (a("b"), a("3"))]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("b"), Some("3"));
        let mut l = l;
        l.insert_missing("job", a("x"));
        l.insert_missing("a", a("ignored"));
        assert_eq!(l.get("a"), Some("2"));
        assert_eq!(
            l.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            ["a", "b", "job"]
        );
    }
}
