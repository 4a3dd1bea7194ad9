//! The Prometheus text parser never panics, and strict and lenient parsing agree:
//! strict succeeds exactly when lenient reports no error, with the same families, and
//! otherwise fails with lenient's first error.
#![no_main]

use faultline::ingest::prom_text::{Format, detect_format, parse, parse_lenient};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = detect_format(None, text);
    for format in [Format::Prometheus004, Format::OpenMetrics1] {
        let strict = parse(text, format);
        let (families, errors) = parse_lenient(text, format);
        match strict {
            Ok(strict) => {
                assert!(errors.is_empty(), "strict ok but lenient errors: {errors:?}");
                // Debug, not ==: NaN values are never equal to themselves.
                assert_eq!(format!("{strict:?}"), format!("{families:?}"));
            }
            Err(first) => assert_eq!(errors.first(), Some(&first)),
        }
        for e in &errors {
            assert!(e.line >= 1 && e.column >= 1, "{e:?}");
            assert!(e.to_string().len() < 400, "error message too long: {e}");
        }
        for family in families {
            for s in &family.samples {
                assert_eq!(s.labels.iter().count(), s.labels.len());
            }
            let _ = family.into_owned();
        }
    }
});
