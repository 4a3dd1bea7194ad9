//! The window's gauge history (what "sustained" is judged on) and the budget/overflow rates, as
//! a scrape delivers them.

use super::*;
use crate::ingest::decode_metrics::decode_metrics;
use crate::ingest::prom_otlp::{families_to_metrics, request};
use crate::ingest::prom_text::{Format, parse};

const S: u64 = 1_000_000_000;

fn scrape(m: &mut MetricStore, job: &str, t_s: u64, text: &str) {
    let fams = parse(text, Format::Prometheus004).expect("valid exposition");
    let req = request(job, "127.0.0.1:9000", families_to_metrics(&fams, t_s * S));
    m.apply(decode_metrics(&req, t_s * S));
}

fn view(m: &mut MetricStore, window: (u64, u64), caller: &str, dep: &str) -> ResilienceView {
    m.views(window)
        .get(&EdgeKey {
            caller: Arc::from(caller),
            dependency: Arc::from(dep),
        })
        .cloned()
        .unwrap_or_else(|| panic!("no view for {caller} -> {dep}"))
}

fn hikari(active: u32, pending: u32) -> String {
    format!(
        "# TYPE hikaricp_connections_active gauge\nhikaricp_connections_active{{pool=\"orders-db\"}} {active}\n\
         # TYPE hikaricp_connections_max gauge\nhikaricp_connections_max{{pool=\"orders-db\"}} 10\n\
         # TYPE hikaricp_connections_pending gauge\nhikaricp_connections_pending{{pool=\"orders-db\"}} {pending}\n"
    )
}

#[test]
fn gauge_history_starts_at_the_window_start_and_follows_every_sample() {
    let mut m = MetricStore::new(crate::model::profile::ProfileSet::builtin());
    for (t, active, pending) in [(0, 2, 0), (10, 8, 0), (20, 10, 3), (30, 10, 5), (40, 4, 0)] {
        scrape(&mut m, "checkout", t, &hikari(active, pending));
    }
    // The window starts between two scrapes: the first sample is the state then.
    let v = view(&mut m, (15 * S, 35 * S), "checkout", "orders-db");
    let g: Vec<(u64, Option<f64>, Option<f64>)> = v
        .gauges
        .iter()
        .map(|g| (g.t_ns / S, g.pool_utilisation, g.queue_depth))
        .collect();
    assert_eq!(
        g,
        vec![
            (15, Some(0.8), Some(0.0)),
            (20, Some(1.0), Some(3.0)),
            (30, Some(1.0), Some(5.0)),
        ]
    );
    // The window's end agrees with the last sample.
    assert_eq!(v.pool_utilisation, Some(1.0));
    assert_eq!(v.queue_depth, Some(5.0));
    // Samples older than the staleness bound say nothing.
    let late = view(
        &mut m,
        (40 * S + STALE_NS + S, 40 * S + STALE_NS + 2 * S),
        "checkout",
        "orders-db",
    );
    assert!(late.gauges.is_empty() && late.pool_utilisation.is_none());
}

#[test]
fn budget_and_overflow_counters_give_rates_and_presence() {
    let mut m = MetricStore::new(crate::model::profile::ProfileSet::builtin());
    let envoy = |retry_overflow: u32, pending_overflow: u32| {
        format!(
            "# TYPE envoy_cluster_upstream_rq_retry_overflow counter\nenvoy_cluster_upstream_rq_retry_overflow{{envoy_cluster_name=\"payments\"}} {retry_overflow}\n\
             # TYPE envoy_cluster_upstream_rq_pending_overflow counter\nenvoy_cluster_upstream_rq_pending_overflow{{envoy_cluster_name=\"payments\"}} {pending_overflow}\n"
        )
    };
    scrape(&mut m, "checkout", 0, &envoy(0, 0));
    scrape(&mut m, "checkout", 10, &envoy(0, 0));
    let v = view(&mut m, (0, 11 * S), "checkout", "payments");
    assert_eq!(
        v.retry_overflow_rate,
        Some(0.0),
        "a budget exists, not biting"
    );
    assert_eq!(v.overflow_rate, Some(0.0));
    scrape(&mut m, "checkout", 20, &envoy(30, 20));
    let v = view(&mut m, (0, 21 * S), "checkout", "payments");
    assert_eq!(v.retry_overflow_rate, Some(1.5));
    assert_eq!(v.overflow_rate, Some(1.0));
    assert_eq!(
        v.rejected_rate,
        Some(1.0),
        "an overflow is also a rejection"
    );
}

#[test]
fn two_gauge_histories_on_one_edge_merge_sample_by_sample() {
    let g = |t: u64, q: f64, u: f64| crate::model::resilience::GaugeSample {
        t_ns: t,
        queue_depth: Some(q),
        pool_utilisation: Some(u),
        in_flight: Some(1.0),
        ..Default::default()
    };
    let key = |dep: &str| EdgeKey {
        caller: Arc::from("checkout"),
        dependency: Arc::from(dep),
    };
    let mut views = BTreeMap::new();
    views.insert(
        key("payments"),
        ResilienceView {
            gauges: Arc::from(vec![g(0, 1.0, 0.5), g(20, 3.0, 0.9)]),
            in_flight: Some(1.0),
            ..ResilienceView::default()
        },
    );
    views.insert(
        key("http://payments:8080"),
        ResilienceView {
            gauges: Arc::from(vec![g(10, 2.0, 0.7)]),
            in_flight: Some(1.0),
            ..ResilienceView::default()
        },
    );
    let joined = join_to_edges(&views, &[key("payments")], &Default::default());
    let v = &joined[&key("payments")];
    let got: Vec<[f64; 4]> = v
        .gauges
        .iter()
        .map(|s| {
            let n = |x: Option<f64>| x.unwrap_or(f64::NAN);
            [
                s.t_ns as f64,
                n(s.queue_depth),
                n(s.pool_utilisation),
                n(s.in_flight),
            ]
        })
        .collect();
    assert_eq!(
        got,
        vec![
            [0.0, 1.0, 0.5, 1.0],
            [10.0, 3.0, 0.7, 2.0],
            [20.0, 5.0, 0.9, 2.0]
        ]
    );
    assert_eq!(v.in_flight, Some(2.0), "in-flight calls of both add up");
}
