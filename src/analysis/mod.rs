//! Analyses over snapshots that several front ends share (the TUI, and later `lint`/`report`):
//! trace trees and critical paths, latency bins, and the capture-wide
//! incident timeline; trace comparison; the layered layout of the service map. Pure functions
//! of model and store types; no terminal code.

pub mod compare;
pub mod latency;
pub mod layout;
pub mod timeline;
pub mod traces;
