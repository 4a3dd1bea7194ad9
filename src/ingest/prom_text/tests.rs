use super::*;
use std::borrow::Cow;

pub(super) const P: Format = Format::Prometheus004;
pub(super) const OM: Format = Format::OpenMetrics1;

pub(super) fn ok(text: &str, format: Format) -> Vec<MetricFamily<'_>> {
    match parse(text, format) {
        Ok(f) => f,
        Err(e) => panic!("unexpected error: {e}\n--- input ---\n{text}"),
    }
}

pub(super) fn err(text: &str, format: Format) -> ParseError {
    match parse(text, format) {
        Ok(f) => panic!("expected an error, parsed {f:#?}"),
        Err(e) => e,
    }
}

fn one_sample(line: &str) -> Sample<'static> {
    let fams = ok(line, P);
    assert_eq!(fams.len(), 1, "{fams:#?}");
    assert_eq!(fams[0].samples.len(), 1);
    fams[0].samples[0].clone().into_owned()
}

fn labels(pairs: &[(&'static str, &'static str)]) -> LabelSet<'static> {
    LabelSet::from_pairs(
        pairs
            .iter()
            .map(|&(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
            .collect(),
    )
}

// ---- metadata -------------------------------------------------------------------------------

#[test]
fn help_and_type_with_escapes() {
    let text = "# HELP http_requests_total The total number of HTTP requests. A \\\\ and a \\n newline, \\t kept.\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n";
    let fams = ok(text, P);
    assert_eq!(fams.len(), 1);
    let f = &fams[0];
    assert_eq!(f.name, "http_requests_total");
    assert_eq!(f.kind, MetricType::Counter);
    assert_eq!(
        f.help.as_deref(),
        Some("The total number of HTTP requests. A \\ and a \n newline, \\t kept.")
    );
    assert_eq!(
        f.samples[0].labels,
        labels(&[("method", "post"), ("code", "200")])
    );
    assert_eq!(f.samples[0].value, 1027.0);
    assert_eq!(f.samples[0].timestamp_ms, Some(1_395_066_363_000));
}

#[test]
fn help_quote_escape_only_in_openmetrics() {
    let p = ok("# HELP a say \\\"hi\\\"\na 1\n", P);
    assert_eq!(p[0].help.as_deref(), Some("say \\\"hi\\\""));
    let om = ok("# HELP a say \\\"hi\\\"\na 1\n# EOF\n", OM);
    assert_eq!(om[0].help.as_deref(), Some("say \"hi\""));
}

#[test]
fn empty_help_and_unit() {
    let fams = ok(
        "# TYPE d_seconds gauge\n# UNIT d_seconds seconds\n# HELP d_seconds\nd_seconds 1.5\n# EOF\n",
        OM,
    );
    assert_eq!(fams[0].help.as_deref(), Some(""));
    assert_eq!(fams[0].unit.as_deref(), Some("seconds"));
    assert_eq!(fams[0].kind, MetricType::Gauge);
}

#[test]
fn every_type_word() {
    for (word, kind) in [
        ("counter", MetricType::Counter),
        ("gauge", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("gaugehistogram", MetricType::GaugeHistogram),
        ("summary", MetricType::Summary),
        ("info", MetricType::Info),
        ("stateset", MetricType::StateSet),
        ("untyped", MetricType::Unknown),
        ("unknown", MetricType::Unknown),
    ] {
        let text = format!("# TYPE m {word}\n");
        let fams = ok(&text, P);
        assert_eq!(fams[0].kind, kind, "{word}");
        assert_eq!(MetricType::from_type_word(kind.as_str()), Some(kind));
    }
}

#[test]
fn other_comments_and_blank_lines_are_ignored() {
    let fams = ok(
        "# just a comment\n#HELP not metadata\n\n   \n# HELPER x\nm 1\n",
        P,
    );
    assert_eq!(fams.len(), 1);
    assert_eq!(fams[0].help, None);
}

#[test]
fn crlf_and_surrounding_whitespace() {
    let fams = ok("# TYPE m gauge\r\n  m{a=\"b\"}\t 2 \r\n", P);
    assert_eq!(fams[0].samples[0].value, 2.0);
}

// ---- labels ---------------------------------------------------------------------------------

#[test]
fn label_value_escapes_and_utf8() {
    let s =
        one_sample(r#"m{a="q\"uote",b="back\\slash",c="new\nline",d="日本語 ✓",e="tab\tkept"} 1"#);
    assert_eq!(
        s.labels,
        labels(&[
            ("a", "q\"uote"),
            ("b", "back\\slash"),
            ("c", "new\nline"),
            ("d", "日本語 ✓"),
            ("e", "tab\\tkept"),
        ])
    );
}

#[test]
fn braces_commas_equals_and_hash_inside_quotes() {
    let s = one_sample(r##"m{path="/a/{id}/b",q="x=1,y=2}",h="# not an exemplar"} 3"##);
    assert_eq!(s.label("path"), Some("/a/{id}/b"));
    assert_eq!(s.label("q"), Some("x=1,y=2}"));
    assert_eq!(s.label("h"), Some("# not an exemplar"));
    assert_eq!(s.value, 3.0);
}

#[test]
fn trailing_comma_empty_set_and_spaces() {
    assert_eq!(one_sample(r#"m{a="1",} 1"#).labels, labels(&[("a", "1")]));
    assert!(one_sample("m{} 1").labels.is_empty());
    assert_eq!(
        one_sample(r#"m { a = "1" , b="2" } 1"#).labels,
        labels(&[("a", "1"), ("b", "2")])
    );
    assert_eq!(one_sample(r#"m{a=""} 1"#).labels, labels(&[("a", "")]));
}

#[test]
fn quoted_metric_and_label_names() {
    let fams = ok(
        "# TYPE \"my.metric\" counter\n{\"my.metric\", \"http.method\"=\"GET\", code=\"200\"} 5\n{\"my.metric\"} 6\n",
        P,
    );
    assert_eq!(fams.len(), 1);
    assert_eq!(fams[0].name, "my.metric");
    assert_eq!(fams[0].kind, MetricType::Counter);
    let s = &fams[0].samples[0];
    assert_eq!(s.name, "my.metric");
    assert_eq!(s.labels, labels(&[("http.method", "GET"), ("code", "200")]));
    assert!(fams[0].samples[1].labels.is_empty());
}

#[test]
fn colons_in_names() {
    let s = one_sample("job:http_requests:rate5m{job=\"a\"} 0.5");
    assert_eq!(s.name, "job:http_requests:rate5m");
}

// ---- values and timestamps ----------------------------------------------------------------

#[test]
fn values() {
    for (text, want) in [
        ("1", 1.0),
        ("-1", -1.0),
        ("1.5e3", 1500.0),
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("1e-3", 0.001),
        (".5", 0.5),
        ("123456789012345678", 123_456_789_012_345_680.0),
        ("007", 7.0),
    ] {
        assert_eq!(one_sample(&format!("m {text}")).value, want, "{text}");
    }
    assert!(one_sample("m NaN").value.is_nan());
    assert!(one_sample("m nan").value.is_nan());
}

#[test]
fn timestamps_per_format() {
    assert_eq!(one_sample("m 1 -5").timestamp_ms, Some(-5));
    let om = ok("m 1 1520879607.789\n# EOF\n", OM);
    assert_eq!(om[0].samples[0].timestamp_ms, Some(1_520_879_607_789));
    let om = ok("m 1 1520879607\n# EOF", OM);
    assert_eq!(om[0].samples[0].timestamp_ms, Some(1_520_879_607_000));
    // Text 0.0.4 timestamps are integers; OpenMetrics ones must be finite.
    let e = err("m 1 1.5", P);
    assert!(matches!(e.kind, ErrorKind::InvalidTimestamp { .. }), "{e}");
    let e = err("m 1 NaN\n# EOF\n", OM);
    assert!(matches!(e.kind, ErrorKind::InvalidTimestamp { .. }), "{e}");
}

// ---- families -----------------------------------------------------------------------------

#[test]
fn histogram_family() {
    let text = "# HELP rpc_duration_seconds RPC latency.\n\
        # TYPE rpc_duration_seconds histogram\n\
        rpc_duration_seconds_bucket{le=\"0.05\"} 24054\n\
        rpc_duration_seconds_bucket{le=\"0.1\"} 33444\n\
        rpc_duration_seconds_bucket{le=\"+Inf\"} 144320\n\
        rpc_duration_seconds_sum 53423\n\
        rpc_duration_seconds_count 144320\n\
        rpc_duration_seconds_created 1.7e9\n\
        other 1\n";
    let fams = ok(text, P);
    assert_eq!(fams.len(), 2);
    assert_eq!(fams[0].kind, MetricType::Histogram);
    assert_eq!(fams[0].samples.len(), 6);
    assert_eq!(fams[0].samples[2].label("le"), Some("+Inf"));
    assert_eq!(fams[1].name, "other");
    assert_eq!(fams[1].kind, MetricType::Unknown);
}

#[test]
fn gaugehistogram_summary_info_stateset_counter_families() {
    let text = "# TYPE q gaugehistogram\n\
        q_bucket{le=\"1\"} 2\nq_bucket{le=\"+Inf\"} 3\nq_gcount 3\nq_gsum 4.5\n\
        # TYPE s summary\n\
        s{quantile=\"0.5\"} 0.2\ns{quantile=\"0.99\"} NaN\ns_sum 10\ns_count 40\ns_created 1.6e9\n\
        # TYPE build info\n\
        build_info{version=\"1.2\"} 1\n\
        # TYPE st stateset\n\
        st{st=\"a\"} 1\nst{st=\"b\"} 0\n\
        # TYPE c counter\n\
        c_total 5 # {trace_id=\"abc\"} 1 1520879607.789\nc_created 1.6e9\n\
        # EOF\n";
    let fams = ok(text, OM);
    let shape: Vec<(&str, MetricType, usize)> = fams
        .iter()
        .map(|f| (&*f.name, f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        shape,
        [
            ("q", MetricType::GaugeHistogram, 4),
            ("s", MetricType::Summary, 5),
            ("build", MetricType::Info, 1),
            ("st", MetricType::StateSet, 2),
            ("c", MetricType::Counter, 2),
        ]
    );
    let ex = fams[4].samples[0].exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels, labels(&[("trace_id", "abc")]));
    assert_eq!(ex.value, 1.0);
    assert_eq!(ex.timestamp_ms, Some(1_520_879_607_789));
}

#[test]
fn exemplar_on_bucket_without_timestamp_and_sample_timestamp_before_it() {
    let fams = ok(
        "# TYPE h histogram\nh_bucket{le=\"0.1\"} 8 123 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} 0.067\n# EOF\n",
        OM,
    );
    let s = &fams[0].samples[0];
    assert_eq!(s.timestamp_ms, Some(123_000));
    let ex = s.exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels.len(), 2);
    assert_eq!(ex.value, 0.067);
    assert_eq!(ex.timestamp_ms, None);
}

#[test]
fn untyped_samples_group_by_name() {
    let fams = ok("a{x=\"1\"} 1\na{x=\"2\"} 2\nb 3\na_count 4\n", P);
    let names: Vec<&str> = fams.iter().map(|f| &*f.name).collect();
    assert_eq!(names, ["a", "b", "a_count"]);
    assert_eq!(fams[0].samples.len(), 2);
}

#[test]
fn python_style_text_004_counter_and_created_gauge() {
    let text = "# HELP c_total help\n# TYPE c_total counter\nc_total 1.0\n\
                # HELP c_created help\n# TYPE c_created gauge\nc_created 1.7e9\n";
    let fams = ok(text, P);
    assert_eq!(fams.len(), 2);
    assert_eq!(
        (&*fams[0].name, fams[0].kind),
        ("c_total", MetricType::Counter)
    );
    assert_eq!(
        (&*fams[1].name, fams[1].kind),
        ("c_created", MetricType::Gauge)
    );
}

#[test]
fn interleaved_samples_return_to_their_family() {
    let text = "# TYPE h histogram\n# TYPE g gauge\nh_bucket{le=\"+Inf\"} 1\ng 2\nh_count 1\n";
    let fams = ok(text, P);
    assert_eq!(fams.len(), 2);
    assert_eq!(fams[0].samples.len(), 2);
    assert_eq!(fams[1].samples.len(), 1);
}

#[test]
fn metadata_only_family_is_kept() {
    let fams = ok("# HELP idle nothing yet\n# TYPE idle counter\n", P);
    assert_eq!(fams.len(), 1);
    assert!(fams[0].samples.is_empty());
}

// ---- label sets ---------------------------------------------------------------------------

#[test]
fn plain_label_sets_rescan_exactly_what_was_parsed() {
    let s = one_sample(r#"m{ a = "x=1,y}" ,"q.name"="v",b="",c="日本{}" , } 1"#);
    assert_eq!(s.labels.len(), 4);
    let pairs: Vec<(&str, &str)> = s.labels.iter().collect();
    assert_eq!(
        pairs,
        [("a", "x=1,y}"), ("q.name", "v"), ("b", ""), ("c", "日本{}")]
    );
    assert_eq!(s.labels.get("c"), Some("日本{}"));
    assert_eq!(s.labels.get("zz"), None);
    assert_eq!(
        format!("{:?}", s.labels),
        r#"[("a", "x=1,y}"), ("q.name", "v"), ("b", ""), ("c", "日本{}")]"#
    );
}

#[test]
fn escaped_label_sets_are_decoded_and_compare_equal_to_plain_ones() {
    let escaped = one_sample(r#"m{a="1",b="x\\y"} 1"#);
    assert_eq!(escaped.labels, labels(&[("a", "1"), ("b", "x\\y")]));
    let plain = one_sample(r#"m{a="1",b="xy"} 1"#);
    assert_ne!(plain.labels, escaped.labels);
    assert_eq!(plain.labels, labels(&[("a", "1"), ("b", "xy")]));
    assert_eq!(
        plain.labels.to_vec(),
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "xy".to_owned())
        ]
    );
}

#[test]
fn quoted_metric_name_is_not_a_label() {
    for line in [r#"{"a.b"} 1"#, r#"{"a.b",} 1"#, r#"{ "a.b" , c="d"} 1"#] {
        let s = one_sample(line);
        assert_eq!(s.name, "a.b");
        let pairs: Vec<(&str, &str)> = s.labels.iter().collect();
        assert_eq!(pairs.len(), s.labels.len(), "{line}");
        assert!(pairs.iter().all(|&(n, _)| n == "c"), "{line}: {pairs:?}");
    }
}

#[test]
fn owned_families_outlive_the_text() {
    let owned = {
        let text = String::from("# HELP m h\nm{a=\"1\"} 2 # {t=\"x\"} 1\n");
        let fams = ok(&text, P);
        fams.into_iter()
            .map(MetricFamily::into_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(owned[0].help.as_deref(), Some("h"));
    assert_eq!(owned[0].samples[0].label("a"), Some("1"));
    let ex = owned[0].samples[0]
        .exemplar
        .as_deref()
        .map(|e| e.label("t"));
    assert_eq!(ex, Some(Some("x")));
    assert!(LabelSet::default().is_empty());
}
