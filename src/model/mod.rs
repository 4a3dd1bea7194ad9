//! faultline's own data model. Wire types (protobuf, JSON) never reach this module:
//! `ingest::decode` converts them at the edge.

pub mod alert;
pub mod attrs;
pub mod breaker;
pub mod cache;
pub mod classify;
pub mod clock;
pub mod dependency;
pub mod edge;
pub mod finding;
pub mod fleet;
pub mod histogram;
pub mod log;
pub mod pipeline;
pub mod profile;
pub mod resilience;
pub mod retry;
pub mod series;
pub mod sketch;
pub mod span;
pub mod view;
