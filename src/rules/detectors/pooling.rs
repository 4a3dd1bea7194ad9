//! DB-002 (`connection-pooling`): database connections per client instance, from two sources.
//!
//! - **Pool gauges** (`ResilienceView::pools`: HikariCP `hikaricp_connections_*`, OTel
//!   `db.client.connection.count`/`db.client.connections.usage` with state idle/used and
//!   `db.client.connection.max`, any profile's `pool_*` roles), one pool per reporting instance.
//!   Per dependency, the instances' pool sizes (the maximum, else the open connections) are
//!   summed over every caller; a sum above `max_connections` (the database's connection limit:
//!   PostgreSQL's default is 100) is a finding — the fleet can open more connections than the
//!   database accepts, so a scale-out or a burst ends in "too many clients".
//! - **Client socket ports on database spans** (`network.local.port`, `client.port`,
//!   `net.sock.host.port`): per (caller instance, server endpoint), distinct local ports are the
//!   connections it used. When they reach `new_connection_share` of its calls (over at least
//!   `min_calls` calls) the client opens a connection per call: no pool. Pooled instances' port
//!   counts are summed against `max_connections` like gauges are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::db_access::{endpoint, local_port};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};

/// `connection-pooling` (DB-002).
pub const POOLING: DetectorDef = DetectorDef {
    name: "connection-pooling",
    implements: "DB-002",
    summary: "database clients without a connection pool, and pools whose instances × size exceed the database's connection limit",
    params: &[
        ParamDef {
            name: "max_connections",
            kind: ParamKind::Count,
            default: "100",
            doc: "the database's connection limit (PostgreSQL `max_connections`, default 100)",
        },
        ParamDef {
            name: "new_connection_share",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "distinct client ports ÷ calls of one instance that mean a connection per call",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "50",
            doc: "calls of one instance to one database endpoint needed to judge its ports",
        },
    ],
    build,
};

#[derive(Debug)]
struct Pooling {
    limit: u64,
    share: f64,
    min_calls: u64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Pooling {
        limit: p.count("max_connections").max(1),
        share: p.number("new_connection_share"),
        min_calls: p.count("min_calls").max(1),
    }))
}

/// One client instance's calls to one database endpoint.
#[derive(Default)]
struct Client {
    calls: u64,
    ports: BTreeSet<i64>,
    deps: BTreeMap<Arc<str>, u64>,
    traces: Vec<u32>,
}

impl Detector for Pooling {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        self.gauges(rule, cx, &mut out);
        self.ports(rule, cx, &mut out);
        if out.checked == 0 && out.undecided.is_empty() && out.hits.is_empty() {
            out.missing = Some(
                "no connection-pool gauges (hikaricp_connections_*, db.client.connection.count/max, db.client.connections.usage) and no client port attributes (network.local.port, client.port, net.sock.host.port) on database spans in scope".into(),
            );
        }
        out
    }
}

impl Pooling {
    /// Instances × pool size per dependency, from the pool gauges of every caller.
    fn gauges(&self, rule: RuleCtx<'_>, cx: &Context<'_>, out: &mut Output) {
        // dependency → (caller, instance, size, open)
        type Pool = (Arc<str>, Arc<str>, f64, Option<f64>);
        let mut by_dep: BTreeMap<Arc<str>, Vec<Pool>> = BTreeMap::new();
        for (key, v) in cx.snap.resilience.iter() {
            if v.pools.is_empty() || !rule.edge(&key.caller, &key.dependency, DepKind::Db) {
                continue;
            }
            for p in v.pools.iter() {
                let Some(size) = p.max.or_else(|| p.open()) else {
                    continue;
                };
                by_dep.entry(key.dependency.clone()).or_default().push((
                    key.caller.clone(),
                    p.instance.clone(),
                    size,
                    p.open(),
                ));
            }
        }
        for (depn, pools) in by_dep {
            out.checked += 1;
            let total: f64 = pools.iter().map(|p| p.2).sum();
            if total <= self.limit as f64 {
                continue;
            }
            let mut per_caller: BTreeMap<Arc<str>, (usize, f64)> = BTreeMap::new();
            for (c, _, size, _) in &pools {
                let e = per_caller.entry(c.clone()).or_default();
                e.0 += 1;
                e.1 += size;
            }
            let Some((caller, _)) = per_caller
                .iter()
                .max_by(|a, b| a.1.1.total_cmp(&b.1.1).then(b.0.cmp(a.0)))
            else {
                continue;
            };
            let caller = caller.clone();
            let open: f64 = pools.iter().filter_map(|p| p.3).sum();
            let mut ev = Evidence::default();
            ev.add("instances", pools.len());
            ev.add("pool_connections_total", total);
            ev.add("open_connections", open);
            ev.add("max_connections", self.limit);
            ev.add(
                "pools",
                per_caller
                    .iter()
                    .map(|(c, (n, s))| format!("{c}: {n} instance(s), {s:.0} connections"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            ev.add("source", "pool gauges");
            if let Some(v) = cx.dep(&caller, &depn) {
                dep::cite(&mut ev, v);
            }
            let traces = pool_traces(cx, &caller, &depn);
            out.hits.push(Hit {
                subject: Subject::edge(&caller, &depn),
                adjust: Adjust::Keep,
                message: format!(
                    "{} instance(s) × their pools can open {total:.0} connections to {depn}, over its limit of {}; put a pooler (PgBouncer, RDS Proxy) in front or shrink the pools",
                    pools.len(),
                    self.limit
                ),
                evidence: ev,
                trace_ids: exemplars(cx, traces, 5),
                samples: pools.len() as u64,
            });
        }
    }

    /// Connection per call, and pooled connection counts, from client ports on database spans.
    fn ports(&self, rule: RuleCtx<'_>, cx: &Context<'_>, out: &mut Output) {
        // (endpoint, caller, instance) → calls
        let mut clients: BTreeMap<(String, Arc<str>, Arc<str>), Client> = BTreeMap::new();
        for c in &cx.calls {
            if c.kind != DepKind::Db || !rule.edge(&c.caller, &c.dep, c.kind) {
                continue;
            }
            let a = &cx.span(c).attributes;
            let Some(port) = local_port(a) else {
                continue;
            };
            let ep = endpoint(a).unwrap_or_else(|| c.dep.to_string());
            let inst = c.caller_instance.clone().unwrap_or_else(|| Arc::from(""));
            let e = clients.entry((ep, c.caller.clone(), inst)).or_default();
            e.calls += 1;
            e.ports.insert(port);
            *e.deps.entry(c.dep.clone()).or_default() += 1;
            if e.traces.len() < 16 {
                e.traces.push(c.trace);
            }
        }
        // (endpoint, caller) → per-instance figures of the judged instances.
        let mut unpooled: BTreeMap<(String, Arc<str>), Vec<&Client>> = BTreeMap::new();
        let mut pooled: BTreeMap<String, Vec<(&Arc<str>, &Client)>> = BTreeMap::new();
        for ((ep, caller, inst), cl) in &clients {
            let subject = Subject::edge(caller, &top(&cl.deps));
            if cl.calls < self.min_calls {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{} calls with a client port from instance {inst:?} to {ep}, needs {}",
                        cl.calls, self.min_calls
                    ),
                    samples: cl.calls,
                });
                continue;
            }
            out.checked += 1;
            if cl.ports.len() as f64 >= self.share * cl.calls as f64 {
                unpooled
                    .entry((ep.clone(), caller.clone()))
                    .or_default()
                    .push(cl);
            } else {
                pooled.entry(ep.clone()).or_default().push((caller, cl));
            }
        }
        for ((ep, caller), cls) in unpooled {
            let calls: u64 = cls.iter().map(|c| c.calls).sum();
            let ports: usize = cls.iter().map(|c| c.ports.len()).sum();
            let depn = top(&cls.iter().fold(BTreeMap::new(), |mut m, c| {
                for (d, n) in &c.deps {
                    *m.entry(d.clone()).or_insert(0) += n;
                }
                m
            }));
            let mut ev = Evidence::default();
            ev.add("endpoint", ep.as_str());
            ev.add("instances", cls.len());
            ev.add("calls", calls);
            ev.add("distinct_client_ports", ports);
            ev.add("connections_per_call", ports as f64 / calls as f64);
            ev.add("source", "client ports on database spans");
            if let Some(v) = cx.dep(&caller, &depn) {
                dep::cite(&mut ev, v);
            }
            out.hits.push(Hit {
                subject: Subject::edge(&caller, &depn),
                adjust: Adjust::Keep,
                message: format!(
                    "{caller} opens a new connection per call to {ep}: {ports} client ports over {calls} calls from {} instance(s); use a connection pool",
                    cls.len()
                ),
                evidence: ev,
                trace_ids: exemplars(cx, cls.iter().flat_map(|c| c.traces.iter().copied()), 5),
                samples: calls,
            });
        }
        for (ep, cls) in pooled {
            let total: usize = cls.iter().map(|(_, c)| c.ports.len()).sum();
            if total as u64 <= self.limit {
                continue;
            }
            let Some((caller, biggest)) = cls.iter().max_by_key(|(_, c)| c.ports.len()) else {
                continue;
            };
            let depn = top(&biggest.deps);
            let mut ev = Evidence::default();
            ev.add("endpoint", ep.as_str());
            ev.add("instances", cls.len());
            ev.add("connections_seen", total);
            ev.add("max_connections", self.limit);
            ev.add("source", "client ports on database spans");
            out.hits.push(Hit {
                subject: Subject::edge(caller, &depn),
                adjust: Adjust::Keep,
                message: format!(
                    "{} client instance(s) hold {total} connections to {ep}, over its limit of {}",
                    cls.len(),
                    self.limit
                ),
                evidence: ev,
                trace_ids: exemplars(cx, biggest.traces.iter().copied(), 5),
                samples: total as u64,
            });
        }
    }
}

/// Traces of the caller's calls through the pool: on the edge the gauges name; else, as a pool
/// is often named after its database rather than the span's dependency, the caller's database
/// calls whose dependency ends in that name (`postgresql host/ledger` for pool `ledger`), or all
/// its database calls when they go to one dependency.
fn pool_traces(cx: &Context<'_>, caller: &Arc<str>, pool: &Arc<str>) -> Vec<u32> {
    if let Some(idx) = cx.by_edge.get(&(caller.clone(), pool.clone())) {
        return idx.iter().map(|&i| cx.calls[i as usize].trace).collect();
    }
    let db: Vec<&super::super::context::Call> = cx
        .calls
        .iter()
        .filter(|c| &c.caller == caller && c.kind == DepKind::Db)
        .collect();
    let suffix = format!("/{pool}");
    let named: Vec<u32> = db
        .iter()
        .filter(|c| c.dep.ends_with(&suffix))
        .map(|c| c.trace)
        .collect();
    if !named.is_empty() {
        return named;
    }
    let deps: BTreeSet<&str> = db.iter().map(|c| &*c.dep).collect();
    if deps.len() == 1 {
        db.iter().map(|c| c.trace).collect()
    } else {
        Vec::new()
    }
}

fn top(m: &BTreeMap<Arc<str>, u64>) -> Arc<str> {
    m.iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or_else(|| Arc::from("(unknown)"), |(k, _)| k.clone())
}
