//! `threshold`: a user-written CEL condition over each dependency's numbers, e.g.
//! `p99_ms > 800 && breaker != "closed"`. Expressions are compiled with the `cel` crate
//! (cel-rust) when the rule loads; unknown variables are load errors. The numbers are the
//! dependency view's for the window (`rules::dep`): what the dashboard and `report` show.
//!
//! Variables: `caller`, `dependency`, `kind` (strings); `calls`, `errors`, `timeouts`,
//! `retries`, `short_circuits` (ints); `error_ratio`, `timeout_ratio`, `retry_ratio` (retries ÷
//! calls), `rate` (per second), `p50_ms`, `p95_ms`, `p99_ms`, `p999_ms`, `max_ms` (doubles);
//! `breaker` (the view's state, `BreakerState::as_str`: `closed`, `open`, `half_open`,
//! `forced_open`, `disabled`, `at_capacity`, `ejected`, `unknown`) and `breaker_source`
//! (`profile:series`, `inferred:traces`, or empty when there is no breaker signal).

use std::sync::Arc;

use cel::{Context as CelContext, Program, Value};

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `threshold`.
pub const THRESHOLD: DetectorDef = DetectorDef {
    name: "threshold",
    implements: "user condition",
    summary: "a CEL condition over per-edge numbers",
    params: &[
        ParamDef {
            name: "condition",
            kind: ParamKind::Text,
            default: "\"\"",
            doc: "CEL expression that is true for a bad edge",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "20",
            doc: "calls an edge needs before the condition is evaluated",
        },
    ],
    build,
};

/// Variables a condition may use.
pub const VARIABLES: &[&str] = &[
    "caller",
    "dependency",
    "kind",
    "calls",
    "errors",
    "timeouts",
    "retries",
    "error_ratio",
    "timeout_ratio",
    "retry_ratio",
    "rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "short_circuits",
    "breaker",
    "breaker_source",
];

#[derive(Debug)]
struct Threshold {
    source: String,
    min_calls: u64,
}

/// Compiles a condition and checks its variables.
pub fn compile(src: &str) -> Result<Program, String> {
    let p = Program::compile(src).map_err(|e| {
        format!(
            "invalid CEL: {}",
            e.to_string().lines().next().unwrap_or("parse error").trim()
        )
    })?;
    let refs = p.references();
    let mut unknown: Vec<&str> = refs
        .variables()
        .into_iter()
        .filter(|v| !VARIABLES.contains(v))
        .collect();
    unknown.sort();
    if let Some(v) = unknown.first() {
        return Err(format!(
            "unknown variable `{v}`; expected one of: {}",
            VARIABLES.join(", ")
        ));
    }
    Ok(p)
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    let src = p.text("condition").trim().to_string();
    if src.is_empty() {
        return Err(vec![(
            "params.condition".into(),
            "missing required parameter: a CEL expression".into(),
        )]);
    }
    compile(&src).map_err(|e| vec![("params.condition".into(), e)])?;
    Ok(Box::new(Threshold {
        source: src,
        min_calls: p.count("min_calls"),
    }))
}

impl Detector for Threshold {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        // Compiled per run: the program is cheap to build and this keeps the detector Sync.
        let Ok(program) = compile(&self.source) else {
            out.missing = Some("the condition no longer compiles".into());
            return out;
        };
        for v in cx.snap.deps.iter() {
            let (caller, dep) = (&v.key.caller, &v.key.dependency);
            let s = &v.traffic;
            if !rule.edge(caller, dep, v.kind) || s.stats.calls == 0 {
                continue;
            }
            let subject = Subject::edge(caller, dep);
            if s.stats.calls < self.min_calls {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!("{} calls, needs {}", s.stats.calls, self.min_calls),
                    samples: s.stats.calls,
                });
                continue;
            }
            let breaker = v.breaker.state.as_str();
            let breaker_source = v.breaker.source.name().unwrap_or("");
            let q = |p: f64| s.quantile_ms(p).unwrap_or(0.0);
            let nums: [(&str, f64); 9] = [
                ("error_ratio", s.error_ratio()),
                ("timeout_ratio", s.timeout_ratio()),
                ("retry_ratio", s.retry_ratio()),
                ("rate", s.rate()),
                ("p50_ms", q(0.5)),
                ("p95_ms", q(0.95)),
                ("p99_ms", q(0.99)),
                ("p999_ms", q(0.999)),
                ("max_ms", s.max_ms().unwrap_or(0.0)),
            ];
            let ints: [(&str, u64); 5] = [
                ("calls", s.stats.calls),
                ("errors", s.stats.errors),
                ("timeouts", s.stats.timeouts),
                ("retries", s.stats.retries),
                ("short_circuits", s.stats.short_circuits),
            ];
            let text = |t: &str| Value::String(Arc::new(t.to_string()));
            let mut ctx = CelContext::default();
            ctx.add_variable_from_value("caller", text(caller));
            ctx.add_variable_from_value("dependency", text(dep));
            ctx.add_variable_from_value("kind", text(v.kind.as_str()));
            ctx.add_variable_from_value("breaker", text(breaker));
            ctx.add_variable_from_value("breaker_source", text(breaker_source));
            for (k, v) in nums {
                ctx.add_variable_from_value(k, Value::Float(v));
            }
            for (k, v) in ints {
                ctx.add_variable_from_value(k, Value::Int(i64::try_from(v).unwrap_or(i64::MAX)));
            }
            match program.execute(&ctx) {
                Ok(Value::Bool(false)) => out.checked += 1,
                Ok(Value::Bool(true)) => {
                    out.checked += 1;
                    let mut ev = Evidence::default();
                    ev.add("condition", self.source.as_str());
                    for (k, v) in ints {
                        ev.add(k, v);
                    }
                    for (k, v) in nums {
                        ev.add(k, v);
                    }
                    ev.add("breaker", breaker);
                    ev.add(
                        "breaker_source",
                        if breaker_source.is_empty() {
                            "none"
                        } else {
                            breaker_source
                        },
                    );
                    ev.add("counted_by", dep::COUNTED_BY);
                    let mut slow: Vec<&crate::rules::context::Call> = cx
                        .by_edge
                        .get(&(caller.clone(), dep.clone()))
                        .map(|idx| idx.iter().map(|&i| &cx.calls[i as usize]).collect())
                        .unwrap_or_default();
                    slow.sort_by(|a, b| {
                        b.dur()
                            .cmp(&a.dur())
                            .then(cx.trace_id(a.trace).cmp(&cx.trace_id(b.trace)))
                    });
                    out.hits.push(Hit {
                        subject,
                        message: format!(
                            "condition `{}` holds (p99 {:.0} ms, error ratio {:.1}%, {} calls)",
                            self.source,
                            q(0.99),
                            s.error_ratio() * 100.0,
                            s.stats.calls
                        ),
                        evidence: ev,
                        trace_ids: exemplars(cx, slow.iter().map(|c| c.trace), 5),
                        samples: s.stats.calls,
                        ..Hit::default()
                    });
                }
                Ok(other) => out.undecided.push(Undecided {
                    subject,
                    missing: format!("condition gave {other:?}, not a boolean"),
                    samples: s.stats.calls,
                }),
                Err(err) => out.undecided.push(Undecided {
                    subject,
                    missing: format!("condition failed: {err}"),
                    samples: s.stats.calls,
                }),
            }
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no edges with calls in scope".into());
        }
        out
    }
}
