//! TMO-002 (`default-timeout`): the timeout that does fire sits at a platform default (Envoy
//! 15 s, nginx 60 s, .NET 100 s, Linux connect 127/131 s, ...), i.e. nobody chose it. The
//! ceiling comes from TMO-001's timeout evidence (`timeout::timeout_evidence`).

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars, quantile_sorted};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::timeout::{edges, timeout_evidence};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};

/// `default-timeout` (TMO-002).
pub const DEFAULT: DetectorDef = DetectorDef {
    name: "default-timeout",
    implements: "TMO-002",
    summary: "the timeout that fires equals a platform or library default",
    params: &[
        ParamDef {
            name: "min_timeouts",
            kind: ParamKind::Count,
            default: "5",
            doc: "timed-out calls needed at the ceiling",
        },
        ParamDef {
            name: "tolerance",
            kind: ParamKind::Ratio,
            default: "0.03",
            doc: "relative distance from a default that counts as equal",
        },
        ParamDef {
            name: "far_factor",
            kind: ParamKind::Number,
            default: "5.0",
            doc: "keep the rule's severity only when the ceiling exceeds this multiple of the p99 of other calls; else info",
        },
    ],
    build: build_default,
};

/// Known default timeouts (seconds) and where they come from (reference §2, TMO-002).
pub const PLATFORM_DEFAULTS: &[(f64, &str)] = &[
    (
        1.0,
        "Hystrix execution timeout / resilience4j TimeLimiter default (1 s)",
    ),
    (
        10.0,
        "opossum timeout / Microsoft.Extensions.Http.Resilience attempt timeout (10 s)",
    ),
    (15.0, "Envoy route timeout default (15 s)"),
    (
        30.0,
        "Microsoft.Extensions.Http.Resilience total timeout (30 s)",
    ),
    (
        60.0,
        "nginx proxy_read/connect/send_timeout / resilience4j slow-call threshold (60 s)",
    ),
    (100.0, ".NET HttpClient.Timeout default (100 s)"),
    (
        127.0,
        "Linux connect giving up after tcp_syn_retries=6 (127 s): there is no connect timeout",
    ),
    (
        131.0,
        "Linux connect with tcp_syn_linear_timeouts (131 s): there is no connect timeout",
    ),
    (
        924.6,
        "Linux tcp_retries2=15 on an established connection (≈924.6 s): there is no read timeout",
    ),
];

#[derive(Debug)]
struct Default_ {
    min_timeouts: u64,
    tolerance: f64,
    far_factor: f64,
}

fn build_default(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Default_ {
        min_timeouts: p.count("min_timeouts").max(1),
        tolerance: p.number("tolerance"),
        far_factor: p.number("far_factor"),
    }))
}

impl Detector for Default_ {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        for ((caller, dep), _kind, calls) in edges(rule, cx, None) {
            let ev = timeout_evidence(&calls);
            // C: the implicit ceiling, else the median duration of client-side timeouts.
            let mut timed: Vec<f64> = calls
                .iter()
                .filter(|c| c.timeout && !matches!(c.http_status, Some(408 | 504)))
                .map(|c| c.ms())
                .collect();
            timed.sort_by(f64::total_cmp);
            let (c_ms, hits, source) = match ev.ceiling {
                Some((c, at)) => (c, at, "latency ceiling"),
                None if !timed.is_empty() => {
                    (timed[timed.len() / 2], timed.len(), "timeout errors")
                }
                None => continue,
            };
            let subject = Subject::edge(&caller, &dep);
            if (hits as u64) < self.min_timeouts {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!("{hits} timed-out calls, needs {}", self.min_timeouts),
                    samples: hits as u64,
                });
                continue;
            }
            out.checked += 1;
            let secs = c_ms / 1e3;
            let Some((d, origin)) = PLATFORM_DEFAULTS
                .iter()
                .find(|(d, _)| (secs - d).abs() <= self.tolerance * d)
            else {
                continue;
            };
            let tol = (0.02 * c_ms).max(20.0);
            let mut others: Vec<f64> = calls
                .iter()
                .filter(|c| (c.ms() - c_ms).abs() > tol && !c.timeout)
                .map(|c| c.ms())
                .collect();
            others.sort_by(f64::total_cmp);
            let p99 = quantile_sorted(&others, 0.99);
            let far = p99.is_some_and(|p| c_ms > self.far_factor * p);
            let mut types: Vec<String> = calls
                .iter()
                .filter(|c| (c.ms() - c_ms).abs() <= tol && c.error)
                .filter_map(|c| {
                    let a = &cx.span(c).attributes;
                    a.first_str(&["error.type", "exception.type"])
                        .map(str::to_string)
                })
                .collect();
            types.sort();
            types.dedup();
            let near: Vec<&&Call> = calls
                .iter()
                .filter(|c| (c.ms() - c_ms).abs() <= tol)
                .collect();
            let mut evidence = Evidence::default();
            evidence.add("ceiling_ms", c_ms);
            evidence.add("ceiling_from", source);
            evidence.add("matches_default_s", *d);
            evidence.add("default_origin", *origin);
            evidence.add("calls_at_ceiling", near.len());
            evidence.add("share_at_ceiling", near.len() as f64 / calls.len() as f64);
            if let Some(p) = p99 {
                evidence.add("p99_other_calls_ms", p);
            }
            evidence.add(
                "error_types",
                if types.is_empty() {
                    "-".to_string()
                } else {
                    types.join(", ")
                },
            );
            if let Some(v) = cx.dep(&caller, &dep) {
                dep::cite(&mut evidence, v);
            }
            out.hits.push(Hit {
                subject,
                adjust: if far { Adjust::Keep } else { Adjust::Info },
                message: format!(
                    "timeout of {} equals a default: {origin}{}",
                    fmt_ms(c_ms),
                    match p99 {
                        Some(p) if far =>
                            format!("; {:.0}× the p99 of other calls ({})", c_ms / p, fmt_ms(p)),
                        _ => String::new(),
                    }
                ),
                evidence,
                trace_ids: exemplars(cx, near.iter().map(|c| c.trace), 5),
                samples: calls.len() as u64,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(
                "no timeout fired on any edge in scope, so no configured timeout could be measured"
                    .into(),
            );
        }
        out
    }
}
