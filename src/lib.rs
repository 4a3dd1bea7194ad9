//! faultline: a terminal dashboard and linter for the resilience of distributed backends.
//!
//! Layers (see `docs/architecture.md`): `model` (faultline's own types), `ingest` (wire formats in,
//! model out), `store` (the one owner of mutable state, publishing snapshots), `rules` (the
//! architecture lint), `report` (headless output). None of these import a terminal library; `tui`
//! is the dashboard, `demo` the simulated system it can run on, `analysis` the shared trace/breaker
//! analyses.

pub mod alerts;
pub mod analysis;
pub mod app;
pub mod config;

pub mod cli;
pub mod demo;
pub mod ingest;
pub mod model;
pub mod replay;
pub mod report;
pub mod rules;
pub mod store;
pub mod testkit;
pub mod tui;
