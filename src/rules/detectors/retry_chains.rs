//! Attempt chains (reference §2, RTY-001 step 1), highest-confidence source first:
//! 1. gRPC attempt spans (`previous-rpc-attempts`, gRFC A72), ordered by that ordinal;
//!    transparent retries (`transparent-retry = true`) are not backoff retries and cut the chain.
//! 2. HTTP spans with `http.request.resend_count`: siblings with the same method, dependency and
//!    route, ordered by the ordinal, the first without it; a link whose predecessor ended 3xx,
//!    401 or 407 is a redirect or auth resend and is dropped.
//! 3. Inferred: consecutive, non-overlapping sibling calls with the same (dependency, operation,
//!    path) where each predecessor failed retryably (5xx, 429, 408, a timeout, or an error with
//!    no HTTP status such as a refused connection) and the next starts < 60 s after it ended.
//!    Overlapping siblings are hedges or fan-out, never retries; other 4xx are not retried
//!    failures (a poll for a 404 is not a retry).

use std::collections::HashMap;
use std::sync::Arc;

use super::super::context::{Call, Context};

/// Where a chain's attempts were recognised from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// The longest gap that still links two attempts.
pub const MAX_GAP_NS: u64 = 60_000_000_000;

/// Whether a failed call is one a client retries: 5xx, 429, 408, a timeout, or an error with
/// no HTTP status at all (connection refused, reset, DNS).
pub fn retryable_failure(c: &Call) -> bool {
    match c.http_status {
        Some(s) if s >= 500 => true,
        Some(429 | 408) => true,
        Some(_) => c.timeout,
        None => c.error || c.timeout,
    }
}

/// Whether the link pred → next is a redirect or auth resend (3xx, 401, 407).
fn redirect_or_auth(pred: &Call) -> bool {
    matches!(pred.http_status, Some(300..=399 | 401 | 407))
}

/// The grouping key of attempts: dependency, operation and request path.
fn key(cx: &Context<'_>, c: &Call) -> (Arc<str>, Arc<str>, String) {
    let a = &cx.span(c).attributes;
    let path = a
        .first_str(&["url.template", "http.route", "url.path", "http.target"])
        .map(|p| p.split('?').next().unwrap_or(p).to_string())
        .or_else(|| {
            a.first_str(&["url.full", "http.url"]).map(|u| {
                let rest = u.split_once("://").map_or(u, |(_, r)| r);
                let path = rest.find('/').map_or("/", |i| &rest[i..]);
                path.split(['?', '#']).next().unwrap_or(path).to_string()
            })
        })
        .unwrap_or_default();
    (c.dep.clone(), c.op.clone(), path)
}

/// All chains of ≥ 2 attempts in the context, in call order.
pub fn chains(cx: &Context<'_>) -> Vec<Chain> {
    let mut out = Vec::new();
    for group in cx.sibling_groups() {
        if group.len() < 2 {
            continue;
        }
        let base = cx.offset_of(group) as u32;
        let mut by_key: HashMap<(Arc<str>, Arc<str>, String), Vec<u32>> = HashMap::new();
        let mut keys: Vec<(Arc<str>, Arc<str>, String)> = Vec::new();
        for (i, c) in group.iter().enumerate() {
            let k = key(cx, c);
            let e = by_key.entry(k.clone()).or_default();
            if e.is_empty() {
                keys.push(k);
            }
            e.push(base + i as u32);
        }
        for k in keys {
            let members = &by_key[&k];
            if members.len() < 2 {
                continue;
            }
            let grpc: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&i| grpc_ordinal(cx, &cx.calls[i as usize]).is_some())
                .collect();
            if grpc.len() >= 2 {
                grpc_chains(cx, grpc, &mut out);
            } else if members
                .iter()
                .any(|&i| cx.calls[i as usize].resend.is_some_and(|r| r > 0))
            {
                resend_chains(cx, members, &mut out);
            } else {
                inferred_chains(cx, group, base, members, &mut out);
            }
        }
    }
    out
}

fn grpc_ordinal(cx: &Context<'_>, c: &Call) -> Option<i64> {
    cx.span(c)
        .attributes
        .first_i64(&["previous-rpc-attempts", "grpc.previous_rpc_attempts"])
}

fn push(out: &mut Vec<Chain>, attempts: Vec<u32>, source: ChainSource) {
    if attempts.len() >= 2 {
        out.push(Chain { attempts, source });
    }
}

fn links(cx: &Context<'_>, a: u32, b: u32) -> bool {
    let (p, n) = (&cx.calls[a as usize], &cx.calls[b as usize]);
    n.start >= p.end && n.start - p.end < MAX_GAP_NS
}

fn grpc_chains(cx: &Context<'_>, mut members: Vec<u32>, out: &mut Vec<Chain>) {
    members.sort_by_key(|&i| {
        (
            grpc_ordinal(cx, &cx.calls[i as usize]),
            cx.calls[i as usize].start,
        )
    });
    let mut cur: Vec<u32> = Vec::new();
    for i in members {
        let c = &cx.calls[i as usize];
        let transparent = cx
            .span(c)
            .attributes
            .get("transparent-retry")
            .is_some_and(|v| v.as_bool() == Some(true));
        let ord = grpc_ordinal(cx, c).unwrap_or(0);
        let follows = cur.last().is_some_and(|&p| {
            grpc_ordinal(cx, &cx.calls[p as usize]).unwrap_or(0) + 1 == ord && links(cx, p, i)
        });
        if !follows || transparent {
            push(out, std::mem::take(&mut cur), ChainSource::GrpcAttempts);
        }
        cur.push(i);
    }
    push(out, cur, ChainSource::GrpcAttempts);
}

fn resend_chains(cx: &Context<'_>, members: &[u32], out: &mut Vec<Chain>) {
    let mut cur: Vec<u32> = Vec::new();
    let mut last_ord = 0i64;
    for &i in members {
        let c = &cx.calls[i as usize];
        let ord = c.resend.unwrap_or(0);
        let follows = ord > 0
            && ord == last_ord + 1
            && cur
                .last()
                .is_some_and(|&p| !redirect_or_auth(&cx.calls[p as usize]) && links(cx, p, i));
        if !follows {
            push(out, std::mem::take(&mut cur), ChainSource::ResendCount);
        }
        cur.push(i);
        last_ord = ord;
    }
    push(out, cur, ChainSource::ResendCount);
}

fn inferred_chains(
    cx: &Context<'_>,
    group: &[Call],
    base: u32,
    members: &[u32],
    out: &mut Vec<Chain>,
) {
    let mut cur: Vec<u32> = Vec::new();
    for &i in members {
        let follows = cur.last().is_some_and(|&p| {
            let pred = &cx.calls[p as usize];
            let next = &cx.calls[i as usize];
            retryable_failure(pred)
                && links(cx, p, i)
                // No other sibling call started between the two attempts.
                && !group.iter().enumerate().any(|(j, s)| {
                    let j = base + j as u32;
                    j != p && j != i && s.start > pred.start && s.start < next.start
                })
        });
        if !follows {
            push(out, std::mem::take(&mut cur), ChainSource::Inferred);
        }
        cur.push(i);
    }
    push(out, cur, ChainSource::Inferred);
}

/// For every call: its attempt number (1 = first) within its chain, or 1 when not in one.
pub fn attempt_numbers(cx: &Context<'_>) -> Vec<u16> {
    let mut k = vec![1u16; cx.calls.len()];
    for ch in cx.chains() {
        for (i, &a) in ch.attempts.iter().enumerate() {
            k[a as usize] = (i + 1).min(u16::MAX as usize) as u16;
        }
    }
    k
}
