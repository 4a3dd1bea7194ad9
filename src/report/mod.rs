//! Headless output of a snapshot: the per-dependency table as text or JSON.

pub mod json;
pub mod rows;
pub mod text;

pub use rows::{EdgeRow, edge_rows};
