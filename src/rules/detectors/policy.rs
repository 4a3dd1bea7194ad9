//! `policy`: architecture rules over the observed service graph.
//!
//! ```toml
//! [rule.params]
//! deny = [{ from = "web-*", to = "postgres*", reason = "web talks to the database only through the API" }]
//! layers = [["gateway", "*-bff"], ["*-api"], ["*-store", "postgres*"]]  # top to bottom; calls go down
//! allow_same_layer = true
//! require_timeout = ["payments*"]   # dependencies that must show timeout evidence
//! require_breaker = ["payments*"]   # dependencies that must show a circuit breaker when they fail
//! max_fan_out = 12                  # distinct dependencies per service (0 = off)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use globset::GlobMatcher;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params, describe};
use super::breaker::breaker_rejection;
use super::timeout::timeout_evidence;
use super::{BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};
use crate::rules::compile::{Globs, glob, globs};

/// `policy`.
pub const POLICY: DetectorDef = DetectorDef {
    name: "policy",
    implements: "architecture policy",
    summary: "denied edges, upward calls between layers, required timeouts/breakers, fan-out limit",
    params: &[
        ParamDef {
            name: "deny",
            kind: ParamKind::Table,
            default: "[]",
            doc: "edges that must not exist: [{from, to, reason}]",
        },
        ParamDef {
            name: "layers",
            kind: ParamKind::Table,
            default: "[]",
            doc: "layers top to bottom, each a list of service globs; calls may only go down",
        },
        ParamDef {
            name: "allow_same_layer",
            kind: ParamKind::Flag,
            default: "true",
            doc: "whether services of one layer may call each other",
        },
        ParamDef {
            name: "require_timeout",
            kind: ParamKind::TextList,
            default: "[]",
            doc: "dependencies (globs) whose callers must show timeout evidence",
        },
        ParamDef {
            name: "require_breaker",
            kind: ParamKind::TextList,
            default: "[]",
            doc: "dependencies (globs) whose callers must show a breaker when calls fail",
        },
        ParamDef {
            name: "max_fan_out",
            kind: ParamKind::Count,
            default: "0",
            doc: "most distinct dependencies per service (0 = no limit)",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "20",
            doc: "calls needed to judge a required timeout or breaker",
        },
    ],
    build,
};

#[derive(Debug)]
struct Deny {
    from: GlobMatcher,
    to: GlobMatcher,
    text: String,
    reason: String,
}

#[derive(Debug)]
struct Policy {
    deny: Vec<Deny>,
    layers: Vec<Globs>,
    same_layer: bool,
    req_timeout: Globs,
    req_breaker: Globs,
    max_fan_out: usize,
    min_calls: usize,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    let mut errors: Vec<BuildError> = Vec::new();
    let mut deny = Vec::new();
    match p.table("deny") {
        Some(toml::Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                let f = |k: &str| format!("params.deny[{i}].{k}");
                let Some(t) = it.as_table() else {
                    errors.push((
                        format!("params.deny[{i}]"),
                        format!(
                            "expected a table {{from, to, reason}}, got {}",
                            describe(it)
                        ),
                    ));
                    continue;
                };
                for k in t.keys() {
                    if !["from", "to", "reason"].contains(&k.as_str()) {
                        errors.push((
                            f(k),
                            "unknown field; expected one of: from, to, reason".into(),
                        ));
                    }
                }
                let mut get = |k: &str| match t.get(k) {
                    Some(toml::Value::String(s)) => Some(s.clone()),
                    Some(v) => {
                        errors.push((f(k), format!("expected a string, got {}", describe(v))));
                        None
                    }
                    None if k == "reason" => Some(String::new()),
                    None => {
                        errors.push((f(k), "missing required field".into()));
                        None
                    }
                };
                let (from, to, reason) = (get("from"), get("to"), get("reason"));
                if let (Some(from), Some(to), Some(reason)) = (from, to, reason) {
                    match (glob(&from), glob(&to)) {
                        (Ok(fg), Ok(tg)) => deny.push(Deny {
                            from: fg,
                            to: tg,
                            text: format!("{from} → {to}"),
                            reason,
                        }),
                        (Err(e), _) => errors.push((f("from"), e)),
                        (_, Err(e)) => errors.push((f("to"), e)),
                    }
                }
            }
        }
        Some(other) => errors.push((
            "params.deny".into(),
            format!("expected an array of tables, got {}", describe(other)),
        )),
        None => {}
    }
    let mut layers = Vec::new();
    match p.table("layers") {
        Some(toml::Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                let field = format!("params.layers[{i}]");
                let list: Vec<String> = match it {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) if a.iter().all(|v| v.is_str()) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    other => {
                        errors.push((
                            field,
                            format!("expected a list of service globs, got {}", describe(other)),
                        ));
                        continue;
                    }
                };
                match globs(&field, &list) {
                    Ok(g) => layers.push(g),
                    Err(e) => errors.extend(e),
                }
            }
        }
        Some(other) => errors.push((
            "params.layers".into(),
            format!("expected an array of lists, got {}", describe(other)),
        )),
        None => {}
    }
    let req_timeout =
        globs("params.require_timeout", p.list("require_timeout")).unwrap_or_else(|e| {
            errors.extend(e);
            Globs::default()
        });
    let req_breaker =
        globs("params.require_breaker", p.list("require_breaker")).unwrap_or_else(|e| {
            errors.extend(e);
            Globs::default()
        });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Box::new(Policy {
        deny,
        layers,
        same_layer: p.flag("allow_same_layer"),
        req_timeout,
        req_breaker,
        max_fan_out: p.count("max_fan_out") as usize,
        min_calls: p.count("min_calls").max(1) as usize,
    }))
}

impl Policy {
    fn layer(&self, s: &str) -> Option<usize> {
        self.layers.iter().position(|g| g.matches_some(s))
    }
}

fn hit(
    subject: Subject,
    message: String,
    mut ev: Evidence,
    cx: &Context<'_>,
    calls: &[&Call],
) -> Hit {
    if let (Some(c), Some(d)) = (&subject.caller, &subject.dependency)
        && let Some(v) = cx.dep(c, d)
    {
        dep::cite(&mut ev, v);
    }
    Hit {
        subject,
        message,
        evidence: ev,
        trace_ids: exemplars(cx, calls.iter().map(|c| c.trace), 5),
        samples: calls.len() as u64,
        ..Hit::default()
    }
}

impl Detector for Policy {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut fan: BTreeMap<Arc<str>, BTreeSet<Arc<str>>> = BTreeMap::new();
        for ((caller, dep), idx) in &cx.by_edge {
            let calls: Vec<&Call> = idx
                .iter()
                .map(|&i| &cx.calls[i as usize])
                .filter(|c| rule.op(&c.op))
                .collect();
            let Some(first) = calls.first() else { continue };
            if !rule.edge(caller, dep, first.kind) {
                continue;
            }
            out.checked += 1;
            fan.entry(caller.clone()).or_default().insert(dep.clone());
            let subject = Subject::edge(caller, dep);
            for d in &self.deny {
                if d.from.is_match(&**caller) && d.to.is_match(&**dep) {
                    let mut ev = Evidence::default();
                    ev.add("denied", d.text.as_str());
                    ev.add("calls_in_scope", calls.len());
                    let why = if d.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", d.reason)
                    };
                    out.hits.push(hit(
                        subject.clone(),
                        format!(
                            "denied edge ({}){why}; {} calls observed",
                            d.text,
                            calls.len()
                        ),
                        ev,
                        cx,
                        &calls,
                    ));
                }
            }
            if let (Some(lc), Some(ld)) = (self.layer(caller), self.layer(dep))
                && (ld < lc || (ld == lc && !self.same_layer && caller != dep))
            {
                let mut ev = Evidence::default();
                ev.add("caller_layer", lc);
                ev.add("dependency_layer", ld);
                ev.add("calls_in_scope", calls.len());
                let what = if ld < lc {
                    "calls up a layer"
                } else {
                    "calls within its layer"
                };
                out.hits.push(hit(
                    subject.clone(),
                    format!(
                        "layering violation: {caller} (layer {lc}) {what} to {dep} (layer {ld})"
                    ),
                    ev,
                    cx,
                    &calls,
                ));
            }
            if self.req_timeout.matches_some(dep) {
                let te = timeout_evidence(&calls);
                let any = te.client_timeouts + te.proxy_timeouts > 0 || te.ceiling.is_some();
                if !any && calls.len() < self.min_calls {
                    out.undecided.push(Undecided {
                        subject: subject.clone(),
                        missing: format!(
                            "required timeout: {} calls, needs {}",
                            calls.len(),
                            self.min_calls
                        ),
                        samples: calls.len() as u64,
                    });
                } else if !any {
                    let mut ev = Evidence::default();
                    ev.add("calls_in_scope", calls.len());
                    ev.add("max_ms", te.sorted_ms.last().copied().unwrap_or(0.0));
                    ev.add("timeout_errors", 0u64);
                    out.hits.push(hit(subject.clone(), format!("policy requires a timeout on {dep}, but none of {} calls shows one (no timeout error, no latency ceiling)", calls.len()), ev, cx, &calls));
                }
            }
            // A breaker the view shows (a metric one, or one seen rejecting calls) satisfies it.
            let present = cx
                .dep(caller, dep)
                .is_some_and(|v| dep::breaker(&v.breaker).present());
            if self.req_breaker.matches_some(dep) && !present {
                let failed = calls.iter().filter(|c| c.error).count();
                let rejected = calls.iter().filter(|c| breaker_rejection(c)).count();
                if rejected == 0 && (failed < self.min_calls || calls.len() < self.min_calls) {
                    out.undecided.push(Undecided { subject: subject.clone(), missing: format!("required breaker: no breaker metrics, and {failed} failures are too few to see one act"), samples: calls.len() as u64 });
                } else if rejected == 0 {
                    let mut ev = Evidence::default();
                    ev.add("calls_in_scope", calls.len());
                    ev.add("failures", failed);
                    ev.add("breaker_rejections", 0u64);
                    out.hits.push(hit(subject.clone(), format!("policy requires a circuit breaker on {dep}: {failed} of {} calls failed and none was rejected fast by a breaker", calls.len()), ev, cx, &calls));
                }
            }
        }
        if self.max_fan_out > 0 {
            for (svc, deps) in &fan {
                if deps.len() > self.max_fan_out && rule.service(svc) {
                    let mut ev = Evidence::default();
                    ev.add("dependencies", deps.len());
                    ev.add("limit", self.max_fan_out);
                    ev.add(
                        "list",
                        deps.iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                    out.hits.push(Hit {
                        subject: Subject::service(svc),
                        message: format!(
                            "{svc} calls {} distinct dependencies, over the limit of {}",
                            deps.len(),
                            self.max_fan_out
                        ),
                        evidence: ev,
                        samples: deps.len() as u64,
                        ..Hit::default()
                    });
                }
            }
        }
        if out.checked == 0 {
            out.missing = Some("no edges in scope".into());
        }
        out
    }
}
