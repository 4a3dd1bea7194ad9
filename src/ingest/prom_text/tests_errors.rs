//! Error reporting, lenient mode and format detection.

use super::tests::{OM, P, err, ok};
use super::*;

// ---- errors -------------------------------------------------------------------------------

#[test]
fn invalid_value_message_names_line_column_and_sample() {
    let e = err("# TYPE foo_total counter\nfoo_total abc\n", P);
    assert_eq!(e.line, 2);
    assert_eq!(e.column, 11);
    assert_eq!(
        e.to_string(),
        "line 2, column 11: invalid value \"abc\" for sample foo_total"
    );
}

#[test]
fn error_cases() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("m{a=\"1} 1", 1, 5, "unterminated quoted string"),
        ("m{a=\"1\\\"} 1", 1, 5, "unterminated quoted string"),
        ("m{a=\"1\"", 1, 8, "expected ',' or '}', found end of line"),
        (
            "m{a=1} 1",
            1,
            5,
            "expected a quoted label value, found \"1}\"",
        ),
        (
            "m{a=\"1\" b=\"2\"} 1",
            1,
            9,
            "expected ',' or '}', found \"b=\\\"2\\\"}\"",
        ),
        (
            "m{a=\"1\",a=\"2\"} 1",
            1,
            9,
            "duplicate label \"a\" in sample m",
        ),
        (
            "m{1a=\"x\"} 1",
            1,
            3,
            "expected a label name or '}', found \"1a=\\\"x\\\"}\"",
        ),
        ("m", 1, 2, "expected the value, found end of line"),
        ("m{}", 1, 4, "expected the value, found end of line"),
        ("m 1 2 3", 1, 7, "expected end of line, found \"3\""),
        ("9m 1", 1, 1, "expected a metric name, found \"9m\""),
        (
            "{a=\"b\"} 1",
            1,
            1,
            "expected a metric name, found \"{a=\\\"b\\\"}\"",
        ),
        (
            "m{} 1 # 5",
            1,
            9,
            "expected '{' starting the exemplar's labels, found \"5\"",
        ),
        ("# TYPE m widget", 1, 10, "unknown metric type \"widget\""),
        (
            "# TYPE m",
            1,
            9,
            "expected a metric type, found end of line",
        ),
        ("# HELP", 1, 7, "expected a metric name, found end of line"),
        (
            "# TYPE m gauge\n# TYPE m gauge",
            2,
            1,
            "second TYPE line for metric m",
        ),
        (
            "# HELP m a\n# HELP m b",
            2,
            1,
            "second HELP line for metric m",
        ),
        (
            "m 1\n# TYPE m gauge",
            2,
            1,
            "TYPE line for metric m comes after its samples",
        ),
        (
            "m 1 # {a=\"b\"} x",
            1,
            15,
            "invalid value \"x\" for sample m (exemplar)",
        ),
    ];
    for &(text, line, column, msg) in cases {
        let e = err(text, P);
        assert_eq!(
            (e.line, e.column, e.kind.to_string().as_str()),
            (line, column, msg),
            "input: {text:?}"
        );
    }
}

#[test]
fn column_counts_characters_not_bytes() {
    let e = err("m{a=\"日本\"} x", P);
    assert_eq!(e.column, 11);
}

#[test]
fn openmetrics_eof_rules() {
    let e = err("m 1\n", OM);
    assert_eq!((e.line, e.kind.clone()), (1, ErrorKind::MissingEof));
    let e = err("m 1\n# EOF\nm 2\n", OM);
    assert_eq!((e.line, e.kind.clone()), (3, ErrorKind::DataAfterEof));
    // Empty exposition: still needs # EOF in OpenMetrics, fine in text 0.0.4.
    assert_eq!(err("", OM).kind, ErrorKind::MissingEof);
    assert!(ok("", P).is_empty());
    // In text 0.0.4, "# EOF" is an ordinary comment.
    assert_eq!(ok("# EOF\nm 1\n", P).len(), 1);
}

#[test]
fn long_tokens_are_shortened_in_messages() {
    let long = "x".repeat(500);
    let e = err(&format!("m {long}"), P);
    let msg = e.to_string();
    assert!(msg.len() < 150, "{msg}");
    assert!(msg.contains('…'));
}

#[test]
fn lenient_keeps_good_lines_and_reports_each_bad_one() {
    let text = "# TYPE a counter\na_total 1\na_total{x=\"1\"} oops\nb 2\nc{ 3\nd 4\n";
    assert_eq!(err(text, P).line, 3);
    let (fams, errors) = parse_lenient(text, P);
    let names: Vec<&str> = fams.iter().map(|f| &*f.name).collect();
    assert_eq!(names, ["a", "b", "d"]);
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 5]);
}

#[test]
fn lenient_openmetrics_truncated_body_still_returns_families() {
    let (fams, errors) = parse_lenient("# TYPE a gauge\na 1\nb 2", OM);
    assert_eq!(fams.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, ErrorKind::MissingEof);
    assert_eq!(errors[0].line, 3);
}

// ---- format detection ---------------------------------------------------------------------

#[test]
fn detect_format_from_header_then_body() {
    assert_eq!(
        detect_format(
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            ""
        ),
        OM
    );
    assert_eq!(
        detect_format(
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "m 1\n# EOF\n"
        ),
        P
    );
    assert_eq!(detect_format(None, "m 1\n# EOF\n"), OM);
    assert_eq!(
        detect_format(Some("application/octet-stream"), "m 1\n# EOF\r\n\n"),
        OM
    );
    assert_eq!(detect_format(None, "m 1\n"), P);
    assert!(ACCEPT_HEADER.starts_with("application/openmetrics-text;version=1.0.0"));
    assert!(ACCEPT_HEADER.contains("text/plain;version=0.0.4"));
}

#[test]
fn duplicate_labels_in_huge_label_sets_are_found_without_quadratic_work() {
    let many: Vec<String> = (0..20_000).map(|i| format!("l{i}=\"v\"")).collect();
    let line = format!("m{{{}}} 1", many.join(","));
    assert_eq!(ok(&line, P)[0].samples[0].labels.len(), 20_000);
    let dup = format!("m{{{},l7=\"again\"}} 1", many.join(","));
    let e = err(&dup, P);
    assert_eq!(e.column, 2, "reported at the label set");
    assert_eq!(e.kind.to_string(), "duplicate label \"l7\" in sample m");
    let small_dup = "m{a=\"1\",b=\"2\",a=\"3\"} 1";
    assert_eq!(err(small_dup, P).column, 15);
}
