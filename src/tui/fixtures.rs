//! Test data for the dashboard's tests: the fixture's traces plus resilience4j-shaped metrics,
//! so views show metric breaker states, gauge queues and a metrics-only dependency.

use crate::testkit::{SEC, T0};

/// Scrapes resilience4j-shaped metrics of checkout into `store` every 5 s over the fixture's
/// 90 s: the payments breaker closed, open from 40 s, half-open from 55 s, closed from 60 s; the
/// inventory bulkhead's queue filling by one call a second from 38 s toward its capacity of 100
/// (7/100 at 45 s); and a
/// `fraud-check` breaker that no trace shows (a metrics-only dependency).
pub fn scrape_metrics(store: &mut crate::store::Store) {
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
