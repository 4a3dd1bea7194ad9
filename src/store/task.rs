//! The task that owns the store: applies ingest messages as they come and, every tick, settles
//! pending calls, prunes, and publishes a snapshot. Nothing else touches the store.
//!
//! With a findings hook (the rule engine), the task also runs the rules every
//! [`FINDINGS_EVERY`] on a blocking thread over the latest snapshot, never more than one run at
//! a time, and attaches the latest findings to every snapshot it publishes in between.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::model::finding::Finding;
use crate::model::pipeline::{Counters, IngestMsg};

use super::snapshot::Snapshot;
use super::store::Store;

/// How often a snapshot is published.
pub const TICK: Duration = Duration::from_millis(250);

/// How often the findings hook runs (findings are cached in between).
pub const FINDINGS_EVERY: Duration = Duration::from_secs(2);

/// Computes findings for a snapshot (the rule engine); runs on a blocking thread.
pub type FindingsHook = Arc<dyn Fn(&Snapshot) -> Vec<Finding> + Send + Sync>;

pub use crate::model::clock::now_unix_ns;

/// Copies the receivers' counters into the snapshot's.
pub fn fill_counters(snap: &mut Snapshot, c: &Counters) {
    let v = &mut snap.counters;
    v.requests = Counters::get(&c.requests);
    v.spans = Counters::get(&c.spans);
    v.spans_rejected = Counters::get(&c.spans_rejected);
    v.metric_points = Counters::get(&c.metric_points);
    v.log_records = Counters::get(&c.log_records);
    v.refused_full = Counters::get(&c.refused_full);
    v.bad_requests = Counters::get(&c.bad_requests);
    v.capture_lines = Counters::get(&c.capture_lines);
}

/// Runs the store until the ingest channel closes, or `close` turns true (then the channel is
/// closed to new messages and what it holds is drained); publishes a final snapshot and returns
/// the store (so `record` and `lint --live` can report on it).
pub async fn run(
    store: Store,
    rx: mpsc::Receiver<IngestMsg>,
    counters: Arc<Counters>,
    publish: watch::Sender<Arc<Snapshot>>,
    close: watch::Receiver<bool>,
) -> Store {
    run_with_findings(store, rx, counters, publish, close, None).await
}

/// [`run`], plus the findings hook when given.
pub async fn run_with_findings(
    mut store: Store,
    mut rx: mpsc::Receiver<IngestMsg>,
    counters: Arc<Counters>,
    publish: watch::Sender<Arc<Snapshot>>,
    mut close: watch::Receiver<bool>,
    hook: Option<FindingsHook>,
) -> Store {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    let mut findings: Arc<[Finding]> = Arc::from(Vec::new());
    let mut running: Option<tokio::task::JoinHandle<Vec<Finding>>> = None;
    let mut last_run: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = close.wait_for(|c| *c), if !closing => {
                // Senders now get `Closed` (a retryable refusal); queued messages still arrive.
                rx.close();
                closing = true;
            }
            msg = rx.recv() => match msg {
                Some(msg) => apply(&mut store, msg),
                None => break,
            },
            done = async {
                match running.as_mut() {
                    Some(h) => h.await,
                    None => std::future::pending().await,
                }
            }, if running.is_some() => {
                running = None;
                // A panicking rule run keeps the previous findings.
                if let Ok(f) = done {
                    findings = Arc::from(f);
                }
            },
            _ = tick.tick() => {
                let now = now_unix_ns();
                store.settle(now);
                store.prune(now);
                let mut snap = store.snapshot(Some(now));
                fill_counters(&mut snap, &counters);
                if let Some(h) = &hook
                    && running.is_none()
                    && last_run.is_none_or(|t| t.elapsed() >= FINDINGS_EVERY)
                {
                    last_run = Some(Instant::now());
                    let (h, s) = (h.clone(), snap.clone());
                    running = Some(tokio::task::spawn_blocking(move || h(&s)));
                }
                snap.findings = findings.clone();
                publish.send_replace(Arc::new(snap));
            }
        }
    }
    store.flush_pending();
    let mut snap = store.snapshot(Some(now_unix_ns()));
    fill_counters(&mut snap, &counters);
    if let Some(h) = &hook {
        snap.findings = Arc::from(h(&snap));
    }
    publish.send_replace(Arc::new(snap));
    store
}

/// Applies one message at the current time.
pub fn apply(store: &mut Store, msg: IngestMsg) {
    match msg {
        IngestMsg::Spans(spans) => store.apply(spans, now_unix_ns()),
        IngestMsg::Metrics(points) => store.apply_metrics(points),
        IngestMsg::Source(status) => store.set_source(status),
        IngestMsg::LogRecords(_) => {}
    }
}
