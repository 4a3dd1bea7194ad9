//! DB-001 (`read-replica`): a read-heavy database served by one primary. Per logical database
//! (`db.system.name`/`db.system` + `db.namespace`/`db.name`), the database calls in scope are
//! split by server endpoint (`server.address`/`net.peer.name` + port) and classified as reads
//! or writes (`rules::db_access`). The endpoint that takes the writes is the primary; endpoints
//! of the same database that take only reads are its replicas. Advise replicas when the primary
//! serves ≥ `ratio` reads per write and no replica takes reads; with replicas that take less
//! than `offloaded_share` of the reads the finding is one level lower (they exist but the reads
//! still go to the primary).
//!
//! Needs `min_calls` calls (the primary's reads and writes and its replicas' reads); a database with reads and no writes
//! cannot tell a primary from a replica and is reported undecided.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::db_access::{Access, access, database, endpoint};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `read-replica` (DB-001).
pub const READ_REPLICA: DetectorDef = DetectorDef {
    name: "read-replica",
    implements: "DB-001",
    summary: "a database whose reads outnumber its writes ≥ 10:1 on one primary, with no replica taking reads",
    params: &[
        ParamDef {
            name: "ratio",
            kind: ParamKind::Number,
            default: "10.0",
            doc: "reads per write on the primary that call for a replica",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "100",
            doc: "reads + writes on the primary needed to judge it",
        },
        ParamDef {
            name: "offloaded_share",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "share of reads the replicas must take for the database to pass",
        },
    ],
    build,
};

#[derive(Debug)]
struct ReadReplica {
    ratio: f64,
    min_calls: u64,
    offloaded: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(ReadReplica {
        ratio: p.number("ratio"),
        min_calls: p.count("min_calls").max(1),
        offloaded: p.number("offloaded_share"),
    }))
}

/// Calls to one endpoint of a database.
#[derive(Default)]
struct Endpoint {
    reads: u64,
    writes: u64,
    /// Reads and writes per caller.
    callers: BTreeMap<Arc<str>, u64>,
    /// Reads per caller.
    readers: BTreeMap<Arc<str>, u64>,
    /// The store's dependency names of these calls, with counts.
    deps: BTreeMap<Arc<str>, u64>,
    /// Traces of reads, in call order.
    read_traces: Vec<u32>,
}

fn top<K: Clone + Ord>(m: &BTreeMap<K, u64>) -> Option<K> {
    m.iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}

impl Detector for ReadReplica {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        // (system, namespace) → endpoint → calls.
        // The database names are borrowed from the spans (two allocations per call saved).
        let mut dbs: BTreeMap<(&str, &str), BTreeMap<String, Endpoint>> = BTreeMap::new();
        for c in &cx.calls {
            if c.kind != DepKind::Db || !rule.edge(&c.caller, &c.dep, c.kind) {
                continue;
            }
            let s = cx.span(c);
            let a = &s.attributes;
            let kind = access(a, &s.name);
            if kind == Access::Other {
                continue;
            }
            let ep = endpoint(a).unwrap_or_else(|| c.dep.to_string());
            let e = dbs.entry(database(a)).or_default().entry(ep).or_default();
            *e.deps.entry(c.dep.clone()).or_default() += 1;
            *e.callers.entry(c.caller.clone()).or_default() += 1;
            if kind == Access::Read {
                e.reads += 1;
                *e.readers.entry(c.caller.clone()).or_default() += 1;
                if e.read_traces.len() < 64 {
                    e.read_traces.push(c.trace);
                }
            } else {
                e.writes += 1;
            }
        }
        for ((system, ns), eps) in &dbs {
            let primaries: Vec<(&String, &Endpoint)> =
                eps.iter().filter(|(_, e)| e.writes > 0).collect();
            if primaries.is_empty() {
                let reads: u64 = eps.values().map(|e| e.reads).sum();
                if reads >= self.min_calls {
                    let Some((ep, e)) = eps.iter().max_by_key(|(_, e)| e.reads) else {
                        continue;
                    };
                    out.undecided.push(Undecided {
                        subject: subject(e),
                        missing: format!(
                            "{reads} reads and no writes on {system} {ns} at {ep}: cannot tell a primary from a replica"
                        ),
                        samples: reads,
                    });
                }
                continue;
            }
            // Replicas: read-only endpoints of a database with one primary (two primaries are
            // two databases that share a name, whose read-only peers belong to neither).
            let replicas: Vec<(&String, &Endpoint)> = if primaries.len() == 1 {
                eps.iter().filter(|(_, e)| e.writes == 0).collect()
            } else {
                Vec::new()
            };
            let replica_reads: u64 = replicas.iter().map(|(_, e)| e.reads).sum();
            for (ep, e) in primaries {
                let calls = e.reads + e.writes + replica_reads;
                if calls < self.min_calls {
                    out.undecided.push(Undecided {
                        subject: subject(e),
                        missing: format!(
                            "{calls} reads and writes on {system} {ns} (primary {ep}), needs {}",
                            self.min_calls
                        ),
                        samples: calls,
                    });
                    continue;
                }
                out.checked += 1;
                let ratio = e.reads as f64 / e.writes as f64;
                let all_reads = e.reads + replica_reads;
                let share = if all_reads == 0 {
                    0.0
                } else {
                    replica_reads as f64 / all_reads as f64
                };
                if ratio < self.ratio || (replica_reads > 0 && share >= self.offloaded) {
                    continue;
                }
                out.hits
                    .push(self.hit(cx, (system, ns, ep), e, &replicas, share));
            }
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(
                "no database calls in scope whose reads and writes can be told apart (db.operation.name/db.operation, db.query.summary or db.query.text/db.statement)".into(),
            );
        }
        out
    }
}

/// The finding's subject: the caller with the most reads (else calls) on the endpoint, and the
/// store's dependency name of its calls.
fn subject(e: &Endpoint) -> Subject {
    let caller = top(&e.readers)
        .or_else(|| top(&e.callers))
        .unwrap_or_else(|| Arc::from("(unknown)"));
    let dep = top(&e.deps).unwrap_or_else(|| Arc::from("(unknown)"));
    Subject::edge(&caller, &dep)
}

impl ReadReplica {
    fn hit(
        &self,
        cx: &Context<'_>,
        (system, ns, ep): (&str, &str, &str),
        e: &Endpoint,
        replicas: &[(&String, &Endpoint)],
        share: f64,
    ) -> Hit {
        let ratio = e.reads as f64 / e.writes as f64;
        let subject = subject(e);
        let mut ev = Evidence::default();
        ev.add("database", format!("{system} {ns}"));
        ev.add("primary", ep);
        ev.add("reads", e.reads);
        ev.add("writes", e.writes);
        ev.add("reads_per_write", ratio);
        let callers: Vec<String> = e
            .readers
            .iter()
            .map(|(c, n)| format!("{c}: {n} reads"))
            .collect();
        ev.add("readers", callers.join(", "));
        let names: BTreeSet<&str> = replicas.iter().map(|(n, _)| n.as_str()).collect();
        let (adjust, message) = if replicas.is_empty() {
            ev.add("replicas", "none take reads");
            (
                Adjust::Keep,
                format!(
                    "{system} {ns}: {} reads per write ({} reads, {} writes), every one on the primary {ep}; route reads to a read replica",
                    fmt_ratio(ratio),
                    e.reads,
                    e.writes
                ),
            )
        } else {
            ev.add(
                "replicas",
                names.iter().copied().collect::<Vec<_>>().join(", "),
            );
            ev.add("replica_read_share", share);
            (
                Adjust::Lower,
                format!(
                    "{system} {ns}: {} reads per write on the primary {ep}; its replicas take only {:.0}% of the reads",
                    fmt_ratio(ratio),
                    share * 100.0
                ),
            )
        };
        if let (Some(c), Some(d)) = (&subject.caller, &subject.dependency)
            && let Some(v) = cx.dep(c, d)
        {
            dep::cite(&mut ev, v);
        }
        Hit {
            subject,
            adjust,
            message,
            evidence: ev,
            trace_ids: exemplars(cx, e.read_traces.iter().copied(), 5),
            samples: e.reads + e.writes,
        }
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}:1")
    } else {
        format!("{r:.1}:1")
    }
}
