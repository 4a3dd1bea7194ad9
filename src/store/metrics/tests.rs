//! Metric store tests: expositions go through the real parser, the Prometheus→OTLP conversion
//! and the OTLP decode, as a scrape does.

use super::*;
use crate::ingest::decode_metrics::decode_metrics;
use crate::ingest::prom_otlp::{families_to_metrics, request};
use crate::ingest::prom_text::{Format, parse};
use crate::model::resilience::BreakerState::{self, *};

pub(super) const S: u64 = 1_000_000_000;

fn store() -> MetricStore {
    MetricStore::new(ProfileSet::builtin())
}

pub(super) fn scrape(m: &mut MetricStore, job: &str, t_s: u64, text: &str) {
    let fams = parse(text, Format::Prometheus004).expect("valid exposition");
    let req = request(job, "127.0.0.1:9000", families_to_metrics(&fams, t_s * S));
    m.apply(decode_metrics(&req, t_s * S));
}

pub(super) fn view(m: &mut MetricStore, caller: &str, dep: &str) -> ResilienceView {
    // The whole history, as of just after the newest sample (the state "now").
    let views = m.views((0, m.range.1 + 1));
    views
        .get(&EdgeKey {
            caller: Arc::from(caller),
            dependency: Arc::from(dep),
        })
        .cloned()
        .unwrap_or_else(|| panic!("no view for {caller} -> {dep}; have {:?}", views.keys()))
}

fn r4j(state: &str) -> String {
    let mut s = String::from("# TYPE resilience4j_circuitbreaker_state gauge\n");
    for st in [
        "closed",
        "open",
        "half_open",
        "forced_open",
        "disabled",
        "metrics_only",
    ] {
        let v = u8::from(st == state);
        s.push_str(&format!(
            "resilience4j_circuitbreaker_state{{name=\"payments\",state=\"{st}\"}} {v}\n"
        ));
    }
    s
}

fn steps(v: &ResilienceView) -> Vec<(u64, BreakerState, BreakerState)> {
    v.transitions
        .iter()
        .map(|t| (t.at_ns / S, t.from, t.to))
        .collect()
}

#[test]
fn one_hot_transitions_are_timed_and_never_mixed() {
    let mut m = store();
    scrape(&mut m, "checkout", 10, &r4j("closed"));
    scrape(&mut m, "checkout", 15, &r4j("open"));
    scrape(&mut m, "checkout", 20, &r4j("half_open"));
    scrape(&mut m, "checkout", 25, &r4j("closed"));
    let v = view(&mut m, "checkout", "payments");
    assert_eq!(v.breaker, Closed);
    assert_eq!(
        steps(&v),
        vec![
            (15, Closed, Open),
            (20, Open, HalfOpen),
            (25, HalfOpen, Closed)
        ]
    );
    assert_eq!(v.since_ns, Some(25 * S));
    assert_eq!(
        v.breaker_source.as_deref(),
        Some("resilience4j:resilience4j_circuitbreaker_state")
    );
}

fn opossum(counts: &[(&str, u32)]) -> String {
    let mut s =
        String::from("# HELP circuit A count of all circuit events\n# TYPE circuit counter\n");
    for (ev, n) in counts {
        s.push_str(&format!(
            "circuit{{name=\"inventory\",event=\"{ev}\"}} {n}\n"
        ));
    }
    s
}

#[test]
fn events_rebuild_the_state_machine_between_scrapes() {
    let mut m = store();
    scrape(&mut m, "shop", 1, &opossum(&[("fire", 5), ("success", 5)]));
    assert_eq!(view(&mut m, "shop", "inventory").breaker, Unknown);
    // Opened, half-opened and closed again between two scrapes: all three are recorded.
    scrape(
        &mut m,
        "shop",
        2,
        &opossum(&[
            ("fire", 9),
            ("failure", 3),
            ("open", 1),
            ("halfOpen", 1),
            ("close", 1),
        ]),
    );
    let v = view(&mut m, "shop", "inventory");
    assert_eq!(v.breaker, Closed);
    assert_eq!(
        steps(&v),
        vec![
            (2, Closed, Open),
            (2, Open, HalfOpen),
            (2, HalfOpen, Closed)
        ]
    );
    scrape(
        &mut m,
        "shop",
        3,
        &opossum(&[
            ("fire", 12),
            ("reject", 4),
            ("open", 2),
            ("halfOpen", 1),
            ("close", 1),
        ]),
    );
    let v = view(&mut m, "shop", "inventory");
    assert_eq!(v.breaker, Open);
    assert!(v.rejected_rate.is_some_and(|r| r > 0.0), "{v:?}");
}

#[test]
fn event_counters_that_appear_in_a_later_scrape_are_transitions_from_closed() {
    // A real opossum-prometheus target: the first scrape has no circuit series yet (only what
    // the process exports anyway, unmapped); every transition happens before the second scrape,
    // where the counters first appear.
    let mut m = store();
    let perf = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 0.5\n";
    scrape(&mut m, "shop", 1, perf);
    let flaps = opossum(&[
        ("fire", 9),
        ("failure", 4),
        ("open", 2),
        ("halfOpen", 2),
        ("close", 1),
    ]);
    scrape(&mut m, "shop", 2, &format!("{perf}{flaps}"));
    let v = view(&mut m, "shop", "inventory");
    assert_eq!(v.breaker, Closed, "{v:?}");
    let s = steps(&v);
    assert_eq!(s.first(), Some(&(2, Closed, Open)), "{s:?}");
    assert_eq!(s.last(), Some(&(2, HalfOpen, Closed)), "{s:?}");
    assert_eq!(
        s.len(),
        5,
        "open, half-open, open, half-open, closed: {s:?}"
    );
}

#[test]
fn events_first_seen_with_history_infer_the_state() {
    let mut m = store();
    scrape(
        &mut m,
        "shop",
        1,
        &opossum(&[("open", 3), ("halfOpen", 2), ("close", 1)]),
    );
    let v = view(&mut m, "shop", "inventory");
    assert_eq!(v.breaker, Open);
    assert!(v.transitions.is_empty());
}

#[test]
fn hystrix_flags_both_exporters() {
    let mut m = store();
    let text = "# TYPE hystrix_circuit_breaker_open gauge\n\
        hystrix_circuit_breaker_open{group=\"g\",key=\"users\"} 1\n\
        # TYPE myapp_hystrix_command_is_circuit_breaker_open gauge\n\
        myapp_hystrix_command_is_circuit_breaker_open{command_group=\"g\",command_name=\"orders\"} 0\n";
    scrape(&mut m, "web", 1, text);
    assert_eq!(view(&mut m, "web", "users").breaker, Open);
    assert_eq!(view(&mut m, "web", "orders").breaker, Closed);
}

#[test]
fn envoy_admission_is_at_capacity_and_ejections_count_hosts() {
    let mut m = store();
    let text = "# TYPE envoy_cluster_circuit_breakers_default_rq_pending_open gauge\n\
        envoy_cluster_circuit_breakers_default_rq_pending_open{envoy_cluster_name=\"payments\"} 1\n\
        envoy_cluster_circuit_breakers_default_rq_pending_open{envoy_cluster_name=\"ledger\"} 0\n\
        # TYPE envoy_cluster_outlier_detection_ejections_active gauge\n\
        envoy_cluster_outlier_detection_ejections_active{envoy_cluster_name=\"ledger\"} 2\n\
        # TYPE envoy_cluster_membership_total gauge\n\
        envoy_cluster_membership_total{envoy_cluster_name=\"ledger\"} 5\n\
        # TYPE envoy_cluster_upstream_rq_pending_active gauge\n\
        envoy_cluster_upstream_rq_pending_active{envoy_cluster_name=\"payments\"} 7\n";
    scrape(&mut m, "edge-proxy", 1, text);
    let p = view(&mut m, "edge-proxy", "payments");
    assert_eq!(p.breaker, AtCapacity);
    assert_eq!(p.queue_depth, Some(7.0));
    let l = view(&mut m, "edge-proxy", "ledger");
    assert_eq!(
        l.breaker,
        Ejected {
            ejected: 2,
            total: 5
        }
    );
    assert_eq!(l.breaker.to_string(), "ejected 2/5");
}

#[test]
fn counter_rates_and_gauges_over_the_window() {
    let mut m = store();
    let text = |n: u32, q: u32| {
        format!(
            "# TYPE resilience4j_retry_calls_total counter\n\
             resilience4j_retry_calls_total{{name=\"payments\",kind=\"successful_with_retry\"}} {n}\n\
             resilience4j_retry_calls_total{{name=\"payments\",kind=\"successful_without_retry\"}} 1000\n\
             # TYPE resilience4j_bulkhead_queue_depth gauge\n\
             resilience4j_bulkhead_queue_depth{{name=\"payments\"}} {q}\n\
             # TYPE resilience4j_bulkhead_queue_capacity gauge\n\
             resilience4j_bulkhead_queue_capacity{{name=\"payments\"}} 100\n"
        )
    };
    scrape(&mut m, "checkout", 0, &text(10, 1));
    scrape(&mut m, "checkout", 10, &text(30, 4));
    // A counter reset (restart) must not read as a negative rate.
    scrape(&mut m, "checkout", 20, &text(5, 9));
    let v = view(&mut m, "checkout", "payments");
    let rate = v.retry_rate.expect("retry rate");
    assert!((rate - 25.0 / 20.0).abs() < 1e-9, "{rate}");
    assert_eq!(v.queue_depth, Some(9.0));
    assert_eq!(v.queue_capacity, Some(100.0));
}

#[test]
fn classic_histogram_percentiles_follow_histogram_quantile() {
    let mut m = store();
    let text = |a: u32, b: u32, inf: u32| {
        format!(
            "# TYPE istio_request_duration_milliseconds histogram\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"source\",source_canonical_service=\"web\",destination_canonical_service=\"search\",le=\"10\"}} {a}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"source\",source_canonical_service=\"web\",destination_canonical_service=\"search\",le=\"100\"}} {b}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"source\",source_canonical_service=\"web\",destination_canonical_service=\"search\",le=\"+Inf\"}} {inf}\n\
             istio_request_duration_milliseconds_count{{reporter=\"source\",source_canonical_service=\"web\",destination_canonical_service=\"search\"}} {inf}\n\
             istio_request_duration_milliseconds_sum{{reporter=\"source\",source_canonical_service=\"web\",destination_canonical_service=\"search\"}} 1\n"
        )
    };
    scrape(&mut m, "istio-proxy", 0, &text(0, 0, 0));
    scrape(&mut m, "istio-proxy", 10, &text(50, 90, 100));
    let v = view(&mut m, "web", "search");
    let l = v.latency.expect("latency");
    assert_eq!(l.source, crate::model::resilience::LatencySource::Histogram);
    let p50 = l.p50.expect("p50");
    assert!((p50.ms - 10.0).abs() < 1e-9 && !p50.at_least, "{p50:?}");
    let p99 = l.p99.expect("p99");
    assert!(p99.at_least && (p99.ms - 100.0).abs() < 1e-9, "{p99:?}");
}

#[test]
fn unmapped_series_are_counted_not_kept() {
    let mut m = store();
    scrape(
        &mut m,
        "x",
        1,
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n",
    );
    assert_eq!(m.unmapped_points, 1);
    assert!(m.views((0, u64::MAX)).is_empty());
}

#[test]
fn joins_metric_names_to_trace_edges() {
    let mut views = BTreeMap::new();
    let key = |c: &str, d: &str| EdgeKey {
        caller: Arc::from(c),
        dependency: Arc::from(d),
    };
    views.insert(
        key("checkout", "outbound|8080||payments.prod.svc.cluster.local"),
        ResilienceView::default(),
    );
    views.insert(key("checkout", "pmt"), ResilienceView::default());
    views.insert(key("batch", "ledger"), ResilienceView::default());
    let edges = vec![
        key("checkout", "payments"),
        key("web", "ledger"),
        key("checkout", "ledger"),
    ];
    let aliases = HashMap::from([("pmt".to_owned(), "payments".to_owned())]);
    let joined = join_to_edges(&views, &edges, &aliases);
    let keys: Vec<_> = joined.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![key("batch", "ledger"), key("checkout", "payments")]
    );
}

#[test]
fn a_pool_named_after_its_database_joins_the_callers_database_edge() {
    // The OTel pool gauge names the pool (`db.client.connection.pool.name`), the spans name
    // `<system> <host>[/<namespace>]`; only the same caller's one matching edge joins.
    let key = |c: &str, d: &str| EdgeKey {
        caller: Arc::from(c),
        dependency: Arc::from(d),
    };
    let mut views = BTreeMap::new();
    for (c, d) in [
        ("cart", "cart-cache"),
        ("orders", "shop"),
        ("billing", "shop"),
        ("web", "payments"),
    ] {
        views.insert(key(c, d), ResilienceView::default());
    }
    let edges = vec![
        key("cart", "redis cart-cache"),
        key("orders", "postgresql 127.0.0.1:5432/shop"),
        key("web", "http payments-gw"),
        key("reports", "postgresql 127.0.0.1/shop"),
    ];
    let joined = join_to_edges(&views, &edges, &HashMap::new());
    let keys: Vec<_> = joined.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            // billing has no edge to a `shop` database of its own: it stays metrics-only.
            key("billing", "shop"),
            key("cart", "redis cart-cache"),
            key("orders", "postgresql 127.0.0.1:5432/shop"),
            key("web", "payments"),
        ]
    );
}

#[test]
fn generic_fallback_reads_hand_made_gauges() {
    let mut m = store();
    let text = "# TYPE gobreaker_state gauge\ngobreaker_state{name=\"search\"} 2\n\
        # TYPE myapp_circuit_breaker_state gauge\n\
        myapp_circuit_breaker_state{breaker=\"ledger\",state=\"HALF_OPEN\"} 1\n\
        myapp_circuit_breaker_state{breaker=\"ledger\",state=\"CLOSED\"} 0\n";
    scrape(&mut m, "api", 1, text);
    assert_eq!(view(&mut m, "api", "search").breaker, Open);
    assert_eq!(view(&mut m, "api", "ledger").breaker, HalfOpen);
}

#[test]
fn haproxy_queue_counts_requests_queued_at_the_backend_and_at_its_servers() {
    // HAProxy queues a request on the backend when no server is assigned yet, and on a server
    // when one was (persistence, or a thread that picked the server as it filled): the
    // dependency's queue is both.
    let mut m = store();
    let text = "# TYPE haproxy_backend_current_queue gauge\n\
        haproxy_backend_current_queue{proxy=\"slow\"} 3\n\
        # TYPE haproxy_server_current_queue gauge\n\
        haproxy_server_current_queue{proxy=\"slow\",server=\"s1\"} 1\n\
        haproxy_server_current_queue{proxy=\"slow\",server=\"s2\"} 0\n";
    scrape(&mut m, "edge", 1, text);
    assert_eq!(view(&mut m, "edge", "slow").queue_depth, Some(4.0));
}
