//! The simulated system. Deterministic: for one seed and start time, every step produces the same
//! spans and metric values. Time is simulated (the caller passes it), so tests run it instantly.
//!
//! ```text
//! frontend ×2 ──► cart ×2   (sticky sessions held in memory: a request that lands on the
//!    │                       other instance gets 401, and the user logs in again)
//!    ├──────────► catalog   (503s, retried with jittered exponential backoff)
//!    └──────────► checkout  (frontend gives up after 8 s)
//!                   ├──► inventory  (slow, and some calls hang for 30 s or more: no timeout;
//!                   │                behind a thread-pool bulkhead whose queue fills)
//!                   ├──► payments   (flaky; checkout's breaker opens, half-opens, closes)
//!                   ├──► postgresql orders-db/orders
//!                   ├──► shipping   (503s, retried every 200 ms: no jitter)
//!                   └──► kafka orders ──► fulfillment (a consumer that slows down)
//! ```
//! The story (every [`CYCLE_S`] seconds; see [`Phase`] and `services`): payments fails from 8 s
//! and the breaker opens at 14 s (half-open at 38 s, closed at 44 s); inventory slows from 10 s
//! to 45 s, hung calls pile up on the bulkhead's threads and its queue fills toward capacity from
//! about 30 s; the first hung calls end at about 40 s. Sessions are lost on every stray request. Spans are released when they end, as an SDK
//! exports them.

use super::bulkhead::Bulkhead;
use super::rng::Rng;

/// Length of one scenario cycle, seconds.
pub const CYCLE_S: u64 = 90;
/// Requests per second arriving at `frontend`.
pub const RATE: f64 = 20.0;
/// Users with a session in `cart`.
pub const USERS: u64 = 40;
/// Threads of checkout's bulkhead for inventory.
pub const BULKHEAD_THREADS: usize = 25;
/// Queue capacity of that bulkhead.
pub const BULKHEAD_QUEUE: usize = 100;

pub(super) const MS: u64 = 1_000_000;
pub(super) const SEC: u64 = 1_000_000_000;

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// String.
    S(String),
    /// Integer.
    I(i64),
}

/// A finished span of the simulation (converted to OTLP by the exporter).
#[derive(Clone, Debug, PartialEq)]
pub struct SimSpan {
    /// Trace id.
    pub trace: [u8; 16],
    /// Span id.
    pub id: [u8; 8],
    /// Parent span id (zero for roots).
    pub parent: [u8; 8],
    /// Producing service.
    pub service: &'static str,
    /// Its instance, 1-based (`service.instance.id` is `{service}-{instance}`).
    pub instance: u8,
    /// Operation.
    pub name: String,
    /// OTLP span kind (2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Start, Unix ns.
    pub start: u64,
    /// End, Unix ns.
    pub end: u64,
    /// Attributes.
    pub attrs: Vec<(&'static str, Val)>,
    /// Status ERROR with this message.
    pub error: Option<String>,
}

/// The payments breaker as checkout's resilience library would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Healthy.
    Healthy,
    /// Payments fails; the breaker is still closed and counting.
    Failing,
    /// The breaker is open: calls are rejected at once.
    Open,
    /// Trial calls are admitted.
    HalfOpen,
}

impl Phase {
    /// The phase at `el` seconds into a cycle.
    pub fn at(el: u64) -> Phase {
        match el % CYCLE_S {
            8..14 => Phase::Failing,
            14..38 => Phase::Open,
            38..44 => Phase::HalfOpen,
            _ => Phase::Healthy,
        }
    }
}

/// Metric values at one instant: what checkout's resilience4j and HTTP client meters say.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauges {
    /// Breaker phase.
    pub phase: Phase,
    /// Calls rejected by the breaker so far.
    pub not_permitted: u64,
    /// Calls waiting in the inventory bulkhead's queue.
    pub queue_depth: u64,
    /// That queue's capacity.
    pub queue_capacity: u64,
    /// Bulkhead threads busy (calls to inventory in flight).
    pub active_threads: u64,
    /// Bulkhead threads in all.
    pub max_threads: u64,
    /// Calls the bulkhead rejected so far.
    pub bulkhead_rejected: u64,
}

/// The simulation state.
#[derive(Debug)]
pub struct Sim {
    pub(super) rng: Rng,
    pub(super) start: u64,
    next_arrival: u64,
    pub(super) queue_free_at: u64,
    /// Spans not yet ended at the last step.
    pending: Vec<SimSpan>,
    pub(super) not_permitted: u64,
    pub(super) bulkhead: Bulkhead,
}

/// What one request is: its trace, root span, frontend instance and user (each call looks at
/// the scenario's phase at its own time).
#[derive(Clone, Copy, Debug)]
pub(super) struct Req {
    pub trace: [u8; 16],
    pub root: [u8; 8],
    pub frontend: u8,
    pub user: u64,
}

impl Sim {
    /// A simulation seeded with `seed`, starting at `start_ns`.
    pub fn new(seed: u64, start_ns: u64) -> Sim {
        Sim {
            rng: Rng::new(seed),
            start: start_ns,
            next_arrival: start_ns,
            queue_free_at: start_ns,
            pending: Vec::new(),
            not_permitted: 0,
            bulkhead: Bulkhead::new(BULKHEAD_THREADS, BULKHEAD_QUEUE, start_ns),
        }
    }

    /// Seconds since the start at `t`.
    pub(super) fn elapsed_s(&self, t: u64) -> u64 {
        t.saturating_sub(self.start) / SEC
    }

    /// Runs requests arriving before `until_ns`; returns the spans that have ended by then.
    pub fn step(&mut self, until_ns: u64) -> Vec<SimSpan> {
        let mut spans = std::mem::take(&mut self.pending);
        while self.next_arrival < until_ns {
            let t = self.next_arrival;
            self.request(t, &mut spans);
            let gap = self.rng.exp(RATE);
            self.next_arrival += (gap * 1e9) as u64 + 1;
        }
        let (ready, later): (Vec<_>, Vec<_>) = spans.into_iter().partition(|s| s.end <= until_ns);
        self.pending = later;
        self.bulkhead.prune(until_ns);
        ready
    }

    /// The metric values at `t_ns`.
    pub fn gauges(&self, t_ns: u64) -> Gauges {
        Gauges {
            phase: Phase::at(self.elapsed_s(t_ns)),
            not_permitted: self.not_permitted,
            queue_depth: self.bulkhead.queue_depth(t_ns),
            queue_capacity: self.bulkhead.capacity() as u64,
            active_threads: self.bulkhead.active(t_ns),
            max_threads: self.bulkhead.threads() as u64,
            bulkhead_rejected: self.bulkhead.rejected,
        }
    }

    fn trace_id(&mut self) -> [u8; 16] {
        let a = self.rng.next_u64().to_be_bytes();
        let b = self.rng.next_u64().to_be_bytes();
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&a);
        t[8..].copy_from_slice(&b);
        t
    }

    pub(super) fn span_id(&mut self) -> [u8; 8] {
        (self.rng.next_u64() | 1).to_be_bytes()
    }

    /// A uniform duration in `[lo, hi)` milliseconds, as nanoseconds.
    pub(super) fn ms(&mut self, lo: f64, hi: f64) -> u64 {
        (self.rng.range(lo, hi) * MS as f64) as u64
    }

    /// One request through the system, starting at `t`.
    fn request(&mut self, t: u64, out: &mut Vec<SimSpan>) {
        let req = Req {
            trace: self.trace_id(),
            root: self.span_id(),
            frontend: 1 + u8::from(self.rng.chance(0.5)),
            user: self.rng.next_u64() % USERS,
        };
        let at = t + self.ms(0.2, 0.6);
        // The session first: a request that lands on the wrong cart instance fails.
        let (at, session_ok) = self.cart(&req, at, out);
        let (end, status) = if session_ok {
            let at = self.catalog(&req, at, out);
            self.checkout(&req, at, out)
        } else {
            (at, 401)
        };
        let mut root = span(
            &req,
            "frontend",
            req.frontend,
            "GET /checkout",
            2,
            [0; 8],
            req.root,
            t,
            end + MS,
        );
        root.attrs = vec![
            ("http.request.method", Val::S("GET".into())),
            ("http.route", Val::S("/checkout".into())),
            ("http.response.status_code", Val::I(status)),
            ("session.id", Val::S(session(req.user))),
        ];
        if status >= 500 {
            root.error = Some("checkout failed".into());
        }
        out.push(root);
    }
}

/// The session id of user `u`.
pub(super) fn session(u: u64) -> String {
    format!("sess-{u:03}")
}

/// A span of request `r` (attributes and status are filled by the caller).
#[allow(clippy::too_many_arguments)]
pub(super) fn span(
    r: &Req,
    service: &'static str,
    instance: u8,
    name: &str,
    kind: i32,
    parent: [u8; 8],
    id: [u8; 8],
    start: u64,
    end: u64,
) -> SimSpan {
    SimSpan {
        trace: r.trace,
        id,
        parent,
        service,
        instance,
        name: name.into(),
        kind,
        start,
        end,
        attrs: Vec::new(),
        error: None,
    }
}

/// HTTP client attributes.
pub(super) fn http(method: &str, peer: &str, code: i64) -> Vec<(&'static str, Val)> {
    vec![
        ("http.request.method", Val::S(method.into())),
        ("server.address", Val::S(peer.into())),
        ("server.port", Val::I(8080)),
        ("http.response.status_code", Val::I(code)),
    ]
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
