//! The scrape source: one task per `/metrics` target. Each scrape negotiates the format as
//! Prometheus does ([`ACCEPT_HEADER`]), accepts gzip, reads at most [`MAX_BODY`] bytes (after
//! decompression), parses leniently (bad lines are reported with their line number, the rest is
//! used), and submits the result as an OTLP metrics export through the same accept path as the
//! receivers — so it reaches the store and, when recording, the capture. A synthetic `up` and
//! `scrape_duration_seconds` go with it, as Prometheus adds them.
//!
//! A slow or dead target only delays its own task: scrapes are bounded by the timeout, the
//! hand-off never waits (a full store refuses and the scrape is counted as dropped), and every
//! attempt reports the target's health (`up`, last error) to the store for the snapshot.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::accept::accept_metrics;
use super::channel::{Ingest, IngestMsg};
use super::http_client::{self, ClientSettings};
use super::prom_otlp::{families_to_metrics, gauge, kv, request};
use super::prom_text::{ACCEPT_HEADER, detect_format, parse_lenient};
use crate::model::clock::now_unix_ns;
use crate::model::profile::ProfileSet;
use crate::model::series::SourceStatus;

/// Largest body read from a target, after decompression (a gzip bomb stops here).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// One target and how to scrape it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeTarget {
    /// The URL, e.g. `http://127.0.0.1:9100/metrics`.
    pub url: String,
    /// The job name its series get (`service.name`); the caller of the dependencies it shows.
    pub job: String,
    /// Time between scrapes.
    pub interval: Duration,
    /// Longest a scrape may take.
    pub timeout: Duration,
    /// TLS, credentials and extra headers.
    pub client: ClientSettings,
}

impl ScrapeTarget {
    /// A target from `URL` or `JOB=URL`; the job defaults to the URL's `host:port`.
    pub fn from_arg(arg: &str, interval: Duration, timeout: Duration) -> ScrapeTarget {
        let (job, url) = match arg.split_once('=') {
            Some((job, url)) if !job.contains('/') && !job.contains(':') => {
                (Some(job.trim().to_owned()), url.trim().to_owned())
            }
            _ => (None, arg.trim().to_owned()),
        };
        let job = job.unwrap_or_else(|| instance_of(&url));
        ScrapeTarget {
            url,
            job,
            interval,
            timeout,
            client: ClientSettings::default(),
        }
    }
}

/// `host:port` of a URL (the Prometheus `instance`), or the URL itself if it does not parse.
pub fn instance_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Connection, TLS, or protocol failure.
    #[error("{0}")]
    Http(String),
    /// A non-2xx answer.
    #[error("server returned HTTP {0}")]
    Status(u16),
    /// The scrape took longer than the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The body exceeded [`MAX_BODY`].
    #[error("body larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body is not UTF-8.
    #[error("body is not UTF-8 text")]
    NotText,
    /// No line parsed.
    #[error("no valid sample: {0}")]
    Parse(String),
}

/// A client for one source (see [`http_client::build`]): no proxies from the environment
/// (targets are reached directly, as Prometheus does by default), gzip on, the source's TLS,
/// credentials and headers.
pub fn client(settings: &ClientSettings, name: &str) -> Result<reqwest::Client, ScrapeError> {
    http_client::build(settings, name).map_err(|e| ScrapeError::Http(e.to_string()))
}

/// Fetches a body (the client carries the source's credentials and headers), bounded in size
/// and time; returns the `Content-Type` and the text.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    timeout: Duration,
) -> Result<(Option<String>, String), ScrapeError> {
    let work = async {
        let req = client.get(url).header(reqwest::header::ACCEPT, accept);
        let mut resp = req
            .send()
            .await
            .map_err(|e| ScrapeError::Http(http_client::describe(&e)))?;
        if !resp.status().is_success() {
            return Err(ScrapeError::Status(resp.status().as_u16()));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ScrapeError::Http(http_client::describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ScrapeError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| ScrapeError::NotText)?;
        Ok((ct, text))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ScrapeError::Timeout(timeout)),
    }
}

/// Scrapes once and submits the result; returns the target's health. With `keep`, only the
/// families some profile maps (and `up`) are submitted — and so recorded: what faultline does
/// not show is not stored, which keeps captures small (all of them without `keep`).
pub async fn scrape_once(
    client: &reqwest::Client,
    t: &ScrapeTarget,
    ingest: &Ingest,
    keep: Option<&ProfileSet>,
) -> SourceStatus {
    let started = Instant::now();
    let t_ns = now_unix_ns();
    let instance = instance_of(&t.url);
    let fetched = fetch(client, &t.url, ACCEPT_HEADER, t.timeout).await;
    let (mut metrics, up, error) = match fetched {
        Ok((ct, text)) => {
            let (mut families, errors) = parse_lenient(&text, detect_format(ct.as_deref(), &text));
            let parsed: usize = families.iter().map(|f| f.samples.len()).sum();
            if let Some(p) = keep {
                families.retain(|f| p.maps(&f.name));
            }
            let first = errors.first().map(|e| format!("bad exposition: {e}"));
            if parsed == 0 && first.is_some() {
                (Vec::new(), false, first)
            } else {
                (families_to_metrics(&families, t_ns), true, first)
            }
        }
        Err(e) => (Vec::new(), false, Some(e.to_string())),
    };
    let elapsed = started.elapsed();
    let attrs = || vec![kv("job", &t.job), kv("instance", &instance)];
    metrics.push(gauge("up", attrs(), t_ns, if up { 1.0 } else { 0.0 }));
    metrics.push(gauge(
        "scrape_duration_seconds",
        attrs(),
        t_ns,
        elapsed.as_secs_f64(),
    ));
    let mut error = error;
    if let Err(e) = accept_metrics(ingest, request(&t.job, &instance, metrics)) {
        error.get_or_insert_with(|| format!("scrape dropped: {e}"));
    }
    SourceStatus {
        kind: "scrape",
        url: instance,
        job: t.job.clone(),
        up,
        last_error: error,
        at_ns: now_unix_ns(),
        duration_ms: elapsed.as_millis() as u64,
    }
}

/// Starts one task per target; each stops when `stop` turns true. `keep`: see [`scrape_once`].
/// Fails before starting any when a target's client cannot be built (an unreadable CA file, a
/// certificate without its key): a configuration error, named.
pub fn spawn(
    targets: Vec<ScrapeTarget>,
    ingest: Ingest,
    stop: watch::Receiver<bool>,
    keep: Option<std::sync::Arc<ProfileSet>>,
) -> Result<Vec<JoinHandle<()>>, ScrapeError> {
    let clients = targets
        .iter()
        .map(|t| {
            client(&t.client, &t.url)
                .map_err(|e| ScrapeError::Http(format!("scrape {}: {e}", t.url)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(targets
        .into_iter()
        .zip(clients)
        .map(|(t, client)| {
            let (ingest, mut stop) = (ingest.clone(), stop.clone());
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(t.interval.max(Duration::from_millis(100)));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                    let status = tokio::select! {
                        s = scrape_once(&client, &t, &ingest, keep.as_deref()) => s,
                        _ = stop.wait_for(|s| *s) => break,
                    };
                    if let Some(e) = &status.last_error {
                        tracing::warn!("scrape {}: {e}", t.url);
                    }
                    let _ = ingest.notify(IngestMsg::Source(status));
                }
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_args() {
        let d = Duration::from_secs(5);
        let t = ScrapeTarget::from_arg("http://127.0.0.1:9100/metrics", d, d);
        assert_eq!(
            (t.job.as_str(), t.url.as_str()),
            ("127.0.0.1:9100", "http://127.0.0.1:9100/metrics")
        );
        let t = ScrapeTarget::from_arg("checkout=http://localhost/metrics", d, d);
        assert_eq!(
            (t.job.as_str(), t.url.as_str()),
            ("checkout", "http://localhost/metrics")
        );
        assert_eq!(instance_of("http://localhost/metrics"), "localhost:80");
    }
}
