//! Parser and mapping tests over real expositions captured from the servers the metric tests
//! start (tests/fixtures/prom/real, see its README), plus hand-made edge cases.

use std::path::PathBuf;
use std::sync::Arc;

use faultline::ingest::decode_metrics::decode_metrics;
use faultline::ingest::prom_otlp::{families_to_metrics, request};
use faultline::ingest::prom_query::{parse_response, to_requests};
use faultline::ingest::prom_text::{Format, MetricType, detect_format, parse, parse_lenient};
use faultline::model::edge::EdgeKey;
use faultline::model::profile::ProfileSet;
use faultline::model::resilience::{BreakerState, ResilienceView};
use faultline::store::{Store, StoreConfig};

fn real(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prom/real")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn format_of(name: &str, text: &str) -> Format {
    let ct = name
        .contains("openmetrics")
        .then_some("application/openmetrics-text; version=1.0.0");
    detect_format(ct, text)
}

#[test]
fn every_real_exposition_parses_strictly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prom/real");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = real(&name);
        let fams = parse(&text, format_of(&name, &text)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            fams.iter().map(|f| f.samples.len()).sum::<usize>() > 10,
            "{name}: too few samples"
        );
        n += 1;
    }
    assert!(n >= 5, "expected the real expositions, found {n}");
}

#[test]
fn real_families_have_the_expected_shapes() {
    let t = real("opossum-prometheus.txt");
    let fams = parse(&t, Format::Prometheus004).expect("opossum");
    let circuit = fams
        .iter()
        .find(|f| f.name == "circuit")
        .expect("circuit family");
    assert_eq!(circuit.kind, MetricType::Counter);
    assert!(
        circuit
            .samples
            .iter()
            .any(|s| s.label("event") == Some("open"))
    );
    let perf = fams
        .iter()
        .find(|f| f.name == "circuit_perf")
        .expect("circuit_perf");
    assert_eq!(perf.kind, MetricType::Summary);

    let t = real("prometheus-client-r4j-hystrix.openmetrics.txt");
    let fams = parse(&t, Format::OpenMetrics1).expect("openmetrics");
    let np = fams
        .iter()
        .find(|f| f.name == "resilience4j_circuitbreaker_not_permitted_calls")
        .expect("counter family without _total");
    assert_eq!(np.kind, MetricType::Counter);
    let names: Vec<&str> = np.samples.iter().map(|s| &*s.name).collect();
    assert!(names.contains(&"resilience4j_circuitbreaker_not_permitted_calls_total"));
    assert!(names.contains(&"resilience4j_circuitbreaker_not_permitted_calls_created"));

    let t = real("haproxy-promex.txt");
    let fams = parse(&t, Format::Prometheus004).expect("haproxy");
    let q = fams
        .iter()
        .find(|f| f.name == "haproxy_backend_current_queue")
        .expect("queue");
    let slow = q
        .samples
        .iter()
        .find(|s| s.label("proxy") == Some("slow"))
        .expect("slow backend");
    assert_eq!(slow.value, 3.0);
}

fn store_with(texts: &[(&str, &str)]) -> Store {
    let mut store = Store::new(StoreConfig::replay(1000));
    for (i, (job, name)) in texts.iter().enumerate() {
        let text = real(name);
        let fams = parse(&text, format_of(name, &text)).expect("parses");
        let t = (1_700_000_000 + i as u64) * 1_000_000_000;
        let req = request(job, "127.0.0.1:1", families_to_metrics(&fams, t));
        store.apply_metrics(decode_metrics(&req, t));
    }
    store
}

fn view(store: &mut Store, caller: &str, dep: &str) -> ResilienceView {
    let snap = store.snapshot(None);
    snap.resilience
        .get(&EdgeKey {
            caller: Arc::from(caller),
            dependency: Arc::from(dep),
        })
        .cloned()
        .unwrap_or_else(|| panic!("no {caller} -> {dep}: {:?}", snap.resilience.keys()))
}

#[test]
fn real_expositions_map_to_breakers_and_queues() {
    let mut store = store_with(&[
        ("shop", "opossum-prometheus.txt"),
        ("checkout", "prometheus-client-r4j-hystrix.txt"),
        ("edge", "haproxy-promex.txt"),
    ]);
    assert_eq!(
        view(&mut store, "shop", "inventory").breaker,
        BreakerState::Open
    );
    let p = view(&mut store, "checkout", "payments");
    assert_eq!(p.breaker, BreakerState::Open);
    assert_eq!(p.queue_capacity, Some(100.0));
    assert_eq!(
        view(&mut store, "checkout", "users").breaker,
        BreakerState::Open
    );
    let slow = view(&mut store, "edge", "slow");
    assert_eq!(slow.queue_depth, Some(3.0));
    assert!(slow.pool_utilisation.is_some());
    // The same data in OpenMetrics gives the same answer.
    let mut om = store_with(&[("checkout", "prometheus-client-r4j-hystrix.openmetrics.txt")]);
    assert_eq!(
        view(&mut om, "checkout", "payments").breaker,
        BreakerState::Open
    );
}

#[test]
fn real_promql_answers_map_like_scrapes() {
    let profiles = ProfileSet::builtin();
    let mut store = Store::new(StoreConfig::replay(1000));
    for (name, range) in [("promql-matrix.json", true), ("promql-vector.json", false)] {
        let r = parse_response(&real(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!r.series.is_empty(), "{name}: no series");
        for req in to_requests(&r, &profiles, range) {
            store.apply_metrics(decode_metrics(&req, 0));
        }
    }
    let v = view(&mut store, "checkout", "payments");
    assert_eq!(v.breaker, BreakerState::Open);
    assert!(
        v.transitions.is_empty(),
        "open from the first answer on: {v:?}"
    );
}

#[test]
fn bad_exposition_names_the_line_and_keeps_the_rest() {
    let text = "# TYPE resilience4j_circuitbreaker_state gauge\n\
        resilience4j_circuitbreaker_state{name=\"a\",state=\"open\"} 1\n\
        resilience4j_circuitbreaker_state{name=\"b\",state=\"open\" 1\n\
        resilience4j_circuitbreaker_state{name=\"c\",state=\"open\"} one\n\
        resilience4j_circuitbreaker_state{name=\"d\",state=\"open\"} 1\n";
    let err = parse(text, Format::Prometheus004).expect_err("strict parse fails");
    assert_eq!(err.line, 3);
    assert!(err.to_string().starts_with("line 3, column"), "{err}");
    let (fams, errors) = parse_lenient(text, Format::Prometheus004);
    assert_eq!(
        errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert!(
        errors[1].to_string().contains("invalid value \"one\""),
        "{}",
        errors[1]
    );
    let names: Vec<_> = fams[0]
        .samples
        .iter()
        .filter_map(|s| s.label("name"))
        .collect();
    assert_eq!(names, vec!["a", "d"]);
}

#[test]
fn edge_cases_survive_the_conversion() {
    // NaN and infinities are not representable in the capture's JSON: skipped, the rest kept.
    let text = "# TYPE g gauge\ng{name=\"x\"} NaN\ng{name=\"y\"} +Inf\ng{name=\"z\"} 2\n\
        # TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_count 0\ns_sum 0\n\
        # TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_count 0\nh_sum 0\n";
    let fams = parse(text, Format::Prometheus004).expect("parses");
    let req = request("j", "i", families_to_metrics(&fams, 1));
    let line = serde_json::to_string(&req).expect("serializes");
    let back: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest =
        serde_json::from_str(&line).expect("the capture line reads back");
    let points = decode_metrics(&back, 1);
    assert_eq!(points.iter().filter(|p| &*p.name == "g").count(), 1);
    assert!(points.iter().any(|p| &*p.name == "h"));
}
