//! Mapping profiles: data (`assets/profiles/*.toml`, and the user's own files) that say which
//! series mean breaker state, rejected calls, retries, timeouts, queue depth, pool use and
//! latency, and which label names the dependency. This module loads and validates them (errors
//! name the file and the field) and answers "which entries match this series name".
//!
//! Matching is by [`match_key`]: the sanitized name without `_total`, so a profile written with
//! Prometheus names also matches OTLP metrics (`resilience.polly.strategy.events`). Entries with
//! an exact name win over `*` glob entries for the same name, and globs of profiles marked
//! `fallback = true` (the shipped `generic`) apply only when no other entry matches, so a
//! catch-all profile never double-counts a series a specific profile maps.

mod compile;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use compile::name_unit_factor;
use compile::{UNIT_SUFFIXES, glob, parse};
pub use spec::{Encoding, ProfileSpec};

use super::resilience::BreakerState;
use super::series::{Labels, match_key};

/// The shipped profiles, compiled in so the binary works anywhere.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "caches.toml",
        include_str!("../../assets/profiles/caches.toml"),
    ),
    (
        "resilience4j.toml",
        include_str!("../../assets/profiles/resilience4j.toml"),
    ),
    (
        "hystrix.toml",
        include_str!("../../assets/profiles/hystrix.toml"),
    ),
    (
        "envoy.toml",
        include_str!("../../assets/profiles/envoy.toml"),
    ),
    (
        "istio.toml",
        include_str!("../../assets/profiles/istio.toml"),
    ),
    (
        "polly.toml",
        include_str!("../../assets/profiles/polly.toml"),
    ),
    (
        "opossum.toml",
        include_str!("../../assets/profiles/opossum.toml"),
    ),
    (
        "haproxy.toml",
        include_str!("../../assets/profiles/haproxy.toml"),
    ),
    (
        "hikaricp.toml",
        include_str!("../../assets/profiles/hikaricp.toml"),
    ),
    (
        "otel-semconv.toml",
        include_str!("../../assets/profiles/otel-semconv.toml"),
    ),
    (
        "linkerd.toml",
        include_str!("../../assets/profiles/linkerd.toml"),
    ),
    (
        "jvm-executors.toml",
        include_str!("../../assets/profiles/jvm-executors.toml"),
    ),
    (
        "service-graph.toml",
        include_str!("../../assets/profiles/service-graph.toml"),
    ),
    (
        "generic.toml",
        include_str!("../../assets/profiles/generic.toml"),
    ),
];

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {}: {source}", file.display())]
    Io {
        /// The file or directory.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type or unknown.
    #[error("profile {}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The TOML error (it names the line and the key).
        message: String,
    },
    /// A field with a value that means nothing.
    #[error("profile {}: {field}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The field, e.g. `breaker[0].states.open`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// What a `[[signal]]` series means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Calls rejected without being tried (counter).
    Rejected,
    /// Retries (counter).
    Retry,
    /// Timeouts (counter).
    Timeout,
    /// Queued calls (gauge).
    QueueDepth,
    /// Queue capacity (gauge).
    QueueCapacity,
    /// Free queue slots; capacity = depth + remaining (gauge).
    QueueRemaining,
    /// Busy bulkhead / pool slots (gauge).
    PoolUsed,
    /// Bulkhead / pool size (gauge).
    PoolMax,
    /// Free slots; used = max − available (gauge).
    PoolAvailable,
    /// Idle connections; used = max − idle when no `pool_used` series (gauge).
    PoolIdle,
    /// Calls in flight now, e.g. `http.client.active_requests` (gauge): the only view of calls
    /// that never end.
    InFlight,
    /// Latency histogram or summary.
    Latency,
    /// Calls refused because a pool, bulkhead or queue was full (counter): Envoy
    /// `*_overflow`, resilience4j bulkhead rejections, Hystrix thread-pool/semaphore rejections,
    /// pool acquisition timeouts. A subset of `rejected` that means saturation, not an open
    /// breaker (BLK-001).
    Overflow,
    /// Retries a retry budget or limit stopped (counter): Envoy `upstream_rq_retry_overflow`,
    /// Linkerd `retry_overflow`, Finagle `retries/budget_exhausted`. A series here means a
    /// budget exists; a non-zero rate means it is biting (RTY-004).
    RetryOverflow,
    /// Cache lookups that found the value (counter): redis_exporter
    /// `redis_keyspace_hits_total`, Micrometer/Caffeine `cache_gets_total{result="hit"}`.
    /// Summed as the increase over the window (`model::cache`).
    CacheHit,
    /// Cache lookups that did not (counter): `redis_keyspace_misses_total`,
    /// `cache_gets_total{result="miss"}`.
    CacheMiss,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "rejected" => Role::Rejected,
            "retry" => Role::Retry,
            "timeout" => Role::Timeout,
            "queue_depth" => Role::QueueDepth,
            "queue_capacity" => Role::QueueCapacity,
            "queue_remaining" => Role::QueueRemaining,
            "pool_used" => Role::PoolUsed,
            "pool_max" => Role::PoolMax,
            "pool_available" => Role::PoolAvailable,
            "pool_idle" => Role::PoolIdle,
            "in_flight" => Role::InFlight,
            "latency" => Role::Latency,
            "overflow" => Role::Overflow,
            "retry_overflow" => Role::RetryOverflow,
            "cache_hit" => Role::CacheHit,
            "cache_miss" => Role::CacheMiss,
            _ => return None,
        })
    }

    /// Whether the series is a counter whose rate is wanted.
    pub fn is_counter(self) -> bool {
        matches!(
            self,
            Role::Rejected
                | Role::Retry
                | Role::Timeout
                | Role::Overflow
                | Role::RetryOverflow
                | Role::CacheHit
                | Role::CacheMiss
        )
    }
}

/// Which part of a breaker entry a series feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The entry's `metric`.
    Main,
    /// The entry's `total_metric` (ejection).
    Total,
}

/// What a matched series feeds.
#[derive(Clone, Debug)]
pub enum Target {
    /// A breaker entry: the index into [`ProfileSet::breakers`], and the part.
    Breaker(usize, Part),
    /// A signal role; for latency, the factor from the series' unit to seconds when the
    /// profile gives the unit (else it comes from the series name, see [`name_unit_factor`]).
    Signal(Role, Option<f64>),
}

/// A compiled `[[breaker]]` entry.
#[derive(Clone, Debug)]
pub struct BreakerDef {
    /// `profile:metric`, shown as the breaker source.
    pub source: Arc<str>,
    /// The encoding.
    pub encoding: Encoding,
    /// Label holding the state (one_hot, endpoints) or the event (events).
    pub label: Option<String>,
    /// Label value / event name / gauge value → state.
    pub map: HashMap<String, BreakerState>,
    /// For endpoints: state label values that mean ejected.
    pub ejected_values: Vec<String>,
    /// For events: events of calls that went through (seen while open: half-open).
    pub probe_events: Vec<String>,
    /// For events: open → closed passes through half-open.
    pub half_open_implied: bool,
}

/// One compiled entry: a name pattern, a label filter, and what it feeds.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Index of the profile in [`ProfileSet::names`].
    pub profile: usize,
    /// What it feeds.
    pub target: Target,
    /// label → accepted values (`*`: present with any value, `!`: absent).
    pub filter: Vec<(String, Vec<String>)>,
    /// Labels naming the dependency, first present wins.
    pub dependency_labels: Arc<[String]>,
    /// Labels naming the caller, first present wins.
    pub caller_labels: Arc<[String]>,
}

impl Matcher {
    /// Whether a series' labels pass the filter.
    pub fn accepts(&self, labels: &Labels) -> bool {
        self.filter
            .iter()
            .all(|(name, values)| match labels.get(name) {
                Some(v) => values.iter().any(|w| w == "*" || w == v),
                None => values.iter().any(|w| w == "!"),
            })
    }

    /// The dependency a series names, if any of the dependency labels is set.
    pub fn dependency<'a>(&self, labels: &'a Labels) -> Option<&'a str> {
        first_label(labels, &self.dependency_labels)
    }

    /// The caller a series names (`None`: the labels do not say).
    pub fn caller<'a>(&self, labels: &'a Labels) -> Option<&'a str> {
        first_label(labels, &self.caller_labels)
    }
}

fn first_label<'a>(labels: &'a Labels, names: &[String]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| labels.get(n))
        .find(|v| !v.is_empty())
}

/// All loaded profiles, compiled for lookup by series name.
#[derive(Debug, Default)]
pub struct ProfileSet {
    /// Profile names, in load order.
    pub names: Vec<String>,
    /// Compiled breaker entries.
    pub breakers: Vec<BreakerDef>,
    /// Metric dependency name → trace dependency name, from every profile.
    pub aliases: HashMap<String, String>,
    exact: HashMap<String, Vec<Matcher>>,
    globs: Vec<(String, Matcher)>,
    fallback_globs: Vec<(String, Matcher)>,
    patterns: Vec<Vec<String>>,
}

impl ProfileSet {
    /// The shipped profiles, parsed once per process.
    pub fn builtin() -> Arc<ProfileSet> {
        static SET: OnceLock<Arc<ProfileSet>> = OnceLock::new();
        SET.get_or_init(|| {
            // The shipped files are checked by the tests, so this does not fail; if it did, an
            // empty set keeps faultline running without metric mapping.
            Arc::new(Self::load(&[]).unwrap_or_default())
        })
        .clone()
    }

    /// The shipped profiles plus every `*.toml` in `dirs` (a user file whose `name` equals a
    /// shipped profile's replaces it).
    pub fn load(dirs: &[PathBuf]) -> Result<ProfileSet, ProfileError> {
        let mut specs: Vec<(PathBuf, ProfileSpec)> = Vec::new();
        for (file, text) in BUILTIN {
            let path = Path::new("assets/profiles").join(file);
            specs.push((path.clone(), parse(&path, text)?));
        }
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|source| ProfileError::Io {
                    file: dir.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for path in files {
                let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Io {
                    file: path.clone(),
                    source,
                })?;
                let spec = parse(&path, &text)?;
                specs.retain(|(_, s)| s.name != spec.name);
                specs.push((path, spec));
            }
        }
        let mut set = ProfileSet::default();
        for (path, spec) in specs {
            set.add(&path, spec)?;
        }
        Ok(set)
    }

    /// Whether any entry maps a series named `name` (what [`ProfileSet::lookup`] would find).
    pub fn maps(&self, name: &str) -> bool {
        let key = match_key(name);
        let bare = UNIT_SUFFIXES
            .iter()
            .find_map(|s| key.strip_suffix(s))
            .filter(|b| !b.is_empty());
        std::iter::once(key.as_str())
            .chain(bare)
            .any(|k| self.exact.contains_key(k))
            || self
                .globs
                .iter()
                .chain(&self.fallback_globs)
                .any(|(pat, _)| glob(pat, &key))
    }

    /// The entries that apply to a series named `name` (exact entries win over globs).
    /// A name with a unit suffix also matches an entry written without it (the OTel name:
    /// `http_client_request_duration_seconds` matches `http.client.request.duration`).
    pub fn lookup(&self, name: &str) -> Vec<Matcher> {
        let key = match_key(name);
        let bare = UNIT_SUFFIXES
            .iter()
            .find_map(|s| key.strip_suffix(s))
            .filter(|b| !b.is_empty());
        for k in std::iter::once(key.as_str()).chain(bare) {
            if let Some(m) = self.exact.get(k) {
                return m.clone();
            }
        }
        let matching = |globs: &[(String, Matcher)]| -> Vec<Matcher> {
            globs
                .iter()
                .filter(|(pat, _)| glob(pat, &key))
                .map(|(_, m)| m.clone())
                .collect()
        };
        let found = matching(&self.globs);
        if found.is_empty() {
            matching(&self.fallback_globs)
        } else {
            found
        }
    }
}
