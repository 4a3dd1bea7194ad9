//! `faultline lint --format markdown`: a pull-request comment. A summary table, then each
//! finding's evidence in a collapsible block, then what could not be judged.

use crate::model::finding::Severity;
use crate::report::text::time;
use crate::rules::LintReport;

use super::Tally;

/// Escapes text for a table cell or inline Markdown.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Error => "🔴 error",
        Severity::Warning => "🟠 warning",
        Severity::Info => "🔵 info",
    }
}

/// Renders a report as Markdown.
pub fn render(r: &LintReport) -> String {
    let t = Tally::of(r);
    let mut out = String::from("## faultline lint\n\n");
    out.push_str(&format!(
        "**{}**, {} insufficient data · {} spans · window {} .. {} · rules: {}\n\n",
        t.summary(),
        t.insufficient,
        r.spans,
        time(r.window.0),
        time(r.window.1),
        esc(&r.rules_origin)
    ));
    let findings: Vec<_> = r.findings.iter().filter(|f| f.is_finding()).collect();
    if findings.is_empty() {
        out.push_str("No findings.\n");
    } else {
        out.push_str("| Severity | Rule | Subject | Finding |\n|---|---|---|---|\n");
        for f in &findings {
            let subj = f.subject() + &f.operation().map(|o| format!(" [{o}]")).unwrap_or_default();
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                badge(f.severity),
                esc(&f.rule),
                esc(&subj),
                esc(&f.message)
            ));
        }
        out.push_str("\n### Evidence\n\n");
        for f in &findings {
            out.push_str(&format!(
                "<details><summary><b>{}</b> {} — {}</summary>\n\n",
                esc(&f.rule),
                esc(&f.subject()),
                f.severity.as_str()
            ));
            for (k, v) in f.evidence.iter() {
                out.push_str(&format!("- {}: {}\n", esc(k), esc(&v.to_string())));
            }
            if !f.trace_ids.is_empty() {
                out.push_str(&format!(
                    "- exemplar traces: {}\n",
                    f.trace_ids
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            out.push_str(&format!(
                "- samples: {}\n\n**Fix:** {}\n\n</details>\n\n",
                f.samples,
                esc(&f.remediation)
            ));
        }
    }
    let insufficient: Vec<_> = r.findings.iter().filter(|f| !f.is_finding()).collect();
    if !insufficient.is_empty() {
        out.push_str("### Insufficient data (not a pass)\n\n");
        for f in insufficient {
            out.push_str(&format!("- **{}**: {}\n", esc(&f.rule), esc(&f.message)));
        }
        out.push('\n');
    }
    if !r.suppressed.is_empty() {
        out.push_str("### Silenced by allow entries\n\n");
        for s in &r.suppressed {
            out.push_str(&format!(
                "- **{}** {}: {}\n",
                esc(&s.finding.rule),
                esc(&s.finding.subject()),
                esc(&s.reason)
            ));
        }
        out.push('\n');
    }
    out
}
