//! The calls of one simulated request, service by service: each appends its spans and returns
//! when the caller can go on. See `sim` for the system's shape and the story's timing.

use super::sim::{CYCLE_S, MS, Phase, Req, SEC, Sim, SimSpan, Val, http, session, span};

/// Share of requests a sticky cookie does not pin: they land on the other cart instance.
const STRAY: f64 = 0.05;
/// When inventory is slow, seconds into the cycle.
const INVENTORY_SLOW: std::ops::Range<u64> = 10..45;
/// Share of inventory calls that hang while it is slow (checkout sets no timeout).
const HANG: f64 = 0.04;
/// Share of inventory calls that are merely slow then.
const SLOW: f64 = 0.3;
/// frontend's timeout on checkout.
const FRONTEND_TIMEOUT: u64 = 8 * SEC;

impl Sim {
    /// frontend → cart, which keeps sessions in memory per instance behind sticky routing. A
    /// request routed to the other instance finds no session (401) and the user logs in again.
    /// Returns when the caller goes on and whether the session was found.
    pub(super) fn cart(&mut self, r: &Req, at: u64, out: &mut Vec<SimSpan>) -> (u64, bool) {
        let home = 1 + (r.user % 2) as u8;
        let stray = self.rng.chance(STRAY);
        let instance = if stray { 3 - home } else { home };
        let (c_id, s_id) = (self.span_id(), self.span_id());
        let d = self.ms(2.0, 6.0);
        let code = if stray { 401 } else { 200 };
        let mut c = span(
            r,
            "frontend",
            r.frontend,
            "GET /cart",
            3,
            r.root,
            c_id,
            at,
            at + d + MS,
        );
        c.attrs = http("GET", "cart", code);
        let mut s = span(
            r,
            "cart",
            instance,
            "GET /cart",
            2,
            c_id,
            s_id,
            at + MS / 2,
            at + d,
        );
        s.attrs = vec![
            ("http.request.method", Val::S("GET".into())),
            ("http.route", Val::S("/cart".into())),
            ("http.response.status_code", Val::I(code)),
            ("session.id", Val::S(session(r.user))),
        ];
        let mut at = at + d + MS;
        if stray {
            c.error = Some("401 Unauthorized".into());
            out.extend([c, s]);
            // The user is sent to log in again, on the instance that lost the session.
            let (c_id, s_id) = (self.span_id(), self.span_id());
            let d = self.ms(20.0, 40.0);
            let mut c = span(
                r,
                "frontend",
                r.frontend,
                "POST /login",
                3,
                r.root,
                c_id,
                at,
                at + d + MS,
            );
            c.attrs = http("POST", "cart", 200);
            let mut s = span(
                r,
                "cart",
                instance,
                "POST /login",
                2,
                c_id,
                s_id,
                at + MS / 2,
                at + d,
            );
            s.attrs = vec![
                ("http.request.method", Val::S("POST".into())),
                ("http.route", Val::S("/login".into())),
                ("http.response.status_code", Val::I(200)),
                ("session.id", Val::S(session(r.user))),
            ];
            out.extend([c, s]);
            at += d + MS;
            return (at, false);
        }
        out.extend([c, s]);
        (at, true)
    }

    /// frontend → catalog, retried with jittered exponential backoff.
    pub(super) fn catalog(&mut self, r: &Req, mut at: u64, out: &mut Vec<SimSpan>) -> u64 {
        let mut attempt = 0i64;
        loop {
            let (cid, sid) = (self.span_id(), self.span_id());
            let d = self.ms(4.0, 12.0);
            let fail = self.rng.chance(0.12);
            let code = if fail { 503 } else { 200 };
            let mut c = span(
                r,
                "frontend",
                r.frontend,
                "GET /catalog/items",
                3,
                r.root,
                cid,
                at,
                at + d + MS,
            );
            c.attrs = http("GET", "catalog", code);
            if attempt > 0 {
                c.attrs.push(("http.request.resend_count", Val::I(attempt)));
            }
            let mut s = span(
                r,
                "catalog",
                1,
                "GET /items",
                2,
                cid,
                sid,
                at + MS / 2,
                at + d,
            );
            s.attrs = vec![("http.response.status_code", Val::I(code))];
            if fail {
                c.error = Some("503 Service Unavailable".into());
                s.error = Some("overloaded".into());
            }
            at += d + MS;
            out.push(c);
            out.push(s);
            if !fail || attempt == 3 {
                return at;
            }
            let backoff = 50.0 * 2f64.powi(attempt as i32) * self.rng.range(0.5, 1.5);
            at += (backoff * MS as f64) as u64;
            attempt += 1;
        }
    }

    /// frontend → checkout (which gives up after [`FRONTEND_TIMEOUT`]) and everything checkout
    /// calls. Returns when frontend goes on, and the status it answers with.
    pub(super) fn checkout(&mut self, r: &Req, at: u64, out: &mut Vec<SimSpan>) -> (u64, i64) {
        let (cc, cs) = (self.span_id(), self.span_id());
        let begin = at + MS / 2;
        let mut ct = begin + self.ms(0.3, 0.8);
        let mut failed = self.inventory(r, cs, &mut ct, out);
        if failed.is_none() {
            failed = self.payments(r, cs, &mut ct, out);
        }
        if failed.is_none() {
            ct = self.after_payment(r, cs, ct, out);
        }
        let code = failed.unwrap_or(200);
        let timed_out = ct + MS > at + FRONTEND_TIMEOUT;
        let c_end = if timed_out {
            at + FRONTEND_TIMEOUT
        } else {
            ct + MS
        };
        let mut c = span(
            r,
            "frontend",
            r.frontend,
            "POST /checkout",
            3,
            r.root,
            cc,
            at,
            c_end,
        );
        let mut s = span(r, "checkout", 1, "POST /checkout", 2, cc, cs, begin, ct);
        s.attrs = vec![("http.response.status_code", Val::I(code))];
        if failed.is_some() {
            s.error = Some("payment failed".into());
        }
        let status = if timed_out {
            c.attrs = vec![
                ("http.request.method", Val::S("POST".into())),
                ("server.address", Val::S("checkout".into())),
                ("server.port", Val::I(8080)),
                ("error.type", Val::S("timeout".into())),
            ];
            c.error = Some("context deadline exceeded (Client.Timeout exceeded)".into());
            504
        } else {
            c.attrs = http("POST", "checkout", code);
            if failed.is_some() {
                c.error = Some(format!("{code}"));
            }
            code
        };
        out.extend([c, s]);
        (c_end, status)
    }

    /// checkout → inventory through the bulkhead, with no timeout: while inventory is slow some
    /// calls hang for 30–40 s, holding a thread; the queue fills, then rejects.
    fn inventory(
        &mut self,
        r: &Req,
        cs: [u8; 8],
        ct: &mut u64,
        out: &mut Vec<SimSpan>,
    ) -> Option<i64> {
        let (ic, is) = (self.span_id(), self.span_id());
        let el = self.elapsed_s(*ct) % CYCLE_S;
        let work = if INVENTORY_SLOW.contains(&el) {
            let u = self.rng.unit();
            if u < HANG {
                self.ms(30_000.0, 40_000.0)
            } else if u < HANG + SLOW {
                self.ms(800.0, 2500.0)
            } else {
                self.ms(12.0, 30.0)
            }
        } else {
            self.ms(12.0, 30.0)
        };
        let Some(start) = self.bulkhead.submit(*ct, work + MS) else {
            let mut c = span(
                r,
                "checkout",
                1,
                "GET /stock",
                3,
                cs,
                ic,
                *ct,
                *ct + MS / 20,
            );
            c.attrs = vec![
                ("server.address", Val::S("inventory".into())),
                ("http.request.method", Val::S("GET".into())),
                ("error.type", Val::S("BulkheadFullException".into())),
            ];
            c.error = Some("Bulkhead 'inventory' is full and does not permit further calls".into());
            out.push(c);
            *ct += MS / 20;
            return Some(503);
        };
        let mut c = span(
            r,
            "checkout",
            1,
            "GET /stock",
            3,
            cs,
            ic,
            start,
            start + work + MS,
        );
        c.attrs = http("GET", "inventory", 200);
        let s = span(
            r,
            "inventory",
            1,
            "GET /stock",
            2,
            ic,
            is,
            start + MS / 2,
            start + work,
        );
        out.extend([c, s]);
        *ct = start + work + MS;
        None
    }

    /// checkout → payments behind checkout's breaker (see [`Phase`]).
    fn payments(
        &mut self,
        r: &Req,
        cs: [u8; 8],
        ct: &mut u64,
        out: &mut Vec<SimSpan>,
    ) -> Option<i64> {
        let (pc, ps) = (self.span_id(), self.span_id());
        let phase = Phase::at(self.elapsed_s(*ct));
        let admitted = match phase {
            Phase::Open => false,
            Phase::HalfOpen => self.rng.chance(0.25),
            _ => true,
        };
        if !admitted {
            self.not_permitted += 1;
            let d = self.ms(0.03, 0.09);
            let mut c = span(r, "checkout", 1, "POST /charge", 3, cs, pc, *ct, *ct + d);
            c.attrs = vec![
                ("peer.service", Val::S("payments".into())),
                ("http.request.method", Val::S("POST".into())),
                ("error.type", Val::S("CallNotPermittedException".into())),
            ];
            c.error =
                Some("CircuitBreaker 'payments' is OPEN and does not permit further calls".into());
            out.push(c);
            *ct += d;
            return Some(503);
        }
        let fail = phase == Phase::Failing && self.rng.chance(0.7);
        let d = if fail {
            self.ms(300.0, 900.0)
        } else {
            self.ms(25.0, 60.0)
        };
        let code = if fail { 500 } else { 200 };
        let mut c = span(
            r,
            "checkout",
            1,
            "POST /charge",
            3,
            cs,
            pc,
            *ct,
            *ct + d + MS,
        );
        c.attrs = http("POST", "payments", code);
        let mut s = span(
            r,
            "payments",
            1,
            "POST /charge",
            2,
            pc,
            ps,
            *ct + MS / 2,
            *ct + d,
        );
        s.attrs = vec![("http.response.status_code", Val::I(code))];
        if fail {
            c.error = Some("500 Internal Server Error".into());
            s.error = Some("card processor unavailable".into());
        }
        out.extend([c, s]);
        *ct += d + MS;
        fail.then_some(502)
    }

    /// The database write, shipping (retried without jitter) and the queue hand-off.
    fn after_payment(&mut self, r: &Req, cs: [u8; 8], mut ct: u64, out: &mut Vec<SimSpan>) -> u64 {
        let id = self.span_id();
        let d = self.ms(2.0, 8.0);
        let mut c = span(r, "checkout", 1, "INSERT orders", 3, cs, id, ct, ct + d);
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
            let mut c = span(
                r,
                "checkout",
                1,
                "POST /shipments",
                3,
                cs,
                c_id,
                ct,
                ct + d + MS,
            );
            c.attrs = http("POST", "shipping", code);
            if attempt > 0 {
                c.attrs.push(("http.request.resend_count", Val::I(attempt)));
            }
            let mut s = span(
                r,
                "shipping",
                1,
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
            out.extend([c, s]);
            ct += d + MS;
            if !fail {
                break;
            }
            ct += 200 * MS;
        }
        // The queue: the consumer is slow from 55 s to 80 s of each cycle, so messages pile up.
        let (p_id, c_id, db_id) = (self.span_id(), self.span_id(), self.span_id());
        let mut p = span(r, "checkout", 1, "orders publish", 4, cs, p_id, ct, ct + MS);
        p.attrs = vec![
            ("messaging.system", Val::S("kafka".into())),
            ("messaging.destination.name", Val::S("orders".into())),
            ("messaging.operation.type", Val::S("send".into())),
        ];
        out.push(p);
        let service_ms = if (55..80).contains(&(self.elapsed_s(ct) % CYCLE_S)) {
            140.0
        } else {
            30.0
        };
        let begin = self.queue_free_at.max(ct + MS);
        let work = self.ms(service_ms * 0.8, service_ms * 1.2);
        self.queue_free_at = begin + work;
        let mut consumer = span(
            r,
            "fulfillment",
            1,
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
        let mut db = span(
            r,
            "fulfillment",
            1,
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
        out.extend([consumer, db]);
        ct + MS
    }
}
