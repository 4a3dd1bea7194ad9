//! The terminal dashboard: renders store snapshots and handles keys, for `watch` (live
//! receivers), `review` (captures, with a time cursor) and `demo` (live, fed by the built-in
//! simulation). What feeds it — receivers, the store, the demo, the review thread, signals — is
//! wired in `app::dashboard`. One consumer of store snapshots among several: nothing outside this
//! module imports ratatui or crossterm.
//!
//! - `app`/`update`: UI state and the pure `update(state, action)`; `view_state`: each view's
//!   state; `rebuild`: a snapshot installed and the rows re-derived from it;
//! - `keymap`: the key table (also the `?` help); `theme`: styles from `assets/themes/*.toml`;
//! - `alerts`: the Alerts view's selection, the header banner's alerts, jumps to exemplars;
//! - `rows`: per-snapshot ordering/filtering of rows; `filter`: the `/` language; `logs`: the
//!   Logs view's filter and rows;
//! - `view/*`: one render function per panel; `runner`: the event loop; `term`: terminal restore.

pub mod alerts;
pub mod app;
pub mod compare;
mod drill;
pub mod filter;
mod jump;
pub mod keymap;
pub mod logs;
pub mod map;
mod rebuild;
pub mod rows;
pub mod runner;
pub mod term;
pub mod theme;
pub mod update;
pub mod view;
mod view_state;
mod views_nav;
