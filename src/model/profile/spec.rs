//! The serde schema of a mapping profile file (`assets/profiles/*.toml`). Unknown fields are
//! errors, so a typo in a user's profile is reported rather than silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One profile file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// Unique name; a user file with the name of a shipped one replaces it.
    pub name: String,
    /// What the profile covers.
    #[serde(default)]
    pub description: String,
    /// Catch-all: its `*` patterns apply only to names no other profile entry matches.
    #[serde(default)]
    pub fallback: bool,
    /// Labels that name the dependency, first present wins (default for every entry).
    #[serde(default)]
    pub dependency_labels: Vec<String>,
    /// Labels that name the caller, first present wins; default `["job"]`.
    #[serde(default)]
    pub caller_labels: Vec<String>,
    /// Metric dependency name → trace dependency name.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Series that say what state a breaker is in.
    #[serde(default)]
    pub breaker: Vec<BreakerSpec>,
    /// Series with one meaning each: rejected calls, retries, queue depth, latency, …
    #[serde(default)]
    pub signal: Vec<SignalSpec>,
}

/// A label filter value: one value, or any of several (`"*"`: the label is present with any
/// value; `"!"`: the label is absent).
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Any of these.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// How a breaker's state is encoded in its series.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One series per state (label `state_label`), the current one is 1 (resilience4j).
    OneHot,
    /// A 0/1 gauge: 1 is `open`, 0 `closed` (Hystrix).
    Flag,
    /// A numeric gauge whose values map to states (`values`).
    ValueMap,
    /// Counters of transition events (label `event_label`, `events` maps values to the state
    /// entered): the state is rebuilt from their increments (Polly, opossum).
    Events,
    /// 0/1 admission-limit gauges: any 1 is `at_capacity`, else `closed` (Envoy).
    Admission,
    /// A gauge of ejected hosts (and `total_metric`, the host count): `ejected n/m` while
    /// n > 0, else `closed` (Envoy outlier detection).
    Ejection,
    /// A gauge of endpoints by state (label `state_label`); those in `ejected_values` are
    /// ejected: `ejected n/m` while n > 0 (Linkerd).
    Endpoints,
}

/// One `[[breaker]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Metric name (Prometheus or OTel spelling; `_total` optional; `*` globs allowed).
    pub metric: String,
    /// The encoding.
    pub encoding: Encoding,
    /// Extra label filter: label → value(s).
    #[serde(default, rename = "match")]
    pub matches: BTreeMap<String, OneOrMany>,
    /// For `one_hot` and `endpoints`: the label holding the state.
    pub state_label: Option<String>,
    /// For `one_hot`: label value → unified state.
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    /// For `value_map`: gauge value (as written, e.g. `"2"`) → unified state.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// For `events`: the label holding the event name.
    pub event_label: Option<String>,
    /// For `events`: event name → the state it enters.
    #[serde(default)]
    pub events: BTreeMap<String, String>,
    /// For `events`: events that mean a call went through (`success`, `failure`); seen while
    /// open, they mean the breaker is half-open (for exporters that do not count half-open).
    #[serde(default)]
    pub probe_events: Vec<String>,
    /// For `events`: open → closed passes through half-open (the library only closes after a
    /// trial call), so a close seen while open records half-open first.
    #[serde(default)]
    pub half_open_implied: bool,
    /// For `ejection`: the metric counting all hosts.
    pub total_metric: Option<String>,
    /// For `endpoints`: state label values that mean ejected.
    #[serde(default)]
    pub ejected_values: Vec<String>,
    /// Overrides the profile's `dependency_labels`.
    pub dependency_labels: Option<Vec<String>>,
    /// Overrides the profile's `caller_labels`.
    pub caller_labels: Option<Vec<String>>,
}

/// One `[[signal]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    /// What the series means: `rejected`, `retry`, `timeout` (counters); `queue_depth`,
    /// `queue_capacity`, `queue_remaining`, `pool_used`, `pool_max`, `pool_available`,
    /// `pool_idle` (gauges); `latency` (histogram or summary); `cache_hit`, `cache_miss` (counters).
    pub role: String,
    /// Metric name (Prometheus or OTel spelling; `_total` optional; `*` globs allowed).
    pub metric: String,
    /// Extra label filter: label → value(s).
    #[serde(default, rename = "match")]
    pub matches: BTreeMap<String, OneOrMany>,
    /// For `latency`: unit of the values, `s`, `ms`, `us` or `ns` (default: from the name's
    /// suffix, else seconds).
    pub unit: Option<String>,
    /// Overrides the profile's `dependency_labels`.
    pub dependency_labels: Option<Vec<String>>,
    /// Overrides the profile's `caller_labels`.
    pub caller_labels: Option<Vec<String>>,
}
