//! Attempt chains for the retry rules: the store's one definition (`model::retry`) applied to
//! the context's sibling groups, keyed like the store keys them (edge, operation and path), so
//! the chains the rules analyse are the retries the dependency view counts.
//!
//! Sources, highest confidence first: gRPC attempt spans (`previous-rpc-attempts`), HTTP
//! `http.request.resend_count` (redirect and auth resends dropped), and chains inferred from
//! consecutive non-overlapping siblings after retryable failures about the same item (see
//! `model::retry`).

use foldhash::HashMap;

use crate::model::retry::{self, Attempt};

use super::context::{Call, Context};
use super::par;

pub use crate::model::retry::{ChainSource, MAX_GAP_NS};

/// One logical call made of ≥ 2 attempts.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Attempts (indices into `Context::calls`) in order.
    pub attempts: Vec<u32>,
    /// How it was recognised.
    pub source: ChainSource,
}

impl Chain {
    /// Gaps between attempts in ms: start(k+1) − end(k).
    pub fn gaps_ms(&self, cx: &Context<'_>) -> Vec<f64> {
        self.attempts
            .windows(2)
            .map(|w| {
                let a = &cx.calls[w[0] as usize];
                let b = &cx.calls[w[1] as usize];
                b.start.saturating_sub(a.end) as f64 / 1e6
            })
            .collect()
    }
}

/// Whether a failed call is one a client retries (`model::classify::Outcome::retryable`).
pub fn retryable_failure(c: &Call) -> bool {
    c.outcome.retryable
}

/// All chains of ≥ 2 attempts in the context, in call order (sibling groups split over the
/// context's threads).
pub fn chains(cx: &Context<'_>) -> Vec<Chain> {
    let groups: Vec<&[Call]> = cx.sibling_groups().filter(|g| g.len() >= 2).collect();
    let parts = par::chunks(&groups, cx.threads(), |_, groups| {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        let mut grpc = HashMap::default();
        for group in groups {
            if may_chain(cx, group, &mut grpc) {
                group_chains(cx, group, &mut keys, &mut out);
            }
        }
        out
    });
    par::concat(parts)
}

/// The keys of a gRPC attempt span's ordinal (`model::retry::Attempt::of`).
const GRPC_ORDINAL: [&str; 2] = ["previous-rpc-attempts", "grpc.previous_rpc_attempts"];

/// Whether `model::retry::chains` can link any attempts of the group: only a gRPC attempt
/// ordinal, an HTTP resend count or a retryable failure links two attempts, so a group with
/// none (most: a few per cent of calls fail) has no chain and its spans' attributes need not
/// be read. Whether a span's keys hold an ordinal is found once per key set (`grpc`, by the
/// key set's address and length, alive as long as the snapshot).
fn may_chain(cx: &Context<'_>, group: &[Call], grpc: &mut HashMap<(usize, usize), bool>) -> bool {
    group
        .iter()
        .any(|c| c.outcome.retryable || c.outcome.resend.is_some_and(|r| r > 0))
        || group.iter().any(|c| {
            let keys = cx.span(c).attributes.keys();
            *grpc
                .entry((keys.as_ptr() as usize, keys.len()))
                .or_insert_with(|| keys.iter().any(|k| GRPC_ORDINAL.contains(&k.as_str())))
        })
}

/// The chains of one sibling group, appended to `out` (`keys`: a buffer to reuse).
fn group_chains(
    cx: &Context<'_>,
    group: &[Call],
    keys: &mut Vec<(u32, u64)>,
    out: &mut Vec<Chain>,
) {
    // Attempts chain only within one key (`model::retry::chains`): a group whose calls all
    // have different keys (most: one call per dependency and operation) has no chain, and its
    // spans' attributes need not be read.
    keys.clear();
    keys.extend(group.iter().map(|c| (c.edge, c.op_key)));
    keys.sort_unstable();
    if !keys.windows(2).any(|w| w[0] == w[1]) {
        return;
    }
    let base = cx.offset_of(group) as u32;
    let mut attempts: Vec<Attempt<(u32, u64)>> = group
        .iter()
        .map(|c| {
            Attempt::of(
                (c.edge, c.op_key),
                &cx.span(c).attributes,
                c.start,
                c.end,
                c.outcome,
            )
        })
        .collect();
    retry::identify_items(&mut attempts, |i| &cx.span(&group[i]).attributes);
    for ch in retry::chains(&attempts) {
        out.push(Chain {
            attempts: ch.attempts.iter().map(|a| base + a).collect(),
            source: ch.source,
        });
    }
}

/// For every call: its attempt number (1 = first) within its chain, as the store counted it.
pub fn attempt_numbers(cx: &Context<'_>) -> Vec<u16> {
    cx.calls.iter().map(|c| c.attempt).collect()
}
