//! Headless output of a snapshot: the per-dependency table as text or JSON, `lint` findings
//! as text, JSON, SARIF and Markdown, and one trace with its logs (`faultline trace`).

pub mod cache_text;
pub mod compare;
pub mod json;
pub mod lint;
pub mod rows;
pub mod text;
pub mod trace;

pub use rows::{EdgeRow, edge_rows};
