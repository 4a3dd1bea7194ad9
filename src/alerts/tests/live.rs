//! The store task runs the alert engine through the alerts hook: live snapshots carry the
//! board (firing alerts with their history).

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::alerts::{Engine, live_hook};
use crate::model::clock::now_unix_ns;
use crate::model::pipeline::{Counters, IngestMsg};
use crate::model::span::SpanKind;
use crate::store::task::{Hooks, run_with_hooks};
use crate::store::{Snapshot, Store, StoreConfig};
use crate::testkit::span;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snapshots_carry_the_alert_board() {
    let set = rules(
        "[[alert]]\nname = \"Errors\"\nexpr = \"errors >= 5\"\n[alert.labels]\nseverity = \"critical\"\n",
    );
    let (tx, rx) = mpsc::channel(16);
    let (snap_tx, mut snaps) = watch::channel(Arc::new(Snapshot::default()));
    let (_close_tx, close_rx) = watch::channel(false);
    let hooks = Hooks {
        findings: None,
        alerts: Some(live_hook(Engine::new(set), None, None)),
    };
    let cfg = StoreConfig {
        settle_ns: 0,
        ..StoreConfig::default()
    };
    let task = tokio::spawn(run_with_hooks(
        Store::new(cfg),
        rx,
        Arc::new(Counters::default()),
        snap_tx,
        close_rx,
        hooks,
    ));
    // Failed calls over the last minute (the boundary evaluated is 10–20 s back).
    let now = now_unix_ns();
    let spans = (0..40u64)
        .map(|i| {
            span(
                i + 1,
                1,
                0,
                "checkout",
                "POST /pay",
                SpanKind::Client,
                now - 70 * S + i * S,
                5_000_000,
            )
            .attr("peer.service", "payments")
            .error("ConnectionRefused")
            .build()
        })
        .collect();
    tx.send(IngestMsg::Spans(spans))
        .await
        .unwrap_or_else(|_| panic!("store task gone"));
    let board = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if snaps.changed().await.is_err() {
                return None;
            }
            let s = snaps.borrow().clone();
            if s.alerts.firing().next().is_some() {
                return Some(s.alerts.clone());
            }
        }
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("no snapshot carried a firing alert"));
    assert_eq!(board.rules, 1);
    let a = board.firing().next().unwrap_or_else(|| unreachable!());
    assert_eq!((&*a.alert, &*a.dependency), ("Errors", "payments"));
    assert_eq!(a.history.len(), 1);
    assert!(
        board.evaluated_ns > now - 30 * S && board.evaluated_ns <= now,
        "{}",
        board.evaluated_ns
    );
    drop(tx);
    let _ = task.await;
}
