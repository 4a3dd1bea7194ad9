//! The fleet source: per-dependency traffic (calls, errors, p50/p95/p99) from the service-graph
//! and span-metrics series a Prometheus-compatible server already holds, so `watch` works on a
//! fleet without receiving a single span. The server's metric names are resolved once (and
//! again while nothing is found); each round then sends a fixed handful of instant queries,
//! aggregated server-side to one series per edge (`sum by`, `histogram_quantile`) over the
//! window, at once. A failed or timed-out round keeps the previous rows with their age and
//! says why (`FleetTable::error`); the answer goes to the store as `IngestMsg::Fleet`.

mod names;
mod queries;
mod rows;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use names::{FleetNames, Histogram, resolve};
pub use queries::{PEER_ATTRIBUTES, Part, round};
pub use rows::{Units, build, span_key};

use super::channel::Ingest;
use super::http_client::ClientSettings;
use super::prom_query::{encode, parse_response};
use super::prom_scrape::{ScrapeError, client, fetch};
use crate::model::clock::now_unix_ns;
use crate::model::fleet::FleetTable;
use crate::model::pipeline::IngestMsg;

/// Where and how to ask.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetQuery {
    /// Base URL (a path prefix is kept).
    pub url: String,
    /// Time between rounds.
    pub interval: Duration,
    /// Longest one query may take.
    pub timeout: Duration,
    /// The window each round covers, ending now (the dashboard's window).
    pub window: Duration,
    /// TLS, credentials and headers.
    pub client: ClientSettings,
}

impl FleetQuery {
    /// Defaults around a URL: every 15 s, 10 s timeout, 5-minute window.
    pub fn new(url: &str) -> Self {
        FleetQuery {
            url: url.trim_end_matches('/').to_owned(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            window: Duration::from_secs(300),
            client: ClientSettings::default(),
        }
    }
}

impl From<&super::prom_query::PromQuery> for FleetQuery {
    /// The `--prometheus` server's URL, interval, timeout and client, over a 5-minute window.
    fn from(p: &super::prom_query::PromQuery) -> Self {
        FleetQuery {
            interval: p.interval,
            timeout: p.timeout,
            client: p.client.clone(),
            ..FleetQuery::new(&p.url)
        }
    }
}

/// Asks the server which service-graph / span-metrics names it holds: the label-values API
/// without `match[]`, answered from the index (a `match[]` selector would make the server
/// scan every series of those names, which at fleet scale passes VictoriaMetrics'
/// `-search.maxUniqueTimeseries` and is refused with HTTP 422).
pub async fn resolve_names(
    http: &reqwest::Client,
    q: &FleetQuery,
) -> Result<FleetNames, ScrapeError> {
    let url = format!("{}/api/v1/label/__name__/values", q.url);
    let (_, body) = fetch(http, &url, "application/json", q.timeout).await?;
    let v: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| ScrapeError::Parse(format!("label values: answer is not JSON: {e}")))?;
    let names: Vec<&str> = v
        .get("data")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    Ok(resolve(&names))
}

/// One round: every query at instant `at` (Unix seconds) over `window_s`, concurrently; the
/// rows, sorted by key. Any failed query fails the round (a partial table would show wrong
/// numbers as right ones).
pub async fn fetch_round(
    http: &reqwest::Client,
    q: &FleetQuery,
    names: &FleetNames,
    at: f64,
    window_s: u64,
) -> Result<Vec<crate::model::fleet::MetricTraffic>, ScrapeError> {
    let mut set = JoinSet::new();
    for (part, promql) in round(names, window_s) {
        let http = http.clone();
        let url = format!(
            "{}/api/v1/query?query={}&time={at:.3}",
            q.url,
            encode(&promql)
        );
        let timeout = q.timeout;
        set.spawn(async move {
            let (_, body) = fetch(&http, &url, "application/json", timeout).await?;
            let result = parse_response(&body).map_err(ScrapeError::Parse)?;
            Ok::<_, ScrapeError>((part, result))
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        let answer = done.map_err(|e| ScrapeError::Http(format!("query task: {e}")))??;
        answers.push(answer);
    }
    let unit = |h: &Option<Histogram>| {
        h.as_ref()
            .map_or((1.0, false), |h| (f64::from(h.to_ms), h.native))
    };
    let (graph_ms, graph_native) = unit(&names.graph_latency);
    let (span_ms, span_native) = unit(&names.span_latency);
    Ok(build(
        &answers,
        Units {
            graph_ms,
            span_ms,
            graph_native,
            span_native,
        },
    ))
}

/// One table for the window `[from_ns, to_ns)` (`review`, `lint`, `report` of a past range):
/// names resolved, one round at `to`.
pub async fn fetch_window(
    q: &FleetQuery,
    from_ns: u64,
    to_ns: u64,
) -> Result<FleetTable, ScrapeError> {
    let http = client(&q.client, &q.url)?;
    let names = resolve_names(&http, q).await?;
    if names.is_empty() {
        return Err(ScrapeError::Parse(format!(
            "{}: no service-graph or span-metrics series (traces_service_graph_request_total, traces_span_metrics_calls_total, traces_spanmetrics_calls_total)",
            q.url
        )));
    }
    let started = Instant::now();
    let window_s = (to_ns.saturating_sub(from_ns) / 1_000_000_000).max(1);
    let rows = fetch_round(&http, q, &names, to_ns as f64 / 1e9, window_s).await?;
    Ok(FleetTable {
        url: q.url.clone(),
        window: (to_ns.saturating_sub(window_s * 1_000_000_000), to_ns),
        answered_ns: to_ns,
        attempted_ns: to_ns,
        query_ms: started.elapsed().as_millis() as u64,
        error: None,
        names: names.list(),
        rows: Arc::from(rows),
    })
}

/// Starts the fleet task; it stops when `stop` turns true.
pub fn spawn(
    q: FleetQuery,
    ingest: Ingest,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, ScrapeError> {
    let http = client(&q.client, &q.url)
        .map_err(|e| ScrapeError::Http(format!("prometheus {}: {e}", q.url)))?;
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(q.interval.max(Duration::from_millis(100)));
        // A slow round is not queued behind: the next starts at the next tick after it.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut table = FleetTable {
            url: q.url.clone(),
            ..FleetTable::default()
        };
        let mut names = FleetNames::default();
        let mut rounds = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let started = Instant::now();
            let work = async {
                if names.is_empty() || rounds.is_multiple_of(40) {
                    names = resolve_names(&http, &q).await?;
                }
                if names.is_empty() {
                    // A server without these series (breaker and queue series only): nothing
                    // to show and nothing wrong; asked again next round.
                    return Ok::<_, ScrapeError>(None);
                }
                let now = now_unix_ns();
                let rows =
                    fetch_round(&http, &q, &names, now as f64 / 1e9, q.window.as_secs()).await?;
                Ok(Some((now, rows)))
            };
            let outcome = tokio::select! {
                r = work => r,
                _ = stop.wait_for(|s| *s) => break,
            };
            rounds += 1;
            table.attempted_ns = now_unix_ns();
            match outcome {
                Ok(None) if table.answered_ns == 0 => continue,
                Ok(None) => {
                    table.error = Some("the service-graph and span-metrics series are gone".into());
                }
                Ok(Some((now, rows))) => {
                    table.window = (now.saturating_sub(q.window.as_nanos() as u64), now);
                    table.answered_ns = now;
                    table.query_ms = started.elapsed().as_millis() as u64;
                    table.error = None;
                    table.names = names.list();
                    table.rows = Arc::from(rows);
                }
                Err(e) => {
                    tracing::warn!("fleet {}: {e}", q.url);
                    table.error = Some(e.to_string());
                }
            }
            let _ = ingest.notify(IngestMsg::Fleet(Arc::new(table.clone())));
        }
    }))
}
