//! The store task runs the rule engine through the findings hook and publishes its findings.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::builder::*;
use crate::ingest::channel::{Counters, IngestMsg};
use crate::rules::{Engine, builtin, live_hook};
use crate::store::task::run_with_findings;
use crate::store::{Snapshot, Store, StoreConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snapshots_carry_findings() {
    let engine = Engine::new(builtin().unwrap_or_else(|e| panic!("{e:?}")));
    let (tx, rx) = mpsc::channel(16);
    let (snap_tx, mut snaps) = watch::channel(Arc::new(Snapshot::default()));
    let (_close_tx, close_rx) = watch::channel(false);
    let mut cfg = StoreConfig::replay(usize::MAX);
    cfg.settle_ns = 0;
    let task = tokio::spawn(run_with_findings(
        Store::new(cfg),
        rx,
        Arc::new(Counters::default()),
        snap_tx,
        close_rx,
        Some(live_hook(engine)),
    ));
    let spans = (0..210u64)
        .map(|i| {
            sp(i + 1, 1)
                .svc("api")
                .http("GET", "pay", "/c")
                .at(i as f64 * 10.0, if i < 5 { 45_000.0 } else { 10.0 })
                .status(200)
                .build()
        })
        .collect();
    tx.send(IngestMsg::Spans(spans))
        .await
        .unwrap_or_else(|_| panic!("store task gone"));
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if snaps.changed().await.is_err() {
                return false;
            }
            let s = snaps.borrow().clone();
            if s.findings
                .iter()
                .any(|f| f.rule == "TMO-001" && f.is_finding())
            {
                return true;
            }
        }
    })
    .await;
    assert_eq!(found, Ok(true), "no snapshot carried the TMO-001 finding");
    drop(tx);
    let _ = task.await;
}
