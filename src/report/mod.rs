//! Headless output of a snapshot: the per-dependency table as text or JSON, and `lint` findings
//! as text, JSON, SARIF and Markdown.

pub mod json;
pub mod lint;
pub mod rows;
pub mod text;

pub use rows::{EdgeRow, edge_rows};
