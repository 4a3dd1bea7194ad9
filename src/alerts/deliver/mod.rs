//! Delivery of alerts to Prometheus Alertmanager (`--alertmanager URL`, v2 API) and generic
//! webhooks (`--alert-webhook URL`), each sink on its own task so that a slow or dead sink
//! never holds up evaluation or ingest.
//!
//! The engine's thread only queues a body (`Notify::offer`, never blocking). Each sink has a
//! bounded queue: Alertmanager's holds one body — every body carries the whole current state,
//! so a newer one supersedes an unsent older one — and a webhook's holds [`QUEUE`] bodies, the
//! oldest dropped (and counted) when the sink has been down long enough to fill it. Failures
//! are retried with exponential backoff (1 s doubling to 60 s), counted, and the last error is
//! shown in `Snapshot::alerts.delivery`. Alertmanager is re-sent the firing alerts every
//! minute ([`payload::RESEND_NS`]) whether or not anything changed, as it expects.

pub mod payload;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::model::alert::{AlertState, AlertStatus, DeliveryStatus};
use crate::model::clock::now_unix_ns;

use super::{AlertChange, Notify};

/// Bodies a webhook queue holds before dropping the oldest.
pub const QUEUE: usize = 256;
/// Longest one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A sink URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// Not an http:// or https:// URL.
    #[error("{flag} {url}: {reason}")]
    BadUrl {
        /// The flag it came from.
        flag: &'static str,
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client of a sink could not be built (TLS settings).
    #[error("alert delivery: {0}")]
    Client(String),
}

/// What a sink is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// Prometheus Alertmanager, v2 API.
    Alertmanager,
    /// A generic webhook (Alertmanager's webhook payload).
    Webhook,
}

impl SinkKind {
    /// `alertmanager` or `webhook`.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Alertmanager => "alertmanager",
            SinkKind::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Default)]
struct Outbox {
    items: VecDeque<(u64, Arc<Vec<u8>>)>,
    next_seq: u64,
    /// Event time of the last Alertmanager body queued (re-send pacing).
    last_offer: Option<u64>,
}

/// One sink: its queue and its counters.
#[derive(Debug)]
pub struct Sink {
    kind: SinkKind,
    url: String,
    capacity: usize,
    outbox: Mutex<Outbox>,
    wake: tokio::sync::Notify,
    status: Mutex<DeliveryStatus>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data stays consistent at every unlock; a panic elsewhere must not stop delivery.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sink {
    fn new(kind: SinkKind, url: String) -> Sink {
        let capacity = match kind {
            SinkKind::Alertmanager => 1,
            SinkKind::Webhook => QUEUE,
        };
        Sink {
            status: Mutex::new(DeliveryStatus {
                sink: kind.as_str(),
                url: Arc::from(url.as_str()),
                ..DeliveryStatus::default()
            }),
            kind,
            url,
            capacity,
            outbox: Mutex::new(Outbox::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Queues what this sink should receive after an evaluation at `at_ns`.
    fn offer(&self, at_ns: u64, changes: &[AlertChange], states: &[AlertState]) {
        let changed: Vec<&AlertState> = changes
            .iter()
            .map(|c| &c.state)
            .filter(|s| s.status != AlertStatus::Pending)
            .collect();
        let mut out = lock(&self.outbox);
        let body = match self.kind {
            SinkKind::Alertmanager => {
                let due = !changed.is_empty()
                    || out
                        .last_offer
                        .is_none_or(|l| at_ns.saturating_sub(l) >= payload::RESEND_NS);
                if !due {
                    return;
                }
                let body = payload::alertmanager(at_ns, states);
                if body.is_some() {
                    out.last_offer = Some(at_ns);
                }
                body
            }
            SinkKind::Webhook => payload::webhook(&changed),
        };
        let Some(body) = body else { return };
        let mut dropped = 0;
        while out.items.len() >= self.capacity {
            out.items.pop_front();
            dropped += 1;
        }
        let seq = out.next_seq;
        out.next_seq += 1;
        out.items.push_back((seq, Arc::new(body)));
        let queued = out.items.len() as u64;
        drop(out);
        {
            let mut st = lock(&self.status);
            // Alertmanager's queue holds the latest state only: a superseded body is not lost.
            if self.kind == SinkKind::Webhook {
                st.dropped += dropped;
            }
            st.queued = queued;
        }
        self.wake.notify_one();
    }

    fn front(&self) -> Option<(u64, Arc<Vec<u8>>)> {
        lock(&self.outbox).items.front().cloned()
    }

    fn sent(&self, seq: u64) {
        let mut out = lock(&self.outbox);
        if out.items.front().is_some_and(|(s, _)| *s == seq) {
            out.items.pop_front();
        }
        let queued = out.items.len() as u64;
        drop(out);
        let mut st = lock(&self.status);
        st.sent += 1;
        st.queued = queued;
        st.last_error = None;
        st.last_ok_ns = now_unix_ns();
    }

    fn failed(&self, err: String) {
        let mut st = lock(&self.status);
        st.failed += 1;
        st.last_error = Some(Arc::from(err.as_str()));
    }

    /// How delivery is going.
    pub fn status(&self) -> DeliveryStatus {
        lock(&self.status).clone()
    }
}

/// The running sinks.
pub struct Sinks {
    sinks: Vec<Arc<Sink>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Notify for Sinks {
    fn offer(&self, at_ns: u64, changes: &[AlertChange], states: &[AlertState]) {
        for s in &self.sinks {
            s.offer(at_ns, changes, states);
        }
    }

    fn status(&self) -> Vec<DeliveryStatus> {
        self.sinks.iter().map(|s| s.status()).collect()
    }
}

fn check_url(flag: &'static str, url: &str) -> Result<reqwest::Url, DeliverError> {
    let bad = |reason: String| DeliverError::BadUrl {
        flag,
        url: url.to_string(),
        reason,
    };
    let u = reqwest::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
    match u.scheme() {
        "http" | "https" => Ok(u),
        s => Err(bad(format!(
            "unsupported scheme {s}: use http:// or https://"
        ))),
    }
}

/// The v2 alerts endpoint of an Alertmanager given by its base URL (a URL already ending in
/// `/api/v2/alerts` is kept).
pub fn alertmanager_endpoint(url: &str) -> Result<String, DeliverError> {
    let u = check_url("--alertmanager", url)?;
    let s = u.as_str().trim_end_matches('/');
    Ok(if s.ends_with("/api/v2/alerts") {
        s.to_string()
    } else {
        format!("{s}/api/v2/alerts")
    })
}

impl Sinks {
    /// Starts one task per sink (needs a tokio runtime); `client` builds the HTTP client of a
    /// sink's URL (the app gives the one the metric sources use: rustls, system roots). `None`
    /// when no sink is given.
    pub fn start(
        alertmanagers: &[String],
        webhooks: &[String],
        client: impl Fn(&str) -> Result<reqwest::Client, String>,
    ) -> Result<Option<Arc<Sinks>>, DeliverError> {
        let mut sinks = Vec::new();
        for u in alertmanagers {
            sinks.push(Sink::new(SinkKind::Alertmanager, alertmanager_endpoint(u)?));
        }
        for u in webhooks {
            sinks.push(Sink::new(
                SinkKind::Webhook,
                check_url("--alert-webhook", u)?.to_string(),
            ));
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        let (stop, stop_rx) = watch::channel(false);
        let sinks: Vec<Arc<Sink>> = sinks.into_iter().map(Arc::new).collect();
        let mut tasks = Vec::new();
        for s in &sinks {
            let c = client(&s.url).map_err(|e| DeliverError::Client(format!("{}: {e}", s.url)))?;
            tasks.push(tokio::spawn(run(s.clone(), c, stop_rx.clone())));
        }
        Ok(Some(Arc::new(Sinks {
            sinks,
            stop,
            tasks: Mutex::new(tasks),
        })))
    }

    /// Stops the sinks: each tries once more what it still holds, for at most `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        let deadline = tokio::time::Instant::now() + grace;
        for mut t in tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &[u8]) -> Result<(), String> {
    let resp = client
        .post(url)
        .timeout(TIMEOUT)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.trim().chars().take(200).collect();
    Err(format!("HTTP {status}: {text}"))
}

/// One sink's sender: sends the oldest queued body until none is left, retrying with backoff.
/// After `stop`, each body left is tried once.
async fn run(sink: Arc<Sink>, client: reqwest::Client, mut stop: watch::Receiver<bool>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let stopping = *stop.borrow();
        let Some((seq, body)) = sink.front() else {
            if stopping {
                return;
            }
            tokio::select! {
                _ = sink.wake.notified() => {}
                r = stop.changed() => if r.is_err() { return },
            }
            continue;
        };
        match post(&client, &sink.url, &body).await {
            Ok(()) => {
                sink.sent(seq);
                backoff = BACKOFF_MIN;
            }
            Err(e) => {
                sink.failed(e);
                if stopping {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    r = stop.changed() => if r.is_err() { return },
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
