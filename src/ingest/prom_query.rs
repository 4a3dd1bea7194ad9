//! The PromQL source: asks a Prometheus-compatible server (Prometheus, Thanos, Mimir,
//! VictoriaMetrics) over its HTTP API for the series the profiles map. At start, one
//! `/api/v1/query_range` per profile over the look-back fills the breaker history from before
//! faultline started; then `/api/v1/query` every interval. Answers become OTLP metric exports
//! (see `prom_otlp`) and take the receivers' path: store and capture. Errors and timeouts are
//! reported as the source's health, never fatal.

mod answer;
mod convert;

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::accept::accept_metrics;
use super::channel::{Ingest, IngestMsg};
use super::http_client::ClientSettings;
use super::prom_scrape::{ScrapeError, client, fetch};
use crate::model::clock::now_unix_ns;
use crate::model::profile::ProfileSet;
use crate::model::series::SourceStatus;

pub use answer::parse_response;
pub use convert::{QSeries, QValue, QueryResult, to_requests};

/// Where and how to query.
#[derive(Clone, Debug, PartialEq)]
pub struct PromQuery {
    /// Base URL, e.g. `http://127.0.0.1:9090` (a path prefix is kept: `…/prometheus`).
    pub url: String,
    /// Time between instant queries.
    pub interval: Duration,
    /// Longest one query may take.
    pub timeout: Duration,
    /// How far back the start-up range query reaches (0: none).
    pub lookback: Duration,
    /// Step of the range query.
    pub step: Duration,
    /// TLS, credentials and extra headers (e.g. `X-Scope-OrgID` for Mimir).
    pub client: ClientSettings,
}

impl PromQuery {
    /// Defaults around a URL: every 15 s, 10 s timeout, 15 min look-back at a 15 s step.
    pub fn new(url: &str) -> Self {
        PromQuery {
            url: url.trim_end_matches('/').to_owned(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            lookback: Duration::from_secs(15 * 60),
            step: Duration::from_secs(15),
            client: ClientSettings::default(),
        }
    }
}

/// The selectors to ask for: one per profile, matching every metric name the profile maps
/// (with the `_total`, `_bucket`, `_count`, `_sum` and unit-suffix spellings).
pub fn queries(profiles: &ProfileSet) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in profiles.names.iter().enumerate() {
        let names = profiles.patterns_of(i);
        if names.is_empty() {
            continue;
        }
        let alts: Vec<String> = names
            .iter()
            .map(|n| {
                let body: Vec<String> = n.split('*').map(regex_escape).collect();
                body.join(".*")
            })
            .collect();
        out.push(format!(
            "{{__name__=~\"(?:{})(?:_seconds|_milliseconds)?(?:_total|_bucket|_count|_sum)?\"}}",
            alts.join("|")
        ));
    }
    out
}

fn regex_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' {
            o.push('\\');
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Percent-encodes a query parameter.
pub(crate) fn encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Runs one query (instant at `now`, or a range over the look-back) and submits the answer.
/// Returns how many series came back.
pub async fn run_query(
    client: &reqwest::Client,
    q: &PromQuery,
    profiles: &ProfileSet,
    selector: &str,
    range: bool,
    ingest: &Ingest,
) -> Result<usize, ScrapeError> {
    let now = now_unix_ns() as f64 / 1e9;
    let url = if range {
        let start = now - q.lookback.as_secs_f64();
        format!(
            "{}/api/v1/query_range?query={}&start={start:.3}&end={now:.3}&step={}",
            q.url,
            encode(selector),
            q.step.as_secs_f64().max(1.0)
        )
    } else {
        format!(
            "{}/api/v1/query?query={}&time={now:.3}",
            q.url,
            encode(selector)
        )
    };
    let (_, body) = fetch(client, &url, "application/json", q.timeout).await?;
    let result = parse_response(&body).map_err(ScrapeError::Parse)?;
    let n = result.series.len();
    for req in to_requests(&result, profiles, range) {
        accept_metrics(ingest, req).map_err(|e| ScrapeError::Http(format!("dropped: {e}")))?;
    }
    Ok(n)
}

/// Starts the PromQL task; it stops when `stop` turns true. Fails when the client cannot be
/// built (an unreadable CA file, a certificate without its key): a configuration error, named.
pub fn spawn(
    q: PromQuery,
    profiles: std::sync::Arc<ProfileSet>,
    ingest: Ingest,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, ScrapeError> {
    let client = client(&q.client, &q.url)
        .map_err(|e| ScrapeError::Http(format!("prometheus {}: {e}", q.url)))?;
    let selectors = queries(&profiles);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(q.interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut first = !q.lookback.is_zero();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let started = Instant::now();
            let mut error = None;
            let work = async {
                for s in &selectors {
                    if let Err(e) = run_query(&client, &q, &profiles, s, first, &ingest).await {
                        error.get_or_insert_with(|| e.to_string());
                    }
                }
            };
            tokio::select! {
                _ = work => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            first = false;
            if let Some(e) = &error {
                tracing::warn!("promql {}: {e}", q.url);
            }
            let status = SourceStatus {
                kind: "promql",
                url: q.url.clone(),
                job: String::new(),
                up: error.is_none(),
                last_error: error,
                at_ns: now_unix_ns(),
                duration_ms: started.elapsed().as_millis() as u64,
            };
            let _ = ingest.notify(IngestMsg::Source(status));
        }
    }))
}
