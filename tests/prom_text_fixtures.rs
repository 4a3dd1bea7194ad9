//! Every exposition under `tests/fixtures/prom/` parses strictly, its histograms are sound, and
//! the files whose content we know give the families, types and values we expect.
//! Family and sample counts were taken independently (`grep -c '^# TYPE'`, non-comment lines).

use std::fs;
use std::path::Path;

use faultline::ingest::prom_text::{
    Format, MetricFamily, MetricType, Sample, detect_format, parse, parse_lenient,
};
use faultline::model::histogram::{Bucket, Quantile, histogram_quantile};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prom");

/// (file name, body) of every fixture but the README, sorted by name.
fn fixtures() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(DIR)
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            (name, fs::read_to_string(&p).expect("utf-8 fixture"))
        })
        .collect();
    out.sort();
    out
}

fn load(name: &str) -> String {
    fs::read_to_string(Path::new(DIR).join(name)).expect("fixture")
}

fn parsed<'a>(name: &str, body: &'a str) -> Vec<MetricFamily<'a>> {
    let format = detect_format(None, body);
    parse(body, format).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn family<'f, 'a>(fams: &'f [MetricFamily<'a>], name: &str) -> &'f MetricFamily<'a> {
    fams.iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

fn has_labels(s: &Sample<'_>, want: &[(&str, &str)]) -> bool {
    want.iter().all(|(n, v)| s.label(n) == Some(*v))
}

/// The value of the one sample named `sample` with (at least) these labels.
fn value(fams: &[MetricFamily<'_>], sample: &str, want: &[(&str, &str)]) -> f64 {
    let hits: Vec<f64> = fams
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == sample && has_labels(s, want))
        .map(|s| s.value)
        .collect();
    assert_eq!(hits.len(), 1, "{sample}{want:?}: {hits:?}");
    hits[0]
}

/// Classic buckets of histogram family `f` for the series with these labels.
fn buckets(f: &MetricFamily<'_>, want: &[(&str, &str)]) -> Vec<Bucket> {
    let suffix = format!("{}_bucket", f.name);
    f.samples
        .iter()
        .filter(|s| s.name == suffix && has_labels(s, want))
        .filter_map(|s| Bucket::from_le(s.label("le")?, s.value))
        .collect()
}

fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

fn kinds(fams: &[MetricFamily<'_>], kind: MetricType) -> usize {
    fams.iter().filter(|f| f.kind == kind).count()
}

#[test]
fn every_fixture_parses_strictly_and_its_histograms_are_sound() {
    let all = fixtures();
    assert!(all.len() >= 6, "fixtures missing: {all:?}");
    for (name, body) in &all {
        let fams = parsed(name, body);
        assert!(!fams.is_empty(), "{name}: no families");
        let (lenient, errors) = parse_lenient(body, detect_format(None, body));
        assert!(errors.is_empty(), "{name}: {errors:?}");
        // Compared through Debug: NaN values make `==` false.
        assert!(
            format!("{lenient:?}") == format!("{fams:?}"),
            "{name}: lenient and strict differ on clean input"
        );
        for f in fams.iter().filter(|f| f.kind == MetricType::Histogram) {
            let count_name = format!("{}_count", f.name);
            for count in f.samples.iter().filter(|s| s.name == count_name) {
                let series: Vec<(&str, &str)> = count.labels.iter().collect();
                let b = buckets(f, &series);
                assert!(
                    b.iter().any(|b| b.upper_bound == f64::INFINITY),
                    "{name}: {} {series:?} has no +Inf bucket",
                    f.name
                );
                assert!(
                    b.windows(2).all(|w| w[0].count <= w[1].count),
                    "{name}: {} {series:?} buckets not cumulative",
                    f.name
                );
                let inf = b.iter().find(|b| b.upper_bound == f64::INFINITY);
                assert_eq!(
                    inf.map(|b| b.count),
                    Some(count.value),
                    "{name}: {}",
                    f.name
                );
            }
        }
    }
}

#[test]
fn formats_are_detected_from_the_body() {
    for (name, body) in fixtures() {
        let want = if name.ends_with(".om") {
            Format::OpenMetrics1
        } else {
            Format::Prometheus004
        };
        assert_eq!(detect_format(None, &body), want, "{name}");
    }
}

#[test]
fn python_prometheus_client_text() {
    let body = load("python-prometheus-client.prom");
    let fams = parsed("python", &body);
    assert_eq!(fams.len(), 25);
    assert_eq!(fams.iter().map(|f| f.samples.len()).sum::<usize>(), 62);
    assert_eq!(kinds(&fams, MetricType::Counter), 6);
    assert_eq!(kinds(&fams, MetricType::Histogram), 1);
    assert_eq!(kinds(&fams, MetricType::Summary), 1);
    // Text 0.0.4: `_created` is its own gauge family; the counter family is named `..._total`.
    let created = family(&fams, "hystrix_execution_created");
    assert_eq!(
        (created.kind, created.samples.len()),
        (MetricType::Gauge, 4)
    );
    let state = family(&fams, "resilience4j_circuitbreaker_state");
    let open: Vec<&str> = state
        .samples
        .iter()
        .filter(|s| s.value == 1.0)
        .filter_map(|s| s.label("state"))
        .collect();
    assert_eq!(open, ["open"]);
    assert_eq!(value(&fams, "process_max_fds", &[]), 1_048_576.0);
    assert_eq!(
        value(
            &fams,
            "resilience4j_circuitbreaker_failure_rate",
            &[("name", "pricing")]
        ),
        -1.0
    );
    let info = family(&fams, "app_info");
    assert_eq!(
        info.help.as_deref(),
        Some("Application info, with \"quoted\" text and a back\\slash in help")
    );
    assert_eq!(
        info.samples[0].label("note"),
        Some("line one\nline \"two\" C:\\tmp")
    );
    let h = family(&fams, "inventory_request_duration_seconds");
    assert_eq!(h.samples.len(), 17);
    let b = buckets(h, &[("route", "/stock/{sku}")]);
    assert_eq!(b.len(), 15);
    // p50: rank 200 in (0.05, 0.075] holding 160..250.
    let Quantile::Value(p50) = histogram_quantile(0.5, &b) else {
        panic!("p50")
    };
    assert_close(p50, 0.05 + 0.025 * (40.0 / 90.0));
    assert_eq!(histogram_quantile(0.99, &b), Quantile::Value(0.75));
    assert_eq!(histogram_quantile(0.999, &b), Quantile::AtLeast(10.0));
}

#[test]
fn python_prometheus_client_openmetrics() {
    let body = load("python-prometheus-client.om");
    let fams = parsed("python om", &body);
    let shape: Vec<(&str, MetricType, usize)> = fams
        .iter()
        .map(|f| (&*f.name, f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        shape,
        [
            ("python_info", MetricType::Gauge, 1),
            ("process_cpu_seconds", MetricType::Counter, 1),
            ("calls", MetricType::Counter, 4),
            ("request_latency_seconds", MetricType::Histogram, 9),
            ("queue_depth", MetricType::GaugeHistogram, 4),
            ("build", MetricType::Info, 1),
            ("breaker", MetricType::StateSet, 3),
            ("tenacity_attempts", MetricType::Summary, 3),
            ("pool_waiting", MetricType::Unknown, 1),
        ]
    );
    assert_eq!(
        family(&fams, "process_cpu_seconds").unit.as_deref(),
        Some("seconds")
    );
    let calls = family(&fams, "calls");
    let ex = calls.samples[2]
        .exemplar
        .as_deref()
        .expect("exemplar on calls_total");
    assert_eq!(
        ex.label("trace_id"),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!((ex.value, ex.timestamp_ms), (1.0, Some(1_730_000_456_789)));
    let h = family(&fams, "request_latency_seconds");
    let exemplars = h.samples.iter().filter(|s| s.exemplar.is_some()).count();
    assert_eq!(exemplars, 2);
    assert_eq!(
        value(&fams, "request_latency_seconds_created", &[]),
        1.7300001237e9
    );
    assert_eq!(value(&fams, "breaker", &[("breaker", "half_open")]), 1.0);
    // Truncated body: strict fails at the end, lenient keeps everything before.
    let cut = &body[..body.len() - "# EOF\n".len()];
    assert!(parse(cut, Format::OpenMetrics1).is_err());
    let (lenient, errors) = parse_lenient(cut, Format::OpenMetrics1);
    assert_eq!((lenient.len(), errors.len()), (9, 1));
}

#[test]
fn node_prom_client_with_opossum() {
    let body = load("node-prom-client-opossum.prom");
    let fams = parsed("node", &body);
    assert_eq!(fams.len(), 14);
    assert_eq!(fams.iter().map(|f| f.samples.len()).sum::<usize>(), 63);
    // opossum-prometheus: counter without `_total`, state from the latest transition events.
    let circuit = family(&fams, "circuit");
    assert_eq!(
        (circuit.kind, circuit.samples.len()),
        (MetricType::Counter, 10)
    );
    assert_eq!(value(&fams, "circuit", &[("event", "reject")]), 215.0);
    assert_eq!(value(&fams, "circuit", &[("event", "halfOpen")]), 2.0);
    let perf = family(&fams, "circuit_perf");
    assert_eq!((perf.kind, perf.samples.len()), (MetricType::Summary, 18));
    assert_eq!(
        value(
            &fams,
            "circuit_perf",
            &[("quantile", "0.99"), ("event", "success")]
        ),
        480.04
    );
    assert_eq!(
        value(&fams, "circuit_perf_count", &[("event", "failure")]),
        31.0
    );
    // prom-client writes NaN as "Nan" and Infinity as "+Inf".
    assert!(value(&fams, "inventory_cache_hit_ratio", &[("cache", "stock")]).is_nan());
    assert_eq!(
        value(
            &fams,
            "inventory_backoff_ceiling_seconds",
            &[("client", "fetchPrices")]
        ),
        f64::INFINITY
    );
    // prom-client puts `le` first.
    let gc = family(&fams, "nodejs_gc_duration_seconds");
    assert_eq!(
        gc.samples[0].labels.iter().next().map(|(n, _)| n),
        Some("le")
    );
    let b = buckets(gc, &[("kind", "major")]);
    assert_close(
        histogram_quantile(0.5, &b).as_promql(),
        0.001 + 0.009 * (1.5 / 2.0),
    );
}

#[test]
fn micrometer_resilience4j() {
    let body = load("micrometer-resilience4j.prom");
    let fams = parsed("micrometer", &body);
    assert_eq!(fams.len(), 25);
    assert_eq!(fams.iter().map(|f| f.samples.len()).sum::<usize>(), 55);
    let state = family(&fams, "resilience4j_circuitbreaker_state");
    assert_eq!(state.samples.len(), 6);
    assert_eq!(
        value(
            &fams,
            "resilience4j_circuitbreaker_state",
            &[("state", "open")]
        ),
        1.0
    );
    let calls = family(&fams, "resilience4j_circuitbreaker_calls_seconds");
    assert_eq!((calls.kind, calls.samples.len()), (MetricType::Summary, 6));
    assert_eq!(
        value(&fams, "executor_queue_remaining_tasks", &[]),
        2_147_483_635.0
    );
    assert_eq!(
        value(
            &fams,
            "resilience4j_timelimiter_calls_total",
            &[("kind", "timeout")]
        ),
        409.0
    );
    // Spring's uri tag is a template with braces inside the quoted value.
    let http = family(&fams, "http_server_requests_seconds");
    assert_eq!(http.help.as_deref(), Some(""));
    let series = [("uri", "/api/orders/{id}"), ("status", "200")];
    let b = buckets(http, &series);
    assert_eq!(b.len(), 11);
    let Quantile::Value(p50) = histogram_quantile(0.5, &b) else {
        panic!("p50")
    };
    let (lo, hi) = (0.016777216, 0.033554431);
    assert_close(p50, lo + (hi - lo) * ((761.5 - 211.0) / (1102.0 - 211.0)));
}

#[test]
fn envoy_stats_prometheus() {
    let body = load("envoy-stats.prom");
    let fams = parsed("envoy", &body);
    assert_eq!(fams.len(), 27);
    assert_eq!(fams.iter().map(|f| f.samples.len()).sum::<usize>(), 96);
    assert!(
        fams.iter().all(|f| f.help.is_none()),
        "envoy writes no HELP"
    );
    let rq_open = family(&fams, "envoy_cluster_circuit_breakers_default_rq_open");
    assert_eq!(rq_open.kind, MetricType::Gauge);
    let inv = [("envoy_cluster_name", "inventory")];
    assert_eq!(
        value(
            &fams,
            "envoy_cluster_circuit_breakers_default_rq_open",
            &inv
        ),
        1.0
    );
    assert_eq!(
        value(&fams, "envoy_cluster_upstream_rq_pending_active", &inv),
        1024.0
    );
    let pricing = [("envoy_cluster_name", "pricing")];
    assert_eq!(
        value(
            &fams,
            "envoy_cluster_outlier_detection_ejections_active",
            &pricing
        ),
        2.0
    );
    // Counters without `_total`, typed counter.
    assert_eq!(
        family(&fams, "envoy_cluster_upstream_rq_timeout").kind,
        MetricType::Counter
    );
    let t = family(&fams, "envoy_cluster_upstream_rq_time");
    assert_eq!((t.kind, t.samples.len()), (MetricType::Histogram, 44));
    assert_eq!(
        value(&fams, "envoy_cluster_upstream_rq_time_sum", &inv),
        7_318_214.05
    );
    let b = buckets(t, &inv);
    assert_eq!(b.len(), 20);
    assert_close(
        histogram_quantile(0.99, &b).as_promql(),
        5000.0 + 5000.0 * ((25_056.9 - 24_800.0) / 400.0),
    );
    assert_close(
        histogram_quantile(0.5, &b).as_promql(),
        100.0 + 150.0 * (1455.0 / 6700.0),
    );
}

#[test]
fn haproxy_promex() {
    let body = load("haproxy-promex.prom");
    let fams = parsed("haproxy", &body);
    assert_eq!(fams.len(), 25);
    assert_eq!(fams.iter().map(|f| f.samples.len()).sum::<usize>(), 40);
    let be = [("proxy", "be_slow")];
    assert_eq!(value(&fams, "haproxy_backend_current_queue", &be), 7.0);
    assert_eq!(
        value(&fams, "haproxy_backend_queue_time_average_seconds", &be),
        3.412
    );
    assert_eq!(
        value(
            &fams,
            "haproxy_server_limit_sessions",
            &[("server", "slow1")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "haproxy_backend_http_responses_total",
            &[("code", "5xx")]
        ),
        63.0
    );
    assert_eq!(
        family(&fams, "haproxy_process_build_info").samples[0].label("version"),
        Some("2.6.12-1+deb12u1")
    );
}
