//! BLK-001 (`saturation`): pool, bulkhead and queue saturation. Its inputs are utilization and
//! queue gauges (HikariCP, resilience4j bulkheads, Envoy pending requests, HAProxy queues,
//! executors, OTel `db.client.connection.*`); traces alone cannot tell a pool's size, so until a
//! metrics source supplies those gauges the rule reports insufficient data, with the Little's-law
//! concurrency estimate L = λ·W per edge as a sizing hint.

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::Context;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{BuildError, Detector, DetectorDef, Output, RuleCtx, Subject, Undecided};

/// `saturation` (BLK-001).
pub const SATURATION: DetectorDef = DetectorDef {
    name: "saturation",
    implements: "BLK-001",
    summary: "pools, bulkheads and queues at capacity (needs utilization and queue gauges)",
    params: &[
        ParamDef {
            name: "utilization",
            kind: ParamKind::Ratio,
            default: "0.8",
            doc: "utilization U that warns when held for `sustain`",
        },
        ParamDef {
            name: "sustain",
            kind: ParamKind::Duration,
            default: "\"5m\"",
            doc: "how long U must hold",
        },
        ParamDef {
            name: "queue_sustain",
            kind: ParamKind::Duration,
            default: "\"1m\"",
            doc: "how long a non-empty queue must last",
        },
        ParamDef {
            name: "hint_min_concurrency",
            kind: ParamKind::Number,
            default: "1.0",
            doc: "list edges whose estimated concurrency λ·W reaches this",
        },
    ],
    build,
};

#[derive(Debug)]
struct Saturation {
    hint_min: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    let _ = (
        p.number("utilization"),
        p.duration_ns("sustain"),
        p.duration_ns("queue_sustain"),
    );
    Ok(Box::new(Saturation {
        hint_min: p.number("hint_min_concurrency"),
    }))
}

impl Detector for Saturation {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        for e in cx.snap.edges.iter() {
            let (caller, dep) = (&e.key.caller, &e.key.dependency);
            if !rule.edge(caller, dep, e.series.kind) || e.summary.stats.calls == 0 {
                continue;
            }
            let mean_s = e.summary.stats.latency.quantile(0.5).unwrap_or(0.0);
            let l = e.summary.rate() * mean_s;
            if l < self.hint_min {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add("little_law_concurrency", l);
            out.undecided.push(Undecided {
                subject: Subject::edge(caller, dep),
                missing: format!(
                    "no pool/bulkhead/queue gauges for this edge; estimated concurrency λ·W ≈ {l:.1} (rate {:.1}/s × p50 {:.0} ms)",
                    e.summary.rate(),
                    mean_s * 1e3
                ),
                samples: e.summary.stats.calls,
            });
        }
        out.missing = Some(
            "no pool, bulkhead or queue gauges loaded (needs a metrics source: HikariCP, resilience4j bulkhead, Envoy pending, HAProxy queue, executor or db.client.connection.* series)".into(),
        );
        out
    }
}
