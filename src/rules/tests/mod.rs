//! Detector tests on constructed traces: each anti-pattern, its correct twin, and the
//! reference's false-positive cases.

mod builder;
mod context_threads;
mod detectors_audits;
mod detectors_breaker_view;
mod detectors_cache;
mod detectors_db;
mod detectors_graph;
mod detectors_retry;
mod detectors_state;
mod detectors_timeout;
mod detectors_view;
mod engine_spec;
mod live;
mod metamorphic;
mod precision_calls;
mod precision_graph;
