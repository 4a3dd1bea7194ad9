//! Joining metric (caller, dependency) keys to the trace edges: the dependency by exact name,
//! then by normalised name (`outbound|80||payments.prod.svc.cluster.local` = `payments`), then
//! through the profiles' alias map; the caller must match too unless only one trace edge has
//! that dependency. Last, a pool or cache named after the host or database of one of the same
//! caller's database edges (`cart-cache` → `redis cart-cache`, `orders` →
//! `postgresql db-1/orders`) joins it; and a series naming a server by its address
//! (redis_exporter's `redis://cache:6379`, `cache:11211`) joins the database edge of that
//! server (`redis cache`, see `address`): the same caller's one match, else the only one. What
//! joins nothing keeps its metric key: a metrics-only row.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::edge::EdgeKey;
use crate::model::resilience::{GaugeSample, ResilienceView, normalise_dependency};

use super::address::Address;

/// Re-keys `views` onto trace edges where they join; two views landing on one edge are merged
/// (the worse breaker, summed queues and rates).
pub fn join_to_edges(
    views: &BTreeMap<EdgeKey, ResilienceView>,
    edges: &[EdgeKey],
    aliases: &HashMap<String, String>,
) -> BTreeMap<EdgeKey, ResilienceView> {
    let mut by_exact: HashMap<&str, Vec<&EdgeKey>> = HashMap::new();
    let mut by_norm: HashMap<String, Vec<&EdgeKey>> = HashMap::new();
    let mut by_part: HashMap<&str, Vec<&EdgeKey>> = HashMap::new();
    let addressed: Vec<(Address, &EdgeKey)> = edges
        .iter()
        .filter_map(|e| Address::of_edge(&e.dependency).map(|a| (a, e)))
        .collect();
    for e in edges {
        for part in name_parts(&e.dependency) {
            by_part.entry(part).or_default().push(e);
        }
        by_exact.entry(&e.dependency).or_default().push(e);
        by_norm
            .entry(normalise_dependency(&e.dependency))
            .or_default()
            .push(e);
    }
    let mut out: BTreeMap<EdgeKey, ResilienceView> = BTreeMap::new();
    for (key, view) in views {
        let dep = &*key.dependency;
        let alias = aliases.get(dep).map(String::as_str);
        let candidates = by_exact
            .get(dep)
            .cloned()
            .or_else(|| by_norm.get(&normalise_dependency(dep)).cloned())
            .or_else(|| alias.and_then(|a| by_exact.get(a).cloned()))
            .or_else(|| alias.and_then(|a| by_norm.get(&normalise_dependency(a)).cloned()))
            .unwrap_or_default();
        let same_caller = |e: &&&EdgeKey| {
            e.caller == key.caller
                || normalise_dependency(&e.caller) == normalise_dependency(&key.caller)
        };
        // The weakest join, so it needs the same caller and one edge only.
        let by_name_part = || match by_part
            .get(dep)
            .map(|c| c.iter().filter(|e| same_caller(e)).collect::<Vec<_>>())
        {
            Some(mine) if mine.len() == 1 => Some((**mine[0]).clone()),
            _ => None,
        };
        // A server named by its address: the same caller's one edge to it, else the only one.
        let by_address = || {
            let addr = Address::of_label(dep)?;
            let found: Vec<&EdgeKey> = addressed
                .iter()
                .filter(|(a, _)| a.matches(&addr))
                .map(|(_, e)| *e)
                .collect();
            let mine: Vec<&&EdgeKey> = found.iter().filter(|e| same_caller(e)).collect();
            match (mine.as_slice(), found.as_slice()) {
                ([e], _) => Some((**e).clone()),
                ([], [e]) => Some((*e).clone()),
                _ => None,
            }
        };
        let target = match candidates.iter().find(same_caller) {
            Some(e) => (**e).clone(),
            None if candidates.len() == 1 => candidates[0].clone(),
            None if let Some(e) = by_name_part() => e,
            None if let Some(e) = by_address() => e,
            None => EdgeKey {
                caller: key.caller.clone(),
                dependency: alias.map_or_else(|| key.dependency.clone(), Arc::from),
            },
        };
        match out.get_mut(&target) {
            Some(existing) => merge(existing, view),
            None => {
                out.insert(target, view.clone());
            }
        }
    }
    out
}

/// The names a database edge answers to besides its own: the store names one `<system>
/// <host>[:<port>][/<namespace>]` (`redis cart-cache`, `postgresql db-1/orders`), so its host
/// and its namespace. Other dependencies have none.
fn name_parts(dep: &str) -> Vec<&str> {
    let Some((_, rest)) = dep.split_once(' ') else {
        return Vec::new();
    };
    let mut parts = vec![rest];
    if let Some((host, ns)) = rest.split_once('/') {
        let host = host.split(':').next().unwrap_or(host);
        parts.extend([host, ns].into_iter().filter(|p| !p.is_empty()));
    } else if let Some((host, _port)) = rest.split_once(':') {
        parts.push(host);
    }
    parts
}

fn merge(a: &mut ResilienceView, b: &ResilienceView) {
    if b.breaker.severity() > a.breaker.severity() {
        a.breaker = b.breaker;
        a.breaker_source = b.breaker_source.clone();
        a.since_ns = b.since_ns;
    }
    a.transitions.extend(b.transitions.iter().cloned());
    a.transitions.sort_by_key(|t| t.at_ns);
    let add = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    a.queue_depth = add(a.queue_depth, b.queue_depth);
    a.queue_capacity = add(a.queue_capacity, b.queue_capacity);
    a.pool_utilisation = match (a.pool_utilisation, b.pool_utilisation) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    a.in_flight = add(a.in_flight, b.in_flight);
    a.retry_rate = add(a.retry_rate, b.retry_rate);
    a.timeout_rate = add(a.timeout_rate, b.timeout_rate);
    a.rejected_rate = add(a.rejected_rate, b.rejected_rate);
    a.overflow_rate = add(a.overflow_rate, b.overflow_rate);
    a.retry_overflow_rate = add(a.retry_overflow_rate, b.retry_overflow_rate);
    a.cache_hits = add(a.cache_hits, b.cache_hits);
    a.cache_misses = add(a.cache_misses, b.cache_misses);
    a.gauges = merge_gauges(&a.gauges, &b.gauges);
    if !b.pools.is_empty() {
        let mut pools: Vec<_> = a.pools.iter().chain(b.pools.iter()).cloned().collect();
        pools.sort_by(|x, y| x.instance.cmp(&y.instance));
        a.pools = Arc::from(pools);
    }
    if a.latency.is_none() {
        a.latency = b.latency.clone();
    }
    a.last_ns = a.last_ns.max(b.last_ns);
}

/// Two gauge histories on one edge as one: at every sample time of either, each side's latest
/// sample (carried forward), combined as the views are (queues and in-flight summed, the
/// higher utilisation).
fn merge_gauges(a: &Arc<[GaugeSample]>, b: &Arc<[GaugeSample]>) -> Arc<[GaugeSample]> {
    if b.is_empty() {
        return a.clone();
    }
    if a.is_empty() {
        return b.clone();
    }
    let add = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    let mut times: Vec<u64> = a.iter().chain(b.iter()).map(|g| g.t_ns).collect();
    times.sort_unstable();
    times.dedup();
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = Vec::with_capacity(times.len());
    for t in times {
        while i < a.len() && a[i].t_ns <= t {
            i += 1;
        }
        while j < b.len() && b[j].t_ns <= t {
            j += 1;
        }
        let none = GaugeSample::default();
        let x = i.checked_sub(1).map_or(&none, |k| &a[k]);
        let y = j.checked_sub(1).map_or(&none, |k| &b[k]);
        out.push(GaugeSample {
            t_ns: t,
            queue_depth: add(x.queue_depth, y.queue_depth),
            queue_capacity: add(x.queue_capacity, y.queue_capacity),
            pool_utilisation: match (x.pool_utilisation, y.pool_utilisation) {
                (Some(p), Some(q)) => Some(p.max(q)),
                (p, q) => p.or(q),
            },
            in_flight: add(x.in_flight, y.in_flight),
        });
    }
    Arc::from(out)
}
