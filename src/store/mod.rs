//! The store: the one owner of mutable state. `store` applies decoded data and builds snapshots
//! (pure and synchronous, so replay and live share it); `task` runs it behind the ingest channel
//! and publishes snapshots; `snapshot` holds the immutable views every front end reads.

pub mod calls;
pub mod edges;
pub mod fleet;
pub mod logs;
pub mod metrics;
mod prefetch;
pub mod retries;
pub mod snapshot;
pub mod span_list;
#[allow(clippy::module_inception)]
pub mod store;
pub mod task;
pub mod thin_vec;
pub mod trace;
mod trace_index;
pub mod trace_list;
pub mod traces;
pub mod view;

pub use snapshot::Snapshot;
pub use store::{Store, StoreConfig};
pub use trace_list::TraceList;

#[cfg(test)]
mod logs_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;
