//! The fixture system: a few services over a real [`Store`] (a flaky dependency behind a
//! breaker, a slow one, retries, a database), its metrics and alerts, and a large synthetic
//! snapshot for benchmarks.

use super::{MS, SEC, T0, span};
use std::sync::Arc;

use crate::model::span::{Span, SpanKind};
use crate::store::{Snapshot, Store, StoreConfig};

/// The fixture system over `seconds` of traffic: `frontend → checkout`, `checkout → payments`
/// (fails from 30 s to 60 s, with breaker short-circuits from 35 s to 55 s), `checkout →
/// inventory` (slow, no timeout), `checkout → postgres` (db) and retried calls to `shipping`.
/// One trace every 250 ms; deterministic.
pub fn fixture_spans(seconds: u64) -> Vec<Span> {
    let mut out = Vec::new();
    let n = seconds * 4;
    for i in 0..n {
        let t = T0 + i * 250 * MS;
        let trace = i + 1;
        let el = i * 250 * MS;
        let slow = i % 17 == 0;
        let inv_ms = if slow { 1800 } else { 20 + (i % 7) * 3 };
        let failing = (30 * SEC..60 * SEC).contains(&el);
        let open = (35 * SEC..55 * SEC).contains(&el);
        let pay_ms = if open {
            0
        } else if failing {
            300
        } else {
            40 + (i % 5) * 4
        };
        let total = 5 + inv_ms + 5 + pay_ms + 5 + 30;
        out.push(
            span(
                trace,
                1,
                0,
                "frontend",
                "GET /checkout",
                SpanKind::Server,
                t,
                total * MS,
            )
            .attr("http.request.method", "GET")
            .int(
                "http.response.status_code",
                if failing && !open { 500 } else { 200 },
            )
            .build(),
        );
        out.push(
            span(
                trace,
                2,
                1,
                "frontend",
                "POST",
                SpanKind::Client,
                t + MS,
                (total - 2) * MS,
            )
            .attr("http.request.method", "POST")
            .attr("server.address", "checkout")
            .build(),
        );
        out.push(
            span(
                trace,
                3,
                2,
                "checkout",
                "POST /checkout",
                SpanKind::Server,
                t + 2 * MS,
                (total - 4) * MS,
            )
            .build(),
        );
        let mut at = t + 3 * MS;
        out.push(
            span(
                trace,
                4,
                3,
                "checkout",
                "GET /stock",
                SpanKind::Client,
                at,
                inv_ms * MS,
            )
            .attr("http.request.method", "GET")
            .attr("peer.service", "inventory")
            .build(),
        );
        out.push(
            span(
                trace,
                5,
                4,
                "inventory",
                "GET /stock",
                SpanKind::Server,
                at + MS,
                (inv_ms - 2).max(1) * MS,
            )
            .build(),
        );
        at += (inv_ms + 1) * MS;
        if open {
            out.push(
                span(
                    trace,
                    6,
                    3,
                    "checkout",
                    "POST /charge",
                    SpanKind::Client,
                    at,
                    50_000,
                )
                .attr("peer.service", "payments")
                .error("CallNotPermittedException")
                .build(),
            );
        } else {
            let mut c = span(
                trace,
                6,
                3,
                "checkout",
                "POST /charge",
                SpanKind::Client,
                at,
                pay_ms * MS,
            )
            .attr("peer.service", "payments")
            .attr("http.request.method", "POST");
            let mut s = span(
                trace,
                7,
                6,
                "payments",
                "POST /charge",
                SpanKind::Server,
                at + MS,
                (pay_ms - 2) * MS,
            );
            if failing {
                c = c.int("http.response.status_code", 503).error("503");
                s = s.int("http.response.status_code", 503).error("503");
            }
            out.push(c.build());
            out.push(s.build());
        }
        at += (pay_ms + 1) * MS;
        out.push(
            span(
                trace,
                8,
                3,
                "checkout",
                "SELECT orders",
                SpanKind::Client,
                at,
                4 * MS,
            )
            .attr("db.system.name", "postgresql")
            .attr("server.address", "orders-db")
            .attr("db.namespace", "orders")
            .build(),
        );
        at += 5 * MS;
        let retried = i % 10 == 3;
        let first = span(
            trace,
            9,
            3,
            "checkout",
            "POST /ship",
            SpanKind::Client,
            at,
            10 * MS,
        )
        .attr("peer.service", "shipping");
        out.push(if retried {
            first
                .int("http.response.status_code", 503)
                .error("503")
                .build()
        } else {
            first.build()
        });
        if retried {
            out.push(
                span(
                    trace,
                    10,
                    3,
                    "checkout",
                    "POST /ship",
                    SpanKind::Client,
                    at + 15 * MS,
                    10 * MS,
                )
                .attr("peer.service", "shipping")
                .int("http.request.resend_count", 1)
                .build(),
            );
        }
    }
    out
}

/// A store holding [`fixture_spans`] of `seconds`, settled, with a replay configuration.
pub fn fixture_store(seconds: u64) -> Store {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply(fixture_spans(seconds), T0);
    store.flush_pending();
    store
}

/// A snapshot of the fixture after 90 s, whole capture in the window.
pub fn fixture_snapshot() -> Snapshot {
    fixture_store(90).snapshot(None)
}

/// A large synthetic snapshot for benchmarks: `edges` edges (100 callers) over 5 minutes and
/// `traces` traces of three spans each.
pub fn large_snapshot(edges: usize, traces: usize) -> Snapshot {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let mut batch = Vec::with_capacity(4096);
    let per_trace = traces.max(1);
    for i in 0..per_trace.max(edges) {
        let e = i % edges.max(1);
        let caller = format!("svc-{:03}", e % 100);
        let dep = format!("dep-{:05}", e);
        let t = T0 + (i as u64 % 300) * SEC + (i as u64 % 997) * MS;
        let dur = (5 + (i * 7919) % 400) as u64 * MS;
        let trace = i as u64 + 1;
        let mut root = span(
            trace,
            1,
            0,
            &caller,
            "GET /",
            SpanKind::Server,
            t,
            dur + 2 * MS,
        );
        let mut client = span(trace, 2, 1, &caller, "GET", SpanKind::Client, t + MS, dur)
            .attr("peer.service", &dep);
        if i % 23 == 0 {
            root = root.error("500");
            client = client.error("500");
        }
        batch.push(root.build());
        batch.push(client.build());
        if i < traces {
            batch.push(
                span(
                    trace,
                    3,
                    2,
                    &dep,
                    "GET /",
                    SpanKind::Server,
                    t + 2 * MS,
                    dur.saturating_sub(2 * MS).max(MS),
                )
                .build(),
            );
        }
        if batch.len() >= 4000 {
            store.apply(std::mem::take(&mut batch), T0);
        }
    }
    store.apply(batch, T0);
    store.flush_pending();
    store.snapshot(None)
}

/// Scrapes resilience4j-shaped metrics of checkout into `store` every 5 s over the fixture's
/// 90 s: the payments breaker closed, open from 40 s, half-open from 55 s, closed from 60 s; the
/// inventory bulkhead's queue filling by one call a second from 38 s toward its capacity of 100
/// (7/100 at 45 s); and a `fraud-check` breaker that no trace shows (a metrics-only dependency).
pub fn fixture_metrics(store: &mut Store) {
    use crate::ingest::decode_metrics::decode_metrics;
    use crate::ingest::prom_otlp::{families_to_metrics, request};
    use crate::ingest::prom_text::{Format, parse};
    for at in (0..=90u64).step_by(5) {
        let payments = match at {
            0..40 => "closed",
            40..55 => "open",
            55..60 => "half_open",
            _ => "closed",
        };
        let mut text = String::from("# TYPE resilience4j_circuitbreaker_state gauge\n");
        for (name, current) in [("payments", payments), ("fraud-check", "closed")] {
            for st in ["closed", "open", "half_open"] {
                let v = u8::from(st == current);
                text.push_str(&format!(
                    "resilience4j_circuitbreaker_state{{name=\"{name}\",state=\"{st}\"}} {v}\n"
                ));
            }
        }
        text.push_str(&format!(
            "# TYPE resilience4j_bulkhead_queue_depth gauge\n\
             resilience4j_bulkhead_queue_depth{{name=\"inventory\"}} {}\n\
             # TYPE resilience4j_bulkhead_queue_capacity gauge\n\
             resilience4j_bulkhead_queue_capacity{{name=\"inventory\"}} 100\n",
            at.saturating_sub(38)
        ));
        let t = T0 + at * SEC;
        let fams = parse(&text, Format::Prometheus004).expect("valid exposition");
        let req = request("checkout", "127.0.0.1:9000", families_to_metrics(&fams, t));
        store.apply_metrics(decode_metrics(&req, t));
    }
}

/// An alert board for the fixture's payments incident (window `T0+40s .. T0+50s`): the breaker
/// alert on `checkout → payments` firing (critical) since 40 s, a latency alert on
/// `checkout → inventory` pending since 45 s, and a queue alert on `checkout → inventory` that
/// fired at 20 s and resolved at 35 s; one Alertmanager sink that accepted 3 requests.
pub fn fixture_alerts() -> crate::model::alert::AlertBoard {
    use crate::model::alert::{
        AlertBoard, AlertEvent, AlertSeverity, AlertState, AlertStatus, DeliveryStatus,
    };
    let ev = |s: u64, status, value| AlertEvent {
        at_ns: T0 + s * SEC,
        status,
        value,
    };
    let state = |alert: &str,
                 severity: AlertSeverity,
                 dep: &str,
                 status,
                 history: Vec<AlertEvent>,
                 summary: &str| {
        let labels: Vec<(Arc<str>, Arc<str>)> = vec![
            ("alertname".into(), alert.into()),
            ("caller".into(), "checkout".into()),
            ("dependency".into(), dep.into()),
            ("severity".into(), severity.as_str().into()),
        ];
        let fired = history
            .iter()
            .find(|e| e.status == AlertStatus::Firing)
            .map(|e| e.at_ns);
        let resolved = history
            .iter()
            .find(|e| e.status == AlertStatus::Resolved)
            .map(|e| e.at_ns);
        AlertState {
            alert: alert.into(),
            severity,
            caller: "checkout".into(),
            dependency: dep.into(),
            status,
            active_since_ns: history[0].at_ns,
            fired_ns: fired,
            resolved_ns: resolved,
            value: history.last().and_then(|e| e.value),
            threshold: Some(0.9).filter(|_| alert.contains("Queue")),
            labels: Arc::from(labels),
            annotations: Arc::from(vec![(Arc::from("summary"), Arc::from(summary))]),
            history: Arc::from(history),
        }
    };
    use AlertStatus::{Firing, Pending, Resolved};
    AlertBoard {
        evaluated_ns: T0 + 50 * SEC,
        states: Arc::from(vec![
            state(
                "DependencyBreakerOpen",
                AlertSeverity::Critical,
                "payments",
                Firing,
                vec![ev(40, Firing, Some(0.8))],
                "checkout → payments: circuit breaker open",
            ),
            state(
                "DependencyLatencyDegraded",
                AlertSeverity::Warning,
                "inventory",
                Pending,
                vec![ev(45, Pending, Some(1.8))],
                "checkout → inventory: p99 1.8s (baseline 0.2s)",
            ),
            state(
                "DependencyQueueSaturated",
                AlertSeverity::Warning,
                "inventory",
                Resolved,
                vec![
                    ev(10, Pending, Some(0.92)),
                    ev(20, Firing, Some(0.95)),
                    ev(35, Resolved, Some(0.6)),
                ],
                "checkout → inventory: queue 95% full",
            ),
        ]),
        rules: 9,
        eval_errors: 0,
        delivery: Arc::from(vec![DeliveryStatus {
            sink: "alertmanager",
            url: "http://127.0.0.1:9093/api/v2/alerts".into(),
            sent: 3,
            last_ok_ns: T0 + 50 * SEC,
            ..DeliveryStatus::default()
        }]),
    }
}
