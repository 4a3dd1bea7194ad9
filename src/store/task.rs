//! The task that owns the store: applies ingest messages as they come and, every tick, settles
//! pending calls, prunes, and publishes a snapshot. Nothing else touches the store.
//!
//! With a findings hook (the rule engine), the task also runs the rules every
//! [`FINDINGS_EVERY`] on a blocking thread over the latest snapshot, never more than one run at
//! a time, and attaches the latest findings to every snapshot it publishes in between. An
//! alerts hook (the alert engine) runs the same way, on its own thread, and its latest board
//! goes into every snapshot (`Snapshot::alerts`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::model::alert::AlertBoard;
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

/// Evaluates alert rules over a snapshot (the alert engine, which keeps its own state between
/// calls); runs on a blocking thread, one call at a time, every [`FINDINGS_EVERY`].
pub type AlertsHook = Arc<dyn Fn(&Snapshot) -> AlertBoard + Send + Sync>;

/// The hooks the store task runs over its snapshots.
#[derive(Clone, Default)]
pub struct Hooks {
    /// The rule engine.
    pub findings: Option<FindingsHook>,
    /// The alert engine.
    pub alerts: Option<AlertsHook>,
}

pub use crate::model::clock::now_unix_ns;

/// A hook over snapshots giving `T`.
type Hook<T> = Arc<dyn Fn(&Snapshot) -> T + Send + Sync>;

/// One hook run periodically on a blocking thread: at most one run at a time, the latest result
/// kept (a panicking run keeps the previous one).
struct Periodic<T> {
    hook: Hook<T>,
    latest: Arc<T>,
    running: Option<tokio::task::JoinHandle<T>>,
    last_run: Option<Instant>,
}

impl<T: Send + Sync + 'static> Periodic<T> {
    fn new(hook: Hook<T>, initial: T) -> Self {
        Periodic {
            hook,
            latest: Arc::new(initial),
            running: None,
            last_run: None,
        }
    }

    /// Starts a run over `snap` when none is running and the last started long enough ago.
    fn maybe_start(&mut self, snap: &Snapshot) {
        if self.running.is_none() && self.last_run.is_none_or(|t| t.elapsed() >= FINDINGS_EVERY) {
            self.last_run = Some(Instant::now());
            let (h, s) = (self.hook.clone(), snap.clone());
            self.running = Some(tokio::task::spawn_blocking(move || h(&s)));
        }
    }

    /// Waits for the running run (pending forever when none runs) and keeps its result.
    async fn finished(slot: &mut Option<Self>) {
        let Some(p) = slot.as_mut() else {
            return std::future::pending().await;
        };
        let Some(h) = p.running.as_mut() else {
            return std::future::pending().await;
        };
        let done = h.await;
        p.running = None;
        if let Ok(v) = done {
            p.latest = Arc::new(v);
        }
    }
}

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
    store: Store,
    rx: mpsc::Receiver<IngestMsg>,
    counters: Arc<Counters>,
    publish: watch::Sender<Arc<Snapshot>>,
    close: watch::Receiver<bool>,
    hook: Option<FindingsHook>,
) -> Store {
    let hooks = Hooks {
        findings: hook,
        alerts: None,
    };
    run_with_hooks(store, rx, counters, publish, close, hooks).await
}

/// [`run`], plus the findings and alerts hooks given.
pub async fn run_with_hooks(
    mut store: Store,
    mut rx: mpsc::Receiver<IngestMsg>,
    counters: Arc<Counters>,
    publish: watch::Sender<Arc<Snapshot>>,
    mut close: watch::Receiver<bool>,
    hooks: Hooks,
) -> Store {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    let mut findings = hooks.findings.clone().map(|h| {
        let h: Hook<Arc<[Finding]>> = Arc::new(move |s| Arc::from(h(s)));
        Periodic::new(h, Arc::from(Vec::new()))
    });
    let mut alerts = hooks
        .alerts
        .clone()
        .map(|h| Periodic::new(h, AlertBoard::default()));
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
            _ = Periodic::finished(&mut findings) => {},
            _ = Periodic::finished(&mut alerts) => {},
            _ = tick.tick() => {
                let now = now_unix_ns();
                store.settle(now);
                store.prune(now);
                let mut snap = store.snapshot(Some(now));
                fill_counters(&mut snap, &counters);
                if let Some(p) = findings.as_mut() {
                    p.maybe_start(&snap);
                    snap.findings = (*p.latest).clone();
                }
                if let Some(p) = alerts.as_mut() {
                    p.maybe_start(&snap);
                    snap.alerts = p.latest.clone();
                }
                publish.send_replace(Arc::new(snap));
            }
        }
    }
    store.flush_pending();
    let mut snap = store.snapshot(Some(now_unix_ns()));
    fill_counters(&mut snap, &counters);
    if let Some(h) = &hooks.findings {
        snap.findings = Arc::from(h(&snap));
    }
    if let Some(h) = &hooks.alerts {
        snap.alerts = Arc::new(h(&snap));
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
        IngestMsg::Fleet(table) => store.set_fleet(table),
        IngestMsg::Logs(logs) => store.apply_logs(logs, now_unix_ns()),
    }
}
