//! Which metric sources to run (`ingest::sources::MetricSources`) from the command line: `--scrape`, `--prometheus` and their flags, plus an optional
//! TOML file (`--sources FILE`) for per-target settings:
//!
//! ```toml
//! profiles = ["./my-profiles"]          # extra mapping profile directories
//!
//! [[scrape]]
//! url = "http://127.0.0.1:9100/metrics"
//! job = "checkout"                      # default: host:port
//! interval = "5s"                       # default: --scrape-interval
//! timeout = "2s"                        # default: --scrape-timeout
//! bearer_token = "…"                    # or bearer_token_file = "/path"
//! headers = { "X-Tenant" = "a" }
//!
//! [prometheus]
//! url = "http://127.0.0.1:9090"
//! interval = "15s"
//! timeout = "10s"
//! lookback = "15m"                      # start-up range query; "0s" for none
//! step = "15s"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ReceiverArgs;
use crate::ingest::prom_query::PromQuery;
use crate::ingest::prom_scrape::ScrapeTarget;
use crate::ingest::sources::MetricSources;

/// A sources file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The file could not be read.
    #[error("cannot read sources file {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Invalid TOML or fields.
    #[error("sources file {}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong (names the field).
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    profiles: Vec<PathBuf>,
    #[serde(default)]
    scrape: Vec<EndpointSpec>,
    prometheus: Option<EndpointSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointSpec {
    url: String,
    job: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    lookback: Option<String>,
    step: Option<String>,
    bearer_token: Option<String>,
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// From the command line, then the sources file (its entries add to the flags').
pub fn metric_sources(args: &ReceiverArgs) -> Result<MetricSources, SourcesError> {
    let mut out = MetricSources {
        profile_dirs: args.profiles.clone(),
        ..Default::default()
    };
    let timeout = args.scrape_timeout.min(args.scrape_interval);
    for s in &args.scrape {
        let mut t = ScrapeTarget::from_arg(s, args.scrape_interval, timeout);
        t.bearer_token = args.scrape_bearer_token.clone();
        out.scrape.push(t);
    }
    if let Some(url) = &args.prometheus {
        let mut q = PromQuery::new(url);
        q.interval = args.prometheus_interval;
        q.lookback = args.prometheus_lookback;
        q.step = args.prometheus_interval;
        q.bearer_token = args.prometheus_bearer_token.clone();
        out.prometheus = Some(q);
    }
    if let Some(file) = &args.sources {
        add_file(&mut out, file, args)?;
    }
    Ok(out)
}

fn add_file(out: &mut MetricSources, file: &Path, args: &ReceiverArgs) -> Result<(), SourcesError> {
    let text = std::fs::read_to_string(file).map_err(|source| SourcesError::Io {
        file: file.into(),
        source,
    })?;
    let invalid = |message: String| SourcesError::Invalid {
        file: file.into(),
        message,
    };
    let spec: FileSpec =
        toml::from_str(&text).map_err(|e| invalid(e.to_string().trim().replace('\n', " ")))?;
    let base = file.parent().unwrap_or(Path::new("."));
    out.profile_dirs
        .extend(spec.profiles.into_iter().map(|p| base.join(p)));
    let dur =
        |field: &str, v: &Option<String>, default: Duration| -> Result<Duration, SourcesError> {
            match v {
                Some(s) => humantime::parse_duration(s)
                    .map_err(|e| invalid(format!("{field}: invalid duration {s:?}: {e}"))),
                None => Ok(default),
            }
        };
    let token = |field: &str, e: &EndpointSpec| -> Result<Option<String>, SourcesError> {
        match (&e.bearer_token, &e.bearer_token_file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(f)) => std::fs::read_to_string(base.join(f))
                .map(|t| Some(t.trim().to_owned()))
                .map_err(|err| invalid(format!("{field}.bearer_token_file: {err}"))),
            (None, None) => Ok(None),
        }
    };
    for (i, e) in spec.scrape.iter().enumerate() {
        let f = |n: &str| format!("scrape[{i}].{n}");
        let interval = dur(&f("interval"), &e.interval, args.scrape_interval)?;
        let timeout = dur(&f("timeout"), &e.timeout, args.scrape_timeout)?.min(interval);
        let mut t = ScrapeTarget::from_arg(&e.url, interval, timeout);
        if let Some(job) = &e.job {
            t.job = job.clone();
        }
        t.bearer_token = token(&f("bearer_token"), e)?;
        t.headers = e.headers.clone().into_iter().collect();
        out.scrape.push(t);
    }
    if let Some(e) = &spec.prometheus {
        let mut q = PromQuery::new(&e.url);
        q.interval = dur("prometheus.interval", &e.interval, args.prometheus_interval)?;
        q.timeout = dur("prometheus.timeout", &e.timeout, q.timeout)?;
        q.lookback = dur("prometheus.lookback", &e.lookback, args.prometheus_lookback)?;
        q.step = dur("prometheus.step", &e.step, q.interval)?;
        q.bearer_token = token("prometheus", e)?;
        q.headers = e.headers.clone().into_iter().collect();
        out.prometheus = Some(q);
    }
    Ok(())
}
