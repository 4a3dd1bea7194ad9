//! `faultline lint` output: text for terminals, a JSON array, SARIF 2.1.0 for code scanning and
//! Markdown for a pull-request comment. Every renderer is a pure function of the report and the
//! rule set, so the same input gives byte-identical output.

pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use crate::model::finding::{Finding, Severity};
use crate::rules::LintReport;

/// Counts of findings by severity, and of insufficient-data results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Info findings.
    pub infos: usize,
    /// Insufficient-data results.
    pub insufficient: usize,
}

impl Tally {
    /// Counts a report's results.
    pub fn of(r: &LintReport) -> Tally {
        let mut t = Tally::default();
        for f in &r.findings {
            if !f.is_finding() {
                t.insufficient += 1;
                continue;
            }
            match f.severity {
                Severity::Error => t.errors += 1,
                Severity::Warning => t.warnings += 1,
                Severity::Info => t.infos += 1,
            }
        }
        t
    }

    /// Findings of any severity.
    pub fn findings(&self) -> usize {
        self.errors + self.warnings + self.infos
    }

    /// `3 findings (1 error, 2 warnings)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.errors, "error"),
            (self.warnings, "warning"),
            (self.infos, "info"),
        ] {
            if n > 0 {
                parts.push(format!(
                    "{n} {what}{}",
                    if n == 1 || what == "info" { "" } else { "s" }
                ));
            }
        }
        let n = self.findings();
        let head = format!("{n} finding{}", if n == 1 { "" } else { "s" });
        if parts.is_empty() {
            head
        } else {
            format!("{head} ({})", parts.join(", "))
        }
    }
}

/// The evidence of a finding as `key=value` pairs.
pub fn evidence_line(f: &Finding) -> String {
    f.evidence
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stable 64-bit FNV-1a hash, hex (fingerprints).
pub fn fnv_hex(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
