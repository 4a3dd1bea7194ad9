//! The simulated system. Deterministic: for one seed and start time, every step produces the same
//! spans and metric values. Time is simulated (the caller passes it), so tests run it instantly.
//!
//! ```text
//! frontend ──► catalog      (503s, retried with jittered exponential backoff)
//!    └──────► checkout ──► inventory   (slow episodes of seconds; no timeout)
//!                ├──────► payments    (flaky; checkout's breaker opens, half-opens, closes)
//!                ├──────► postgresql orders-db/orders
//!                ├──────► shipping    (503s, retried every 200 ms: no jitter)
//!                └──────► kafka orders ──► fulfillment (a queue that fills, then drains)
//! ```
//! The scenario repeats every [`CYCLE_S`] seconds; see [`Phase`].

use super::rng::Rng;

/// Length of one scenario cycle, seconds.
pub const CYCLE_S: u64 = 90;
/// Requests per second arriving at `frontend`.
pub const RATE: f64 = 20.0;

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

/// Metric values at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauges {
    /// Breaker phase.
    pub phase: Phase,
    /// Calls rejected by the breaker so far.
    pub not_permitted: u64,
    /// Messages waiting in the `orders` queue.
    pub queue_depth: u64,
    /// Queue capacity.
    pub queue_capacity: u64,
}

/// The simulation state.
#[derive(Debug)]
pub struct Sim {
    rng: Rng,
    start: u64,
    next_arrival: u64,
    queue_free_at: u64,
    queued: Vec<u64>,
    delayed: Vec<SimSpan>,
    not_permitted: u64,
}

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

impl Sim {
    /// A simulation seeded with `seed`, starting at `start_ns`.
    pub fn new(seed: u64, start_ns: u64) -> Sim {
        Sim {
            rng: Rng::new(seed),
            start: start_ns,
            next_arrival: start_ns,
            queue_free_at: start_ns,
            queued: Vec::new(),
            delayed: Vec::new(),
            not_permitted: 0,
        }
    }

    fn elapsed_s(&self, t: u64) -> u64 {
        t.saturating_sub(self.start) / SEC
    }

    /// Runs requests arriving before `until_ns`; returns the spans that have ended by then.
    pub fn step(&mut self, until_ns: u64) -> Vec<SimSpan> {
        let mut out = Vec::new();
        while self.next_arrival < until_ns {
            let t = self.next_arrival;
            self.request(t, &mut out);
            let gap = self.rng.exp(RATE);
            self.next_arrival += (gap * 1e9) as u64 + 1;
        }
        // Spans that end later (queued consumers) wait until their end has passed.
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|s| s.end <= until_ns);
        self.delayed = later;
        out.extend(ready);
        self.queued.retain(|&done| done > until_ns);
        out
    }

    /// The metric values at `t_ns`.
    pub fn gauges(&self, t_ns: u64) -> Gauges {
        Gauges {
            phase: Phase::at(self.elapsed_s(t_ns)),
            not_permitted: self.not_permitted,
            queue_depth: self.queued.iter().filter(|&&d| d > t_ns).count() as u64,
            queue_capacity: 500,
        }
    }

    fn ids(&mut self) -> ([u8; 16], [u8; 8]) {
        let a = self.rng.next_u64().to_be_bytes();
        let b = self.rng.next_u64().to_be_bytes();
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&a);
        t[8..].copy_from_slice(&b);
        (t, self.span_id())
    }

    fn span_id(&mut self) -> [u8; 8] {
        (self.rng.next_u64() | 1).to_be_bytes()
    }

    fn ms(&mut self, lo: f64, hi: f64) -> u64 {
        (self.rng.range(lo, hi) * MS as f64) as u64
    }

    /// One request through the system, starting at `t`.
    fn request(&mut self, t: u64, out: &mut Vec<SimSpan>) {
        let (trace, root_id) = self.ids();
        let el = self.elapsed_s(t);
        let mut at = t + self.ms(0.2, 0.6);
        let mut sp = |svc, name: &str, kind, parent, id, start, end| SimSpan {
            trace,
            id,
            parent,
            service: svc,
            name: name.into(),
            kind,
            start,
            end,
            attrs: Vec::new(),
            error: None,
        };
        // frontend → catalog, retried with jittered exponential backoff.
        let mut attempt = 0i64;
        loop {
            let (cid, sid) = (self.span_id(), self.span_id());
            let d = self.ms(4.0, 12.0);
            let fail = self.rng.chance(0.12);
            let mut c = sp(
                "frontend",
                "GET /catalog/items",
                3,
                root_id,
                cid,
                at,
                at + d + MS,
            );
            c.attrs = http("GET", "catalog", if fail { 503 } else { 200 });
            if attempt > 0 {
                c.attrs.push(("http.request.resend_count", Val::I(attempt)));
            }
            let mut s = sp("catalog", "GET /items", 2, cid, sid, at + MS / 2, at + d);
            s.attrs = vec![(
                "http.response.status_code",
                Val::I(if fail { 503 } else { 200 }),
            )];
            if fail {
                c.error = Some("503 Service Unavailable".into());
                s.error = Some("overloaded".into());
            }
            at += d + MS;
            out.push(c);
            out.push(s);
            if !fail || attempt == 3 {
                break;
            }
            let backoff = 50.0 * 2f64.powi(attempt as i32) * self.rng.range(0.5, 1.5);
            at += (backoff * MS as f64) as u64;
            attempt += 1;
        }
        // frontend → checkout.
        let (cc, cs) = (self.span_id(), self.span_id());
        let checkout_start = at + MS / 2;
        let mut ct = checkout_start + self.ms(0.3, 0.8);
        let mut failed = None;
        // inventory: slow episodes (50..70 s of each cycle), no timeout.
        let (ic, is) = (self.span_id(), self.span_id());
        let d = if (50..70).contains(&(el % CYCLE_S)) && self.rng.chance(0.6) {
            self.ms(1500.0, 6000.0)
        } else {
            self.ms(12.0, 30.0)
        };
        let mut c = sp("checkout", "GET /stock", 3, cs, ic, ct, ct + d + MS);
        c.attrs = http("GET", "inventory", 200);
        out.push(c);
        out.push(sp(
            "inventory",
            "GET /stock",
            2,
            ic,
            is,
            ct + MS / 2,
            ct + d,
        ));
        ct += d + MS;
        // payments behind checkout's breaker.
        let (pc, ps) = (self.span_id(), self.span_id());
        let phase = Phase::at(el);
        let admitted = match phase {
            Phase::Open => false,
            Phase::HalfOpen => self.rng.chance(0.25),
            _ => true,
        };
        if !admitted {
            self.not_permitted += 1;
            let d = self.ms(0.03, 0.09);
            let mut c = sp("checkout", "POST /charge", 3, cs, pc, ct, ct + d);
            c.attrs = vec![
                ("peer.service", Val::S("payments".into())),
                ("http.request.method", Val::S("POST".into())),
                ("error.type", Val::S("CallNotPermittedException".into())),
            ];
            c.error =
                Some("CircuitBreaker 'payments' is OPEN and does not permit further calls".into());
            out.push(c);
            ct += d;
            failed = Some(503);
        } else {
            let fail = phase == Phase::Failing && self.rng.chance(0.7);
            let d = if fail {
                self.ms(300.0, 900.0)
            } else {
                self.ms(25.0, 60.0)
            };
            let code = if fail { 500 } else { 200 };
            let mut c = sp("checkout", "POST /charge", 3, cs, pc, ct, ct + d + MS);
            c.attrs = http("POST", "payments", code);
            let mut s = sp("payments", "POST /charge", 2, pc, ps, ct + MS / 2, ct + d);
            s.attrs = vec![("http.response.status_code", Val::I(code))];
            if fail {
                c.error = Some("500 Internal Server Error".into());
                s.error = Some("card processor unavailable".into());
                failed = Some(502);
            }
            out.push(c);
            out.push(s);
            ct += d + MS;
        }
        if failed.is_none() {
            ct = self.after_payment(&mut sp, cs, ct, el, out);
        }
        let code = failed.unwrap_or(200);
        let mut c = sp("frontend", "POST /checkout", 3, root_id, cc, at, ct + MS);
        c.attrs = http("POST", "checkout", code);
        let mut s = sp("checkout", "POST /checkout", 2, cc, cs, checkout_start, ct);
        s.attrs = vec![("http.response.status_code", Val::I(code))];
        let mut root = sp(
            "frontend",
            "GET /checkout",
            2,
            [0; 8],
            root_id,
            t,
            ct + 2 * MS,
        );
        root.attrs = vec![
            ("http.request.method", Val::S("GET".into())),
            ("http.route", Val::S("/checkout".into())),
            ("http.response.status_code", Val::I(code)),
        ];
        if let Some(code) = failed {
            c.error = Some(format!("{code}"));
            s.error = Some("payment failed".into());
            root.error = Some("checkout failed".into());
        }
        out.extend([c, s, root]);
    }

    /// The database write, shipping (retried without jitter) and the queue hand-off.
    fn after_payment(
        &mut self,
        sp: &mut impl FnMut(&'static str, &str, i32, [u8; 8], [u8; 8], u64, u64) -> SimSpan,
        cs: [u8; 8],
        mut ct: u64,
        el: u64,
        out: &mut Vec<SimSpan>,
    ) -> u64 {
        let id = self.span_id();
        let d = self.ms(2.0, 8.0);
        let mut c = sp("checkout", "INSERT orders", 3, cs, id, ct, ct + d);
        c.attrs = vec![
            ("db.system.name", Val::S("postgresql".into())),
            ("server.address", Val::S("orders-db".into())),
            ("db.namespace", Val::S("orders".into())),
            ("db.operation.name", Val::S("INSERT".into())),
        ];
        out.push(c);
        ct += d;
        for attempt in 0..3i64 {
            let (c_id, s_id) = (self.span_id(), self.span_id());
            let d = self.ms(8.0, 20.0);
            let fail = attempt < 2 && self.rng.chance(0.25);
            let code = if fail { 503 } else { 201 };
            let mut c = sp("checkout", "POST /shipments", 3, cs, c_id, ct, ct + d + MS);
            c.attrs = http("POST", "shipping", code);
            if attempt > 0 {
                c.attrs.push(("http.request.resend_count", Val::I(attempt)));
            }
            let mut s = sp(
                "shipping",
                "POST /shipments",
                2,
                c_id,
                s_id,
                ct + MS / 2,
                ct + d,
            );
            s.attrs = vec![("http.response.status_code", Val::I(code))];
            if fail {
                c.error = Some("503 Service Unavailable".into());
                s.error = Some("busy".into());
            }
            out.push(c);
            out.push(s);
            ct += d + MS;
            if !fail {
                break;
            }
            ct += 200 * MS;
        }
        // The queue: the consumer is slow from 55 s to 80 s of each cycle, so messages pile up.
        let (p_id, c_id, db_id) = (self.span_id(), self.span_id(), self.span_id());
        let mut p = sp("checkout", "orders publish", 4, cs, p_id, ct, ct + MS);
        p.attrs = vec![
            ("messaging.system", Val::S("kafka".into())),
            ("messaging.destination.name", Val::S("orders".into())),
            ("messaging.operation.type", Val::S("send".into())),
        ];
        out.push(p);
        let service_ms = if (55..80).contains(&(el % CYCLE_S)) {
            140.0
        } else {
            30.0
        };
        let begin = self.queue_free_at.max(ct + MS);
        let work = self.ms(service_ms * 0.8, service_ms * 1.2);
        self.queue_free_at = begin + work;
        self.queued.push(begin);
        let mut consumer = sp(
            "fulfillment",
            "orders process",
            5,
            p_id,
            c_id,
            begin,
            begin + work,
        );
        consumer.attrs = vec![
            ("messaging.system", Val::S("kafka".into())),
            ("messaging.destination.name", Val::S("orders".into())),
        ];
        let mut db = sp(
            "fulfillment",
            "UPDATE orders",
            3,
            c_id,
            db_id,
            begin + MS,
            begin + MS + work / 3,
        );
        db.attrs = vec![
            ("db.system.name", Val::S("postgresql".into())),
            ("server.address", Val::S("orders-db".into())),
            ("db.namespace", Val::S("orders".into())),
        ];
        self.delayed.push(consumer);
        self.delayed.push(db);
        ct + MS
    }
}

fn http(method: &str, peer: &str, code: i64) -> Vec<(&'static str, Val)> {
    vec![
        ("http.request.method", Val::S(method.into())),
        ("server.address", Val::S(peer.into())),
        ("server.port", Val::I(8080)),
        ("http.response.status_code", Val::I(code)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_735_732_800_000_000_000;

    #[test]
    fn same_seed_same_spans_and_different_seed_differs() {
        let run = |seed| {
            let mut s = Sim::new(seed, T);
            (1..=30)
                .flat_map(|i| s.step(T + i * SEC))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        assert!(a.len() > 30 * 20 * 8, "{} spans", a.len());
    }

    #[test]
    fn the_breaker_rejects_calls_only_while_open_or_half_open() {
        let mut s = Sim::new(1, T);
        let spans: Vec<_> = (1..=CYCLE_S).flat_map(|i| s.step(T + i * SEC)).collect();
        let rejected: Vec<u64> = spans
            .iter()
            .filter(|x| {
                x.attrs
                    .iter()
                    .any(|a| a.1 == Val::S("CallNotPermittedException".into()))
            })
            .map(|x| (x.start - T) / SEC)
            .collect();
        assert!(rejected.len() > 300);
        assert!(rejected.iter().all(|&e| (14..44).contains(&e)));
        assert!(
            spans
                .iter()
                .any(|x| x.attrs.iter().any(|a| a.0 == "http.request.resend_count"))
        );
        let slow = spans
            .iter()
            .filter(|x| x.service == "inventory" && x.end - x.start > SEC)
            .count();
        assert!(slow > 50, "slow inventory calls: {slow}");
        assert!(s.gauges(T + 79 * SEC).queue_depth > 20 || spans.iter().any(|x| x.kind == 5));
    }
}
