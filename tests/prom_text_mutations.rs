//! Property test that runs on stable in every `cargo test`, next to the cargo-fuzz target in
//! `fuzz/` (nightly): 100,000 seeded mutations of real-looking exposition text never make the
//! parser panic, and strict and lenient parsing agree on every one of them.

use std::fs;

use faultline::ingest::prom_text::{Format, LabelSet, parse, parse_lenient};
use faultline::model::histogram::{Bucket, histogram_quantile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prom");
const ITERATIONS: usize = 100_000;

/// Fragments the grammar cares about, spliced in at random places.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "{", "}", "\"", "\\", "\\\"", "\\n", "\n", "\r\n", "#", " # ", "=", ",", " ", "\t", "+Inf",
    "-Inf", "NaN", "Nan", "1e308", "1e-400", "-0", ".", "_bucket", "_total", "_created", "le=\"",
    "# TYPE ", "# HELP ", "# UNIT ", "# EOF", "# EOF\n", "counter", "histogram", "stateset",
    "{\"a.b\"", "\"x\"=", "日本", "é", "\u{feff}", "\0", "99999999999999999999",
];

fn seeds() -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(DIR)
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "prom" || x == "om"))
        .filter_map(|p| fs::read_to_string(p).ok())
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

/// Largest char boundary at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A short window of a seed, mutated 1 to 4 times.
fn mutant(rng: &mut StdRng, seeds: &[String]) -> String {
    let seed = &seeds[rng.random_range(0..seeds.len())];
    let start = floor(seed, rng.random_range(0..seed.len()));
    let end = floor(seed, start + rng.random_range(0..400));
    let mut s = seed[start..end].to_owned();
    for _ in 0..rng.random_range(1..=4) {
        let at = floor(&s, rng.random_range(0..=s.len()));
        match rng.random_range(0..5) {
            0 => s.insert_str(at, PIECES[rng.random_range(0..PIECES.len())]),
            1 => {
                let to = floor(&s, at + rng.random_range(0..8));
                s.replace_range(at..to, "");
            }
            2 => {
                let to = floor(&s, at + rng.random_range(0..40));
                let copy = s[at..to].to_owned();
                let dest = floor(&s, rng.random_range(0..=s.len()));
                s.insert_str(dest, &copy);
            }
            3 => s.truncate(at),
            _ => s.insert(at, char::from(rng.random_range(0x20u8..0x7f))),
        }
    }
    s
}

fn check(text: &str, format: Format) {
    let strict = parse(text, format);
    let (families, errors) = parse_lenient(text, format);
    match strict {
        Ok(strict) => {
            assert!(errors.is_empty(), "{text:?}: strict ok, lenient {errors:?}");
            assert_eq!(strict.len(), families.len(), "{text:?}");
        }
        Err(first) => assert_eq!(errors.first(), Some(&first), "{text:?}"),
    }
    for e in &errors {
        assert!(e.line >= 1 && e.column >= 1, "{text:?}: {e:?}");
        assert!(e.to_string().len() < 400, "{text:?}: {e}");
    }
    for s in families.iter().flat_map(|f| &f.samples) {
        assert_eq!(s.labels.iter().count(), s.labels.len(), "{text:?}");
    }
    for s in families.iter().filter_map(|f| f.samples.first()) {
        round_trip(&s.labels);
    }
    // Whatever buckets come out of a mutant, the quantile function copes.
    for f in &families {
        let buckets: Vec<Bucket> = f
            .samples
            .iter()
            .filter_map(|s| Bucket::from_le(s.label("le")?, s.value))
            .collect();
        let _ = histogram_quantile(0.99, &buckets);
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Rendering a label set and parsing it again gives the same pairs: the allocation-free
/// re-scan of plain label text agrees with the parser's own reading.
fn round_trip(labels: &LabelSet<'_>) {
    let body: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("\"{}\"=\"{}\"", escape(n), escape(v)))
        .collect();
    let line = format!("m{{{}}} 1", body.join(","));
    match parse(&line, Format::Prometheus004) {
        Ok(f) => assert_eq!(&f[0].samples[0].labels, labels, "{line:?}"),
        Err(e) => panic!("{line:?}: {e}"),
    }
}

#[test]
fn mutated_expositions_never_panic_and_modes_agree() {
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(0x5eed_fa17);
    for _ in 0..ITERATIONS {
        let text = mutant(&mut rng, &seeds);
        check(&text, Format::Prometheus004);
        check(&text, Format::OpenMetrics1);
    }
}

#[test]
fn random_bytes_as_utf8_never_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    let alphabet: Vec<char> = "{}\"\\=,# \n\tabcle_:0123456789.+-EIfinNa日"
        .chars()
        .collect();
    for _ in 0..ITERATIONS / 10 {
        let len = rng.random_range(0..120);
        let text: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        check(&text, Format::Prometheus004);
        check(&text, Format::OpenMetrics1);
    }
}
