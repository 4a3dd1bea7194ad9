//! The architecture lint: rules as data (`rules/*.toml`), built-in detectors, and the engine
//! that runs them over a snapshot. See `docs/rules.md` for every detector.
//!
//! - [`spec`]: the rule-file schema, checked field by field.
//! - [`params`]: detector parameter declarations and typed values.
//! - `files`, `toml_fields`: reading rule files and their fields (shared with `alerts`).
//! - [`compile`]: specs → runnable rules (detectors, scopes, allow entries); the built-in set.
//! - [`context`]: the one pass over the traces every detector shares (`context_rows` builds its
//!   rows over chunks of traces).
//! - [`db_access`]: what a database call does (read or write) and where it goes.
//! - [`dep`]: what the rules cite of a dependency: the store's view of it for the window.
//! - [`detectors`]: the algorithms of `reference/resilience-telemetry.md` §2.
//! - [`engine`]: runs the rules, applies allow entries, orders the findings.
//! - `par`: the context's one-pass work split over the lint's threads, joined in order.
//! - [`memo`]: a per-run memo of name tests (globs, scopes) the detectors repeat per call.

pub mod chains;
pub mod compile;
pub mod context;
mod context_rows;
pub mod db_access;
pub mod dep;
pub mod detectors;
pub mod engine;
pub(crate) mod files;
pub mod memo;
pub(crate) mod par;
pub mod params;
pub mod spec;
pub(crate) mod toml_fields;

#[cfg(test)]
mod tests;

pub use compile::{RuleSet, builtin, load, load_dir};
pub use engine::{Engine, LintReport};
pub use spec::RuleError;

use std::sync::Arc;

use crate::store::task::FindingsHook;

/// A hook for the store task (`app::start_live_with`) that runs `engine` over live snapshots.
pub fn live_hook(engine: Engine) -> FindingsHook {
    let engine = Arc::new(engine);
    Arc::new(move |snap| engine.findings(snap))
}

/// `faultline rules list`: every rule with its detector, severity, scope and parameters.
pub fn describe(set: &RuleSet) -> String {
    let mut out = format!("rules from {} ({} rules)\n", set.origin, set.rules.len());
    for r in &set.rules {
        let s = &r.spec;
        out.push_str(&format!(
            "\n{}  {}  [{}]{}\n  {}\n  detector: {} ({}) — {}\n  file: {}:{}\n",
            s.id,
            s.severity.as_str(),
            s.title,
            if s.enabled { "" } else { "  (disabled)" },
            s.remediation,
            r.def.name,
            r.def.implements,
            r.def.summary,
            s.file,
            s.line
        ));
        let sc = &s.scope;
        for (k, v) in [
            ("caller", &sc.caller),
            ("dependency", &sc.dependency),
            ("kind", &sc.kind),
            ("operation", &sc.operation),
            ("service", &sc.service),
        ] {
            if !v.is_empty() {
                out.push_str(&format!("  scope.{k}: {}\n", v.join(", ")));
            }
        }
        for d in r.def.params {
            if let Some(v) = r.params.get(d.name) {
                out.push_str(&format!("  params.{} = {}\n", d.name, params::display(v)));
            }
        }
        for a in &s.allow {
            let sel: Vec<String> = [
                ("caller", &a.caller),
                ("dependency", &a.dependency),
                ("service", &a.service),
                ("operation", &a.operation),
            ]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
            out.push_str(&format!("  allow {}: {}\n", sel.join(" "), a.reason));
        }
    }
    out
}
