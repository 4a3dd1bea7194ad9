//! `review` and `lint` of a past range from a metrics store instead of a capture: the range is
//! resolved against now, the service-graph / span-metrics rows of the range are asked for once
//! (`ingest::fleet::fetch_window`), and a store holding only them gives the snapshot. Rules
//! that need spans find nothing to judge there and say `insufficient data`.

use std::sync::Arc;

use super::AppError;
use crate::ingest::fleet::{FleetQuery, fetch_window};
use crate::model::clock::{TimeSpec, now_unix_ns};
use crate::model::fleet::FleetTable;
use crate::store::{Snapshot, Store, StoreConfig};

/// Default length of the range when `--from` is not given.
const DEFAULT_RANGE_NS: u64 = 15 * 60 * 1_000_000_000;

/// `[from, to)` in Unix ns: `--to` (default now) and `--from` (default 15 minutes before it),
/// offsets counted from now.
pub fn range(from: Option<TimeSpec>, to: Option<TimeSpec>) -> Result<(u64, u64), AppError> {
    let now = now_unix_ns();
    let to = to.map_or(now, |t| t.resolve((now, now)));
    let from = from.map_or(to.saturating_sub(DEFAULT_RANGE_NS), |t| {
        t.resolve((now, now))
    });
    if from >= to {
        return Err(AppError::Runtime(format!(
            "--from must be before --to (got a range of {} s)",
            (to as i128 - from as i128) / 1_000_000_000
        )));
    }
    Ok((from, to))
}

/// The rows of `[from, to)` from the server. A one-off question waits longer than a live round: nothing older is there to show.
pub async fn table(q: &FleetQuery, from: u64, to: u64) -> Result<Arc<FleetTable>, AppError> {
    let mut q = q.clone();
    q.timeout = q.timeout.max(std::time::Duration::from_secs(60));
    fetch_window(&q, from, to)
        .await
        .map(Arc::new)
        .map_err(|e| AppError::Runtime(format!("prometheus {}: {e}", q.url)))
}

/// A snapshot of `[from, to)` holding only the server's rows.
pub async fn snapshot(q: &FleetQuery, from: u64, to: u64) -> Result<Snapshot, AppError> {
    let t = table(q, from, to).await?;
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.set_fleet(t);
    Ok(store.snapshot_window(from, to))
}
