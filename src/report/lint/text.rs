//! `faultline lint --format text`: findings with their evidence, then what could not be judged,
//! what was silenced, and per-rule coverage.

use crate::report::text::time;
use crate::rules::LintReport;

use super::{Tally, evidence_line};

/// Renders a report for a terminal.
pub fn render(r: &LintReport) -> String {
    let t = Tally::of(r);
    let mut out = format!(
        "faultline lint: {}, {} insufficient data; {} spans, window {} .. {}; rules: {}\n",
        t.summary(),
        t.insufficient,
        r.spans,
        time(r.window.0),
        time(r.window.1),
        r.rules_origin
    );
    for f in r.findings.iter().filter(|f| f.is_finding()) {
        out.push_str(&format!(
            "\n{:<7} {}  {}\n  {}\n",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.subject() + &f.operation().map(|o| format!(" [{o}]")).unwrap_or_default(),
            f.message
        ));
        out.push_str(&format!("  evidence: {}\n", evidence_line(f)));
        if !f.trace_ids.is_empty() {
            out.push_str(&format!("  traces: {}\n", f.trace_ids.join(" ")));
        }
        out.push_str(&format!(
            "  samples: {}\n  fix: {}\n",
            f.samples, f.remediation
        ));
    }
    let insufficient: Vec<_> = r.findings.iter().filter(|f| !f.is_finding()).collect();
    if !insufficient.is_empty() {
        out.push_str("\ninsufficient data (not a pass):\n");
        for f in insufficient {
            out.push_str(&format!("  {:<8} {}\n", f.rule, f.message));
        }
    }
    if !r.suppressed.is_empty() {
        out.push_str("\nsilenced by allow entries:\n");
        for s in &r.suppressed {
            out.push_str(&format!(
                "  {:<8} {}: {}\n",
                s.finding.rule,
                s.finding.subject(),
                s.reason
            ));
        }
    }
    out.push_str("\ncoverage:\n  RULE      DETECTOR                  JUDGED  FINDINGS  UNDECIDED  SILENCED\n");
    for c in &r.coverage {
        out.push_str(&format!(
            "  {:<9} {:<25} {:>6}  {:>8}  {:>9}  {:>8}\n",
            c.rule, c.detector, c.checked, c.findings, c.undecided, c.suppressed
        ));
    }
    out
}
