//! Attempt chains: which client calls are retries of another (reference §2, RTY-001 step 1).
//! The one definition: the store counts a call as a retry when it is a later attempt of a chain
//! (`BucketStats::retries`), and the retry rules read the same chains.
//!
//! Chains are found among *siblings* (client calls with the same trace and parent) that share a
//! key (dependency, operation, request path), highest-confidence source first:
//! 1. gRPC attempt spans (`previous-rpc-attempts`, gRFC A72), ordered by that ordinal;
//!    transparent retries (`transparent-retry = true`) are not backoff retries and cut the chain.
//! 2. HTTP spans with `http.request.resend_count`, ordered by the ordinal, the first without it;
//!    a link whose predecessor ended 3xx, 401 or 407 is a redirect or auth resend and is dropped.
//! 3. Inferred: consecutive, non-overlapping siblings where each predecessor failed retryably
//!    (`Outcome::retryable`) and the next starts < 60 s after it ended, with no other sibling
//!    call started between them, about the same item ([`ITEM_ATTRIBUTES`]: a loop posting
//!    successive items during an outage sends different ids, bodies or statements on one
//!    route, and those are not retries of one item). Overlapping siblings are hedges or
//!    fan-out, never retries.

use std::hash::{BuildHasher, Hasher};

use super::attrs::{Attributes, Lookup, Value};
use super::classify::Outcome;

/// The longest gap that still links two attempts.
pub const MAX_GAP_NS: u64 = 60_000_000_000;

/// Where a chain's attempts were recognised from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainSource {
    /// gRPC attempt spans.
    GrpcAttempts,
    /// `http.request.resend_count`.
    ResendCount,
    /// Sibling calls after retryable failures.
    Inferred,
}

impl ChainSource {
    /// Short name for evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainSource::GrpcAttempts => "grpc attempt spans",
            ChainSource::ResendCount => "http.request.resend_count",
            ChainSource::Inferred => "inferred from failed sibling attempts",
        }
    }
}

/// One sibling call, as chain recognition needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt<K> {
    /// Attempts chain only within one key: (dependency, operation, path) or an equivalent.
    pub key: K,
    /// Start, Unix ns.
    pub start_ns: u64,
    /// End, Unix ns.
    pub end_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// `previous-rpc-attempts` of a gRPC attempt span.
    pub grpc_ordinal: Option<i64>,
    /// A gRPC transparent retry (not a backoff retry).
    pub transparent: bool,
    /// The item the call is about: per [`ITEM_ATTRIBUTES`] entry, a hash of the value's
    /// display form when the span carries it. Set by [`identify_items`] (only for the attempts
    /// whose item an inferred link can compare).
    pub item: [Option<u64>; ITEM_ATTRIBUTES.len()],
}

/// Attributes that name the item a call is about: two attempts of one logical call carry the
/// same values. The concrete URL (ids in the path, the query), the body size, a message id, the
/// statement with its literals. Each entry lists one attribute's names, newest convention first.
pub const ITEM_ATTRIBUTES: &[&[&str]] = &[
    &["url.full", "http.url"],
    &["url.path", "http.target"],
    &["url.query"],
    &["http.request.body.size", "http.request_content_length"],
    &["messaging.message.id"],
    &["db.query.text", "db.statement"],
];

/// The item identity of a call's attributes (see [`Attempt::item`]).
pub fn item_of(a: &Attributes) -> [Option<u64>; ITEM_ATTRIBUTES.len()] {
    let mut out = [None; ITEM_ATTRIBUTES.len()];
    for (slot, keys) in out.iter_mut().zip(ITEM_ATTRIBUTES) {
        *slot = keys.iter().find_map(|k| a.get(k)).map(|v| {
            let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
            // Equal display forms hash equal (a string "5" and an integer 5 name one item).
            match v {
                Value::Str(s) => h.write(s.as_bytes()),
                other => h.write(other.to_display().as_bytes()),
            }
            h.finish()
        });
    }
    out
}

/// Sets [`Attempt::item`] of the group's attempts whose item [`chains`] can compare, from their
/// attributes (`attrs(i)`: the attributes of attempt `i`). Only an inferred link compares items,
/// and only between consecutive members of one key whose first failed retryably: so only an
/// attempt that shares its key with another, and failed retryably or follows a member of its
/// key that did, is read (on real traffic a few per cent of calls fail: the others' ten
/// attribute lookups and hashes are skipped). The chains are those of every item set.
pub fn identify_items<'a, K: PartialEq>(
    group: &mut [Attempt<K>],
    attrs: impl Fn(usize) -> &'a Attributes,
) {
    // Per key (first member): members, and whether the latest member seen so far failed
    // retryably. Groups are small: a linear scan beats hashing.
    let mut keys: Vec<(usize, u32, bool)> = Vec::new();
    for (i, a) in group.iter().enumerate() {
        match keys.iter_mut().find(|(f, ..)| group[*f].key == a.key) {
            Some((_, n, _)) => *n += 1,
            None => keys.push((i, 1, false)),
        }
    }
    let mut read = vec![false; group.len()];
    for (i, a) in group.iter().enumerate() {
        let Some((_, n, prev_failed)) = keys.iter_mut().find(|(f, ..)| group[*f].key == a.key)
        else {
            continue;
        };
        read[i] = *n > 1 && (a.outcome.retryable || *prev_failed);
        *prev_failed = a.outcome.retryable;
    }
    for (i, a) in group.iter_mut().enumerate() {
        if read[i] {
            a.item = item_of(attrs(i));
        }
    }
}

/// Whether two calls are about different items: some identity attribute present on both
/// differs.
pub fn different_items<K>(a: &Attempt<K>, b: &Attempt<K>) -> bool {
    a.item
        .iter()
        .zip(&b.item)
        .any(|(u, v)| u.is_some() && v.is_some() && u != v)
}

impl<K> Attempt<K> {
    /// An attempt from a client span's attributes, times and outcome.
    pub fn of(key: K, a: &Attributes, start_ns: u64, end_ns: u64, outcome: Outcome) -> Self {
        Attempt {
            key,
            start_ns,
            end_ns,
            outcome,
            grpc_ordinal: a.first_i64(&["previous-rpc-attempts", "grpc.previous_rpc_attempts"]),
            transparent: matches!(a.get("transparent-retry"), Some(Value::Bool(true))),
            item: [None; ITEM_ATTRIBUTES.len()],
        }
    }
}

/// One logical call made of ≥ 2 attempts: indices into the sibling group, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Attempts, in order.
    pub attempts: Vec<u32>,
    /// How it was recognised.
    pub source: ChainSource,
}

/// The request path that keys attempts: the route template, else the path of the URL, without
/// query or fragment.
pub fn request_path(a: &impl Lookup) -> String {
    request_path_of(a).to_string()
}

/// [`request_path`], borrowed from the attributes.
pub fn request_path_of(a: &impl Lookup) -> &str {
    a.first_str(&["url.template", "http.route", "url.path", "http.target"])
        .map(|p| p.split('?').next().unwrap_or(p))
        .or_else(|| {
            a.first_str(&["url.full", "http.url"]).map(|u| {
                let rest = u.split_once("://").map_or(u, |(_, r)| r);
                let path = rest.find('/').map_or("/", |i| &rest[i..]);
                path.split(['?', '#']).next().unwrap_or(path)
            })
        })
        .unwrap_or_default()
}

/// The chains among one sibling group, which must be ordered by (start, span id).
pub fn chains<K: PartialEq>(group: &[Attempt<K>]) -> Vec<Chain> {
    let mut out = Vec::new();
    if group.len() < 2 {
        return out;
    }
    // Members of each key, in group order (groups are small: a linear scan beats hashing).
    let mut keys: Vec<(&K, Vec<u32>)> = Vec::new();
    for (i, a) in group.iter().enumerate() {
        match keys.iter_mut().find(|(k, _)| **k == a.key) {
            Some((_, m)) => m.push(i as u32),
            None => keys.push((&a.key, vec![i as u32])),
        }
    }
    for (_, members) in keys {
        if members.len() < 2 {
            continue;
        }
        let grpc: Vec<u32> = members
            .iter()
            .copied()
            .filter(|&i| group[i as usize].grpc_ordinal.is_some())
            .collect();
        if grpc.len() >= 2 {
            grpc_chains(group, grpc, &mut out);
        } else if members
            .iter()
            .any(|&i| group[i as usize].outcome.resend.is_some_and(|r| r > 0))
        {
            resend_chains(group, &members, &mut out);
        } else {
            inferred_chains(group, &members, &mut out);
        }
    }
    out.sort_by_key(|c| c.attempts[0]);
    out
}

/// For each member of the group: its attempt number (1 = first) within its chain, or 1.
pub fn attempt_numbers<K: PartialEq>(group: &[Attempt<K>]) -> Vec<u16> {
    let mut k = vec![1u16; group.len()];
    for ch in chains(group) {
        for (i, &a) in ch.attempts.iter().enumerate() {
            k[a as usize] = (i + 1).min(u16::MAX as usize) as u16;
        }
    }
    k
}

fn push(out: &mut Vec<Chain>, attempts: Vec<u32>, source: ChainSource) {
    if attempts.len() >= 2 {
        out.push(Chain { attempts, source });
    }
}

fn links<K>(group: &[Attempt<K>], a: u32, b: u32) -> bool {
    let (p, n) = (&group[a as usize], &group[b as usize]);
    n.start_ns >= p.end_ns && n.start_ns - p.end_ns < MAX_GAP_NS
}

/// Whether the link pred → next is a redirect or auth resend (3xx, 401, 407).
fn redirect_or_auth(pred: &Outcome) -> bool {
    matches!(pred.http_status, Some(300..=399 | 401 | 407))
}

fn grpc_chains<K>(group: &[Attempt<K>], mut members: Vec<u32>, out: &mut Vec<Chain>) {
    members.sort_by_key(|&i| (group[i as usize].grpc_ordinal, group[i as usize].start_ns));
    let mut cur: Vec<u32> = Vec::new();
    for i in members {
        let a = &group[i as usize];
        let ord = a.grpc_ordinal.unwrap_or(0);
        let follows = cur.last().is_some_and(|&p| {
            group[p as usize].grpc_ordinal.unwrap_or(0) + 1 == ord && links(group, p, i)
        });
        if !follows || a.transparent {
            push(out, std::mem::take(&mut cur), ChainSource::GrpcAttempts);
        }
        cur.push(i);
    }
    push(out, cur, ChainSource::GrpcAttempts);
}

fn resend_chains<K>(group: &[Attempt<K>], members: &[u32], out: &mut Vec<Chain>) {
    let mut cur: Vec<u32> = Vec::new();
    let mut last_ord = 0i64;
    for &i in members {
        let ord = i64::from(group[i as usize].outcome.resend.unwrap_or(0));
        let follows = ord > 0
            && ord == last_ord + 1
            && cur.last().is_some_and(|&p| {
                !redirect_or_auth(&group[p as usize].outcome) && links(group, p, i)
            });
        if !follows {
            push(out, std::mem::take(&mut cur), ChainSource::ResendCount);
        }
        cur.push(i);
        last_ord = ord;
    }
    push(out, cur, ChainSource::ResendCount);
}

fn inferred_chains<K>(group: &[Attempt<K>], members: &[u32], out: &mut Vec<Chain>) {
    let mut cur: Vec<u32> = Vec::new();
    for &i in members {
        let follows = cur.last().is_some_and(|&p| {
            let (pred, next) = (&group[p as usize], &group[i as usize]);
            pred.outcome.retryable
                && links(group, p, i)
                && !different_items(pred, next)
                // No other sibling call started between the two attempts.
                && !group.iter().enumerate().any(|(j, s)| {
                    let j = j as u32;
                    j != p && j != i && s.start_ns > pred.start_ns && s.start_ns < next.start_ns
                })
        });
        if !follows {
            push(out, std::mem::take(&mut cur), ChainSource::Inferred);
        }
        cur.push(i);
    }
    push(out, cur, ChainSource::Inferred);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at(
        key: &'static str,
        start_ms: u64,
        dur_ms: u64,
        status: Option<u16>,
    ) -> Attempt<&'static str> {
        let failed = status.is_some_and(|s| s >= 500);
        Attempt {
            key,
            start_ns: start_ms * MS,
            end_ns: (start_ms + dur_ms) * MS,
            outcome: Outcome {
                error: failed,
                retryable: failed,
                http_status: status,
                ..Outcome::default()
            },
            grpc_ordinal: None,
            transparent: false,
            item: [None; ITEM_ATTRIBUTES.len()],
        }
    }

    #[test]
    fn failed_siblings_chain_and_overlaps_do_not() {
        let g = [
            at("pay", 0, 10, Some(503)),
            at("pay", 110, 10, Some(503)),
            at("pay", 220, 10, Some(200)),
            at("other", 300, 10, Some(200)),
        ];
        assert_eq!(
            chains(&g),
            vec![Chain {
                attempts: vec![0, 1, 2],
                source: ChainSource::Inferred
            }]
        );
        assert_eq!(attempt_numbers(&g), vec![1, 2, 3, 1]);
        // A success is not retried; overlapping calls are fan-out.
        let g = [at("pay", 0, 10, Some(200)), at("pay", 20, 10, Some(200))];
        assert!(chains(&g).is_empty());
        let g = [at("pay", 0, 50, Some(503)), at("pay", 20, 10, Some(200))];
        assert!(chains(&g).is_empty());
        // Another call between the two attempts breaks the link (a loop over items).
        let g = [
            at("pay", 0, 10, Some(503)),
            at("inv", 50, 10, Some(200)),
            at("pay", 110, 10, Some(200)),
        ];
        assert!(chains(&g).is_empty());
    }

    #[test]
    fn failed_siblings_about_different_items_do_not_chain() {
        // One route, successive items: ids in the URL, or bodies of different sizes.
        let mut g = [
            at("pay", 0, 10, Some(503)),
            at("pay", 110, 10, Some(503)),
            at("pay", 220, 10, Some(503)),
        ];
        for (k, a) in g.iter_mut().enumerate() {
            a.item[0] = Some(k as u64);
        }
        assert!(chains(&g).is_empty());
        // The same item twice, then another: the first two chain.
        g[1].item[0] = Some(0);
        assert_eq!(chains(&g)[0].attempts, vec![0, 1]);
        // Identity present on one side only does not cut.
        g[2].item[0] = None;
        assert_eq!(chains(&g)[0].attempts, vec![0, 1, 2]);
    }

    #[test]
    fn item_identity_follows_both_conventions_and_display_form() {
        use crate::model::attrs::{AttrValue, KeyValue};
        let attrs = |kv: Vec<(&str, AttrValue)>| {
            Attributes::new(
                kv.into_iter()
                    .map(|(k, v)| KeyValue {
                        key: k.into(),
                        value: v,
                    })
                    .collect(),
                0,
            )
        };
        let old = item_of(&attrs(vec![
            ("http.url", AttrValue::Str("http://l/items/7".into())),
            ("http.request_content_length", AttrValue::Str("12".into())),
        ]));
        let new = item_of(&attrs(vec![
            ("url.full", AttrValue::Str("http://l/items/7".into())),
            ("http.request.body.size", AttrValue::Int(12)),
        ]));
        assert_eq!(old, new);
        let other = item_of(&attrs(vec![(
            "url.full",
            AttrValue::Str("http://l/items/8".into()),
        )]));
        assert_ne!(old[0], other[0]);
    }

    #[test]
    fn items_read_only_where_compared_give_the_chains_of_every_item() {
        use crate::model::attrs::{AttrValue, KeyValue};
        // Seeded groups of 2–7 attempts over two keys, some failing, some overlapping, with
        // the same or different URLs (or none): reading items lazily must not change a chain.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut compared = 0;
        for _ in 0..3000 {
            let len = 2 + next(6) as usize;
            let mut group = Vec::new();
            let mut attrs = Vec::new();
            let mut t = 0;
            for _ in 0..len {
                t += next(150);
                let status = [200, 503, 500, 404][next(4) as usize];
                let mut a = at(
                    ["pay", "inv"][next(2) as usize],
                    t,
                    1 + next(40),
                    Some(status),
                );
                a.outcome.retryable = status >= 500;
                group.push(a);
                let url = ["http://l/items/1", "http://l/items/2", ""][next(3) as usize];
                let kv = (!url.is_empty())
                    .then(|| KeyValue {
                        key: "url.full".into(),
                        value: AttrValue::Str(url.into()),
                    })
                    .into_iter()
                    .collect();
                attrs.push(Attributes::new(kv, 0));
            }
            let mut every = group.clone();
            for (a, attrs) in every.iter_mut().zip(&attrs) {
                a.item = item_of(attrs);
            }
            identify_items(&mut group, |i| &attrs[i]);
            compared += group.iter().filter(|a| a.item[0].is_some()).count();
            assert_eq!(chains(&group), chains(&every), "{every:?}");
        }
        // Items were read where they matter, not nowhere.
        assert!(compared > 1000, "{compared}");
    }

    #[test]
    fn resend_counts_chain_but_redirects_do_not() {
        let mut g = [at("pay", 0, 10, Some(503)), at("pay", 20, 10, Some(200))];
        g[1].outcome.resend = Some(1);
        assert_eq!(chains(&g)[0].source, ChainSource::ResendCount);
        g[0].outcome.http_status = Some(302);
        assert!(chains(&g).is_empty());
    }
}
