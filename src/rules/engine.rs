//! Runs every enabled rule over a snapshot, in rule-id order, and turns detector output into
//! [`Finding`]s: severity adjusted, message template filled, allow entries applied, at most five
//! exemplar traces, and one insufficient-data result whenever a rule could not judge something.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use crate::model::finding::{Evidence, EvidenceExt, Finding, Outcome, Severity, Value};
use crate::store::Snapshot;

use super::compile::{Rule, RuleSet, fill_template};
use super::context::Context;
use super::detectors::{Hit, Output, RuleCtx, Subject};

/// Most exemplar traces per finding.
pub const MAX_EXEMPLARS: usize = 5;
/// Most undecided subjects listed in one insufficient-data result.
const MAX_UNDECIDED_LISTED: usize = 8;

/// How one rule fared.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// Rule id.
    pub rule: String,
    /// Detector.
    pub detector: String,
    /// Subjects judged.
    pub checked: usize,
    /// Findings reported.
    pub findings: usize,
    /// Subjects that could not be judged.
    pub undecided: usize,
    /// Findings silenced by allow entries.
    pub suppressed: usize,
}

/// A finding silenced by an allow entry.
#[derive(Clone, Debug)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// The allow entry's reason.
    pub reason: String,
}

/// Everything a lint run produced.
#[derive(Clone, Debug, Default)]
pub struct LintReport {
    /// Findings and insufficient-data results, in deterministic order.
    pub findings: Vec<Finding>,
    /// Findings silenced by allow entries.
    pub suppressed: Vec<Suppressed>,
    /// Per-rule coverage, in rule-id order.
    pub coverage: Vec<Coverage>,
    /// The window analysed.
    pub window: (u64, u64),
    /// Spans analysed.
    pub spans: u64,
    /// Where the rules came from.
    pub rules_origin: String,
}

impl LintReport {
    /// Findings (not insufficient data) at or above `min`.
    pub fn count_at_least(&self, min: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.is_finding() && f.severity >= min)
            .count()
    }
}

/// The rule engine: a compiled rule set.
#[derive(Debug)]
pub struct Engine {
    /// The rules.
    pub rules: RuleSet,
    /// Threads the detectors run on (1: the caller's thread only).
    threads: usize,
}

fn owned(s: &Option<Arc<str>>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

impl Engine {
    /// An engine over a compiled rule set.
    pub fn new(rules: RuleSet) -> Engine {
        Engine { rules, threads: 1 }
    }

    /// Runs the detectors on up to `threads` threads (the one-shot `lint` uses every core; the
    /// live hooks keep one, so that a rule run never competes with ingest for the cores). The
    /// result is the same for any count.
    pub fn with_threads(mut self, threads: usize) -> Engine {
        self.threads = threads.max(1);
        self
    }

    /// Every enabled rule's detector output, in rule order, computed on `self.threads` threads
    /// (each takes the next rule not yet taken).
    fn outputs(&self, cx: &Context<'_>) -> Vec<(&Rule, Output)> {
        let rules: Vec<&Rule> = self.rules.rules.iter().filter(|r| r.spec.enabled).collect();
        let run = |rule: &Rule| {
            rule.detector.run(
                RuleCtx {
                    id: rule.id(),
                    scope: &rule.scope,
                },
                cx,
            )
        };
        let threads = self.threads.min(rules.len());
        if threads <= 1 {
            return rules.into_iter().map(|r| (r, run(r))).collect();
        }
        let next = AtomicUsize::new(0);
        let mut done: Vec<(usize, Output)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                            let Some(rule) = rules.get(i) else { break };
                            mine.push((i, run(rule)));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                // A detector that panicked panics the lint, as it would on one thread.
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(i, out)| (rules[i], out)).collect()
    }

    /// Runs all enabled rules over a snapshot.
    pub fn run(&self, snap: &Snapshot) -> LintReport {
        let cx = Context::build_with_threads(snap, self.threads);
        let mut report = LintReport {
            window: cx.window,
            spans: snap.traces.iter().map(|t| t.spans.len() as u64).sum(),
            rules_origin: self.rules.origin.clone(),
            ..LintReport::default()
        };
        for (rule, out) in self.outputs(&cx) {
            self.record(rule, out, &cx, &mut report);
        }
        report.findings.sort_by(order);
        report
            .suppressed
            .sort_by(|a, b| order(&a.finding, &b.finding));
        report
    }

    /// Runs and returns only the findings (for snapshots).
    pub fn findings(&self, snap: &Snapshot) -> Vec<Finding> {
        self.run(snap).findings
    }

    /// Turns one rule's detector output into findings, suppressions and coverage.
    fn record(&self, rule: &Rule, out: Output, cx: &Context<'_>, report: &mut LintReport) {
        let mut cov = Coverage {
            rule: rule.id().to_string(),
            detector: rule.def.name.to_string(),
            checked: out.checked,
            findings: 0,
            undecided: out.undecided.len(),
            suppressed: 0,
        };
        for hit in out.hits {
            let f = finding(rule, hit, cx.window);
            match rule.allow.iter().find(|a| {
                a.matches(
                    f.caller.as_deref(),
                    f.dependency.as_deref(),
                    f.service.as_deref(),
                    f.operation(),
                )
            }) {
                Some(a) => {
                    cov.suppressed += 1;
                    report.suppressed.push(Suppressed {
                        finding: f,
                        reason: a.reason.clone(),
                    });
                }
                None => {
                    cov.findings += 1;
                    report.findings.push(f);
                }
            }
        }
        let undecided: Vec<_> = out
            .undecided
            .into_iter()
            .filter(|u| {
                !rule.allow.iter().any(|a| {
                    a.matches(
                        u.subject.caller.as_deref(),
                        u.subject.dependency.as_deref(),
                        u.subject.service.as_deref(),
                        u.subject.operation.as_deref(),
                    )
                })
            })
            .collect();
        if !undecided.is_empty() {
            let mut ev = Evidence::default();
            ev.add("undecided", undecided.len());
            ev.add("judged", out.checked);
            for u in undecided.iter().take(MAX_UNDECIDED_LISTED) {
                ev.add(&u.subject.label(), u.missing.as_str());
            }
            if undecided.len() > MAX_UNDECIDED_LISTED {
                ev.add("more", undecided.len() - MAX_UNDECIDED_LISTED);
            }
            let samples = undecided.iter().map(|u| u.samples).sum();
            let first = &undecided[0];
            report.findings.push(insufficient(
                rule,
                cx.window,
                format!(
                    "insufficient data for {} subject(s), e.g. {}: {}",
                    undecided.len(),
                    first.subject.label(),
                    first.missing
                ),
                ev,
                samples,
            ));
        } else if out.checked == 0 && cov.findings == 0 && cov.suppressed == 0 {
            let missing = out
                .missing
                .unwrap_or_else(|| "nothing in scope to judge".to_string());
            report.findings.push(insufficient(
                rule,
                cx.window,
                format!("insufficient data: {missing}"),
                Evidence::default(),
                0,
            ));
        }
        report.coverage.push(cov);
    }
}

fn finding(rule: &Rule, hit: Hit, window: (u64, u64)) -> Finding {
    let Hit {
        subject,
        adjust,
        message,
        evidence,
        mut trace_ids,
        samples,
    } = hit;
    trace_ids.truncate(MAX_EXEMPLARS);
    let Subject {
        caller,
        dependency,
        service,
        operation,
    } = subject;
    let mut evidence = evidence;
    if let Some(op) = &operation {
        evidence.insert(0, ("operation".to_string(), Value::Text(op.to_string())));
    }
    let message = match &rule.spec.message {
        Some(t) => fill_template(
            t,
            &[
                ("caller", caller.as_deref().unwrap_or("-")),
                ("dependency", dependency.as_deref().unwrap_or("-")),
                (
                    "service",
                    service.as_deref().or(caller.as_deref()).unwrap_or("-"),
                ),
                ("operation", operation.as_deref().unwrap_or("-")),
                ("detail", &message),
                ("rule", rule.id()),
            ],
        ),
        None => message,
    };
    Finding {
        rule: rule.id().to_string(),
        detector: rule.def.name.to_string(),
        severity: adjust.apply(rule.severity()),
        outcome: Outcome::Finding,
        service: owned(&service).or_else(|| owned(&caller)),
        caller: owned(&caller),
        dependency: owned(&dependency),
        message,
        evidence,
        trace_ids,
        window,
        samples,
        remediation: rule.spec.remediation.clone(),
    }
}

fn insufficient(
    rule: &Rule,
    window: (u64, u64),
    message: String,
    evidence: Evidence,
    samples: u64,
) -> Finding {
    Finding {
        rule: rule.id().to_string(),
        detector: rule.def.name.to_string(),
        severity: Severity::Info,
        outcome: Outcome::InsufficientData,
        caller: None,
        dependency: None,
        service: None,
        message,
        evidence,
        trace_ids: Vec::new(),
        window,
        samples,
        remediation: String::new(),
    }
}

/// The deterministic order: findings before insufficient data, then severity (highest first),
/// rule, subject, message.
pub fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    (
        a.outcome,
        std::cmp::Reverse(a.severity),
        &a.rule,
        &a.caller,
        &a.dependency,
        &a.service,
        a.operation(),
        &a.message,
    )
        .cmp(&(
            b.outcome,
            std::cmp::Reverse(b.severity),
            &b.rule,
            &b.caller,
            &b.dependency,
            &b.service,
            b.operation(),
            &b.message,
        ))
}
