//! `faultline report --format json`: an array of [`EdgeRow`] objects.

use super::rows::EdgeRow;

/// Renders rows as a pretty JSON array.
pub fn render(rows: &[EdgeRow]) -> String {
    // Serializing plain structs of strings and numbers cannot fail; fall back to an empty array.
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}
