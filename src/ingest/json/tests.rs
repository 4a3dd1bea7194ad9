//! `json::decode_direct(bytes)` must equal `decode_traces(&otlp_json::parse_traces(bytes))`: the
//! same requests accepted and rejected, and equal spans when accepted. Checked on the benchmark
//! corpus as the recorder writes it, on random requests written oddly by hand (every spelling the
//! reader accepts, shuffled fields, unknown and duplicate fields, structs as arrays, `null`s,
//! escapes, deep nesting), on every truncation of a real line, and on seeded mutations of the
//! text and of the JSON tree.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::{decode, decode_direct};
use crate::ingest::decode::{DecodedSpans, decode_traces};
use crate::ingest::otlp_json::parse_traces;

// Also loaded by `wire`'s tests: each test module keeps its own copy of the load generator's corpus.
#[allow(clippy::duplicate_mod)]
#[path = "../../../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

/// Decodes `bytes` both ways and asserts they agree; returns whether the request was accepted.
/// The one input the direct decoder may refuse where the reference accepts (an unknown field name
/// with an escaped control character, see `strict_str`) must then decode equal through `decode`.
fn check(bytes: &[u8], what: &str) -> bool {
    let theirs = parse_traces(bytes).map(|r| decode_traces(&r));
    let ours = decode_direct(bytes);
    match (theirs, ours) {
        (Ok(theirs), Err(e)) if e.to_string().starts_with(super::REFUSED_CONTROL) => {
            let again = decode(bytes).expect("the reference path accepts");
            assert_eq!(format!("{again:?}"), format!("{theirs:?}"), "{what}");
            true
        }
        (Ok(theirs), Ok(ours)) => {
            if ours != theirs {
                // NaN doubles are unequal to themselves; their Debug forms are not.
                assert_eq!(
                    format!("{ours:?}"),
                    format!("{theirs:?}"),
                    "{what}: {}",
                    String::from_utf8_lossy(bytes)
                );
            }
            true
        }
        (Err(_), Err(_)) => false,
        (Ok(_), Err(e)) => panic!(
            "{what}: otlp_json accepts, json rejects: {e}\n{}",
            String::from_utf8_lossy(bytes)
        ),
        (Err(e), Ok(d)) => panic!(
            "{what}: otlp_json rejects ({e}), json accepts {} spans\n{}",
            d.spans.len(),
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn ok(bytes: &str) -> DecodedSpans {
    match decode_direct(bytes.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("expected a valid request: {e}\n{bytes}"),
    }
}

/// The corpus as `faultline record` writes it (opentelemetry-proto's serde).
fn corpus_lines() -> Vec<Vec<u8>> {
    corpus::encoded_batches(8, 64, 11)
        .iter()
        .map(|b| {
            let req = ExportTraceServiceRequest::decode(b.as_slice()).expect("corpus decodes");
            serde_json::to_vec(&req).expect("serializes")
        })
        .collect()
}

#[test]
fn corpus_lines_decode_equal() {
    for (i, line) in corpus_lines().iter().enumerate() {
        assert!(check(line, &format!("corpus line {i}")));
        let d = decode_direct(line).expect("valid");
        assert_eq!(d.spans.len(), 64);
    }
}

#[test]
fn every_truncation_of_a_real_line_agrees() {
    let line = &corpus_lines()[0];
    let line = &line[..line.len().min(6_000)];
    for n in 0..line.len() {
        check(&line[..n], &format!("truncated at {n}"));
    }
}

// ------------------------------------------------------------------ random odd requests

/// Random requests, written oddly.
struct Gen {
    rng: StdRng,
    /// Chance of each oddity that may make the request invalid.
    odd: f64,
}

const KEYS: [&str; 10] = [
    "service.name",
    "service.instance.id",
    "k8s.pod.name",
    "host.name",
    "http.request.method",
    "http.response.status_code",
    "server.address",
    "url.full",
    "é-clé",
    "",
];

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn odd(&mut self) -> bool {
        let p = self.odd;
        self.chance(p)
    }

    /// One of a field's spellings.
    fn name(&mut self, camel: &str, snake: &str) -> String {
        if self.chance(0.3) { snake } else { camel }.to_string()
    }

    /// A JSON string literal, sometimes with needless `\u` escapes.
    fn string(&mut self, s: &str) -> String {
        if self.chance(0.05) && s.chars().all(|c| (c as u32) < 0x10000) {
            let mut out = String::from("\"");
            for c in s.chars() {
                if self.chance(0.3) {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    let e = serde_json::to_string(&c.to_string()).expect("char");
                    out.push_str(&e[1..e.len() - 1]);
                }
            }
            out.push('"');
            return out;
        }
        serde_json::to_string(s).expect("string")
    }

    fn text(&mut self) -> String {
        let s = match self.below(100) {
            0..10 => String::new(),
            10..20 => "GET".into(),
            20..30 => "payments".into(),
            30..40 => "a\"quote\\ and\nnewline".into(),
            40..50 => "x".repeat(40),
            50..60 => "ü日本".into(),
            60 => "y".repeat(5000),
            _ => format!("v{}", self.below(50)),
        };
        self.string(&s)
    }

    /// Any JSON value, as what does not belong somewhere.
    fn junk(&mut self) -> String {
        match self.below(9) {
            0 => "null".into(),
            1 => "true".into(),
            2 => "[]".into(),
            3 => "{}".into(),
            4 => "\"\"".into(),
            5 => "\"zz\"".into(),
            6 => "-1".into(),
            7 => "1.5".into(),
            _ => "[1,{\"a\":[null]}]".into(),
        }
    }

    /// An unsigned number as sent: a number, a string, oddly.
    fn uint(&mut self, v: u64) -> String {
        if self.odd() {
            return match self.below(10) {
                0 => "null".into(),
                1 => "\"\"".into(),
                2 => format!("\" {v} \""),
                3 => format!("{v}.0"),
                4 => "1e3".into(),
                5 => "-3".into(),
                6 => "18446744073709551616".into(),
                7 => "4294967296".into(),
                8 => "\"+7\"".into(),
                _ => self.junk(),
            };
        }
        if self.chance(0.5) {
            format!("\"{v}\"")
        } else {
            v.to_string()
        }
    }

    fn int(&mut self) -> String {
        let v: i64 = match self.below(4) {
            0 => self.rng.random(),
            1 => -(self.below(1000) as i64),
            _ => self.below(600) as i64,
        };
        if self.odd() {
            return match self.below(6) {
                0 => "9223372036854775808".into(),
                1 => "2.5".into(),
                2 => "-4.0".into(),
                3 => "\"-9\"".into(),
                4 => "\"abc\"".into(),
                _ => self.junk(),
            };
        }
        if self.chance(0.5) {
            format!("\"{v}\"")
        } else {
            v.to_string()
        }
    }

    fn double(&mut self) -> String {
        match self.below(9) {
            0 => "\"NaN\"".into(),
            1 => "\"Infinity\"".into(),
            2 => "\"-Infinity\"".into(),
            3 => "\"1.25\"".into(),
            4 => "7".into(),
            5 => "-7".into(),
            6 => "\"inf\"".into(),
            7 if self.odd() => self.junk(),
            _ => format!("{}", self.rng.random::<f64>() * 1000.0),
        }
    }

    fn id(&mut self, n: usize) -> String {
        let bytes: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
        if self.odd() {
            return match self.below(9) {
                0 => "null".into(),
                1 => "\"\"".into(),
                2 => format!("\"{}\"", hex::encode(&bytes[..n / 2])),
                3 => format!("\"{}\"", "0".repeat(2 * n)),
                4 => format!("\"{}0\"", hex::encode(&bytes)),
                5 => "\"not an id!\"".into(),
                6 => format!(
                    "\"{}\"",
                    hex::encode([bytes.clone(), bytes.clone()].concat())
                ),
                7 => "\"AAAAAAAAAAAAAAAAAAAAAA==\"".into(),
                _ => self.junk(),
            };
        }
        match self.below(5) {
            0 => format!("\"{}\"", hex::encode_upper(&bytes)),
            1 => {
                use base64::Engine;
                format!(
                    "\"{}\"",
                    base64::engine::general_purpose::STANDARD.encode(&bytes)
                )
            }
            _ => format!("\"{}\"", hex::encode(&bytes)),
        }
    }

    fn any_value(&mut self, depth: u32) -> String {
        let mut members: Vec<(String, String)> = Vec::new();
        let n = if self.odd() { self.below(3) } else { 1 };
        for _ in 0..n.max(usize::from(!self.odd())) {
            let m = match self.below(if depth > 10 { 5 } else { 8 }) {
                0 => (self.name("stringValue", "string_value"), self.text()),
                1 => (
                    self.name("boolValue", "bool_value"),
                    if self.odd() {
                        self.junk()
                    } else {
                        "true".into()
                    },
                ),
                2 => (self.name("intValue", "int_value"), self.int()),
                3 => (self.name("doubleValue", "double_value"), self.double()),
                4 => {
                    let b = if self.odd() {
                        "\"!!\"".into()
                    } else {
                        "\"aGVsbG8=\"".into()
                    };
                    (self.name("bytesValue", "bytes_value"), b)
                }
                5 | 6 => {
                    let big = self.chance(0.02);
                    let k = self.below(if big { 200 } else { 4 });
                    let vals: Vec<String> = (0..k).map(|_| self.any_value(depth + 1)).collect();
                    let inner = self.wrap_values(vals);
                    (self.name("arrayValue", "array_value"), inner)
                }
                _ => {
                    let k = self.below(4);
                    let vals: Vec<String> = (0..k).map(|_| self.key_value(depth + 1)).collect();
                    let inner = self.wrap_values(vals);
                    (self.name("kvlistValue", "kvlist_value"), inner)
                }
            };
            members.push(m);
        }
        if self.odd() {
            members.push(("stringValue".into(), "null".into()));
        }
        self.object(members)
    }

    /// `{"values": [...]}`, or its array form.
    fn wrap_values(&mut self, vals: Vec<String>) -> String {
        let list = format!("[{}]", vals.join(","));
        if self.odd() {
            return match self.below(3) {
                0 => format!("[{list}]"),
                1 => "null".into(),
                _ => "{\"values\":null}".into(),
            };
        }
        format!("{{\"values\":{list}}}")
    }

    fn key_value(&mut self, depth: u32) -> String {
        let key = KEYS[self.below(KEYS.len())];
        let mut fields = vec![("key".to_string(), self.string(key))];
        if !self.odd() {
            let v = if self.odd() {
                "null".into()
            } else {
                self.any_value(depth)
            };
            fields.push(("value".into(), v));
        }
        if self.chance(0.02) {
            // The array form of a struct: fields in declaration order.
            let vals: Vec<String> = fields.into_iter().map(|(_, v)| v).collect();
            return format!("[{}]", vals.join(","));
        }
        self.object(fields)
    }

    fn attributes(&mut self, fields: &mut Vec<(String, String)>) {
        let n = match self.below(200) {
            0 => 130 + self.below(10),
            1 => 0,
            _ => self.below(8),
        };
        let kvs: Vec<String> = (0..n).map(|_| self.key_value(0)).collect();
        fields.push(("attributes".into(), format!("[{}]", kvs.join(","))));
        if self.chance(0.2) {
            let name = self.name("droppedAttributesCount", "dropped_attributes_count");
            let d = self.below(5) as u64;
            let v = self.uint(d);
            fields.push((name, v));
        }
    }

    /// An object from its fields: shuffled sometimes, with unknown and duplicate fields
    /// sometimes, oddly spaced.
    fn object(&mut self, mut fields: Vec<(String, String)>) -> String {
        if self.chance(0.3) {
            fields.shuffle(&mut self.rng);
        }
        if self.chance(0.1) {
            let at = self.below(fields.len() + 1);
            let junk = self.junk();
            fields.insert(at, ("unknownField".into(), junk));
        }
        if self.odd() && !fields.is_empty() {
            let f = fields[self.below(fields.len())].clone();
            fields.push(f);
        }
        let sep = if self.chance(0.1) { " ,\n " } else { "," };
        let parts: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).expect("key")))
            .collect();
        format!("{{{}}}", parts.join(sep))
    }

    fn enum_(&mut self, prefix: &str, names: &[&str]) -> String {
        let i = self.below(names.len());
        match self.below(6) {
            0 => format!("\"{prefix}{}\"", names[i]),
            1 => format!("\"{}\"", names[i].to_lowercase()),
            2 => format!("\"{i}\""),
            3 if self.odd() => ["\"SIDEWAYS\"", "99999999999", "-1", "null", "2.0"]
                .choose(&mut self.rng)
                .map_or(String::new(), |s| s.to_string()),
            _ => i.to_string(),
        }
    }

    fn event(&mut self) -> String {
        let mut f = vec![
            (
                self.name("timeUnixNano", "time_unix_nano"),
                self.uint(12345),
            ),
            ("name".into(), self.text()),
        ];
        if self.chance(0.5) {
            self.attributes(&mut f);
        }
        self.object(f)
    }

    fn link(&mut self) -> String {
        let mut f = vec![
            (self.name("traceId", "trace_id"), self.id(16)),
            (self.name("spanId", "span_id"), self.id(8)),
        ];
        if self.chance(0.3) {
            f.push((self.name("traceState", "trace_state"), self.text()));
        }
        if self.chance(0.5) {
            self.attributes(&mut f);
        }
        if self.chance(0.2) {
            f.push(("flags".into(), self.uint(1)));
        }
        self.object(f)
    }

    fn span(&mut self) -> String {
        let mut f = vec![
            (self.name("traceId", "trace_id"), self.id(16)),
            (self.name("spanId", "span_id"), self.id(8)),
            ("name".into(), self.text()),
        ];
        if self.chance(0.7) {
            f.push((self.name("parentSpanId", "parent_span_id"), self.id(8)));
        }
        if self.chance(0.8) {
            f.push((
                "kind".into(),
                self.enum_(
                    "SPAN_KIND_",
                    &[
                        "UNSPECIFIED",
                        "INTERNAL",
                        "SERVER",
                        "CLIENT",
                        "PRODUCER",
                        "CONSUMER",
                    ],
                ),
            ));
        }
        let start = 1_700_000_000_000_000_000 + self.below(1000) as u64;
        f.push((
            self.name("startTimeUnixNano", "start_time_unix_nano"),
            self.uint(start),
        ));
        f.push((self.name("endTimeUnixNano", "end_time_unix_nano"), {
            let end = start + self.below(2000) as u64 - 500;
            self.uint(end)
        }));
        self.attributes(&mut f);
        if self.chance(0.2) {
            let n = if self.chance(0.05) {
                130
            } else {
                self.below(4)
            };
            let evs: Vec<String> = (0..n).map(|_| self.event()).collect();
            f.push(("events".into(), format!("[{}]", evs.join(","))));
            let name = self.name("droppedEventsCount", "dropped_events_count");
            let d = self.below(3) as u64;
            let v = self.uint(d);
            f.push((name, v));
        }
        if self.chance(0.15) {
            let n = if self.chance(0.05) {
                130
            } else {
                self.below(4)
            };
            let ls: Vec<String> = (0..n).map(|_| self.link()).collect();
            f.push(("links".into(), format!("[{}]", ls.join(","))));
            let name = self.name("droppedLinksCount", "dropped_links_count");
            let d = self.below(3) as u64;
            let v = self.uint(d);
            f.push((name, v));
        }
        if self.chance(0.6) {
            let mut st = vec![(
                "code".to_string(),
                self.enum_("STATUS_CODE_", &["UNSET", "OK", "ERROR"]),
            )];
            if self.chance(0.3) {
                st.push(("message".into(), self.text()));
            }
            let st = if self.chance(0.05) {
                "null".into()
            } else {
                self.object(st)
            };
            f.push(("status".into(), st));
        }
        if self.chance(0.1) {
            f.push((self.name("traceState", "trace_state"), self.text()));
            f.push(("flags".into(), self.uint(257)));
        }
        if self.chance(0.02) {
            return self.as_array(
                f,
                &[
                    "traceId",
                    "spanId",
                    "traceState",
                    "parentSpanId",
                    "flags",
                    "name",
                    "kind",
                ],
            );
        }
        self.object(f)
    }

    /// A struct in its array form: the values of `order`'s fields that `f` has, in that order
    /// (stopping at the first missing one).
    fn as_array(&mut self, f: Vec<(String, String)>, order: &[&str]) -> String {
        let mut vals = Vec::new();
        for name in order {
            match f.iter().find(|(k, _)| k == name) {
                Some((_, v)) => vals.push(v.clone()),
                None => break,
            }
        }
        format!("[{}]", vals.join(","))
    }

    fn request(&mut self) -> String {
        let mut rss = Vec::new();
        for _ in 0..1 + self.below(3) {
            let mut scopes = Vec::new();
            for _ in 0..1 + self.below(2) {
                let spans: Vec<String> = (0..self.below(5)).map(|_| self.span()).collect();
                let mut f = vec![("spans".to_string(), format!("[{}]", spans.join(",")))];
                if self.chance(0.8) {
                    let mut sc = vec![("name".to_string(), self.text())];
                    if self.chance(0.3) {
                        sc.push(("version".into(), self.text()));
                    }
                    if self.chance(0.2) {
                        self.attributes(&mut sc);
                    }
                    let sc = self.object(sc);
                    let key = if self.chance(0.1) {
                        "instrumentationLibrary"
                    } else {
                        "scope"
                    };
                    f.push((key.into(), sc));
                }
                if self.chance(0.2) {
                    f.push((self.name("schemaUrl", "schema_url"), self.text()));
                }
                scopes.push(self.object(f));
            }
            let mut f = vec![(
                self.name("scopeSpans", "scope_spans"),
                format!("[{}]", scopes.join(",")),
            )];
            if self.chance(0.9) {
                let mut r = Vec::new();
                self.attributes(&mut r);
                let r = if self.chance(0.03) {
                    "null".into()
                } else {
                    self.object(r)
                };
                f.push(("resource".into(), r));
            }
            rss.push(self.object(f));
        }
        let key = self.name("resourceSpans", "resource_spans");
        self.object(vec![(key, format!("[{}]", rss.join(",")))])
    }
}

#[test]
fn random_odd_requests_decode_equal() {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(9),
        odd: 0.0,
    };
    let mut accepted = 0;
    let n = 1500;
    for i in 0..n {
        g.odd = [0.0, 0.0005, 0.002, 0.01, 0.05][i % 5];
        let req = g.request();
        if check(req.as_bytes(), &format!("request {i}")) {
            accepted += 1;
        }
    }
    // Most are valid (so spans are compared), some are not (so rejections are).
    assert!(
        accepted > n / 3 && accepted < n,
        "{accepted} of {n} accepted"
    );
}

#[test]
fn random_mutations_never_panic_and_agree() {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(21),
        odd: 0.002,
    };
    let mut rng = StdRng::seed_from_u64(22);
    let bases: Vec<String> = (0..40).map(|_| g.request()).collect();
    let (mut accepted, n) = (0, 8_000);
    for i in 0..n {
        let mut b = bases[i % bases.len()].clone().into_bytes();
        for _ in 0..1 + rng.random_range(0..3) {
            mutate(&mut b, &mut rng);
        }
        if check(&b, &format!("mutation {i}")) {
            accepted += 1;
        }
    }
    assert!(accepted > n / 50, "{accepted} of {n} accepted");
}

#[test]
fn random_tree_mutations_agree() {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(31),
        odd: 0.0,
    };
    let mut rng = StdRng::seed_from_u64(32);
    let bases: Vec<serde_json::Value> = (0..40)
        .map(|_| serde_json::from_str(&g.request()).expect("valid"))
        .collect();
    let (mut accepted, n) = (0, 4_000);
    for i in 0..n {
        let mut v = bases[i % bases.len()].clone();
        let nodes = count_nodes(&v);
        let k = rng.random_range(0..nodes);
        let replacement: serde_json::Value = serde_json::from_str(&g.junk()).expect("junk is JSON");
        mutate_node(&mut v, &mut { k }, replacement, &mut rng);
        let text = serde_json::to_vec(&v).expect("serializes");
        if check(&text, &format!("tree mutation {i}")) {
            accepted += 1;
        }
    }
    assert!(
        accepted > n / 10 && accepted < n,
        "{accepted} of {n} accepted"
    );
}

fn count_nodes(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(count_nodes).sum(),
        serde_json::Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces node `k` (pre-order) with `with`, or removes it from its object, or renames its key.
fn mutate_node(
    v: &mut serde_json::Value,
    k: &mut usize,
    with: serde_json::Value,
    rng: &mut StdRng,
) -> bool {
    if *k == 0 {
        *v = with;
        return true;
    }
    *k -= 1;
    match v {
        serde_json::Value::Array(a) => {
            for e in a.iter_mut() {
                if mutate_node(e, k, with.clone(), rng) {
                    return true;
                }
            }
        }
        serde_json::Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for key in keys {
                if *k == 0 && rng.random_bool(0.4) {
                    // Drop the field, or move its value under another (often unknown) name.
                    let val = o.remove(&key).unwrap_or_default();
                    if rng.random_bool(0.5) {
                        let renamed = ["values", "name", "spans", "intValue", "resource", "x"]
                            .choose(rng)
                            .map_or("x", |s| s);
                        o.insert(renamed.to_string(), val);
                    }
                    return true;
                }
                if let Some(e) = o.get_mut(&key)
                    && mutate_node(e, k, with.clone(), rng)
                {
                    return true;
                }
            }
        }
        _ => {}
    }
    false
}

/// A change to JSON text that often keeps it JSON: a token replaced, removed or repeated.
fn mutate(b: &mut Vec<u8>, rng: &mut StdRng) {
    const TOKENS: [&[u8]; 16] = [
        b"null",
        b"0",
        b"-1",
        b"1e2",
        b"\"\"",
        b"\"x\"",
        b"[]",
        b"{}",
        b"true",
        b",",
        b":",
        b"\"1\"",
        b"[null]",
        b"\"key\":1,",
        b"\"SPAN_KIND_SERVER\"",
        b"\"\\u0041\"",
    ];
    if b.is_empty() {
        return;
    }
    let at = rng.random_range(0..b.len());
    // Boundaries of the token around `at`: a string literal or a run of non-structural bytes.
    let end = (at..b.len())
        .find(|&i| b",:{}[]".contains(&b[i]))
        .unwrap_or(b.len());
    match rng.random_range(0..6) {
        0 => {
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            b.splice(at..end, t.iter().copied());
        }
        1 => {
            b.drain(at..end);
        }
        2 => {
            let len = rng.random_range(1..64).min(b.len() - at);
            let copy = b[at..at + len].to_vec();
            b.splice(at..at, copy);
        }
        3 => {
            b[at] = *b"{}[]\",:0 ae\\".choose(rng).unwrap_or(&b' ');
        }
        4 => {
            // Swap two structural characters.
            if let Some(j) = (at..b.len()).find(|&i| b"{}[]".contains(&b[i])) {
                b[j] = if b[j] == b'{' { b'[' } else { b'{' };
            }
        }
        _ => {
            b.truncate(at);
        }
    }
}

// ------------------------------------------------------------------ specific behaviour

const SPAN: &str = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":3}"#;

#[test]
fn resource_and_scope_after_their_spans_still_apply() {
    let j = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{SPAN},{SPAN}],"scope":{{"name":"lib"}}}}],
            "resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"late"}}}}]}}}},
            {{"scopeSpans":[{{"spans":[{SPAN}]}}]}}]}}"#
    );
    assert!(check(j.as_bytes(), "late resource"));
    let d = ok(&j);
    assert_eq!(d.spans.len(), 3);
    assert_eq!(d.spans[0].service(), "late");
    assert_eq!(&*d.spans[1].scope, "lib");
    assert_eq!(d.spans[2].service(), "unknown_service");
    assert_eq!(&*d.spans[2].scope, "");
}

#[test]
fn serde_derive_strictness_is_kept() {
    let dup = r#"{"resourceSpans":[{"scopeSpans":[],"scope_spans":[]}]}"#;
    assert!(!check(dup.as_bytes(), "alias and name both given"));
    let dup = SPAN.replace(r#""name":"x""#, r#""name":"x","name":"y""#);
    let j = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{dup}]}}]}}]}}"#);
    assert!(!check(j.as_bytes(), "duplicate span name"));
    // A struct as an array of its fields in declaration order.
    let j = r#"{"resourceSpans":[[null,[[null,[["5b8efff798038103d269b633813fc60c","eee19b7ec3c1b174","","",0,"arr",2]]]]]]}"#;
    assert!(check(j.as_bytes(), "array form"));
    let d = ok(j);
    assert_eq!(&*d.spans[0].name, "arr");
    // Too many elements for the struct.
    let j = r#"{"resourceSpans":[[null,[],"",1]]}"#;
    assert!(!check(j.as_bytes(), "long array form"));
    // null where a list or string is expected.
    for bad in [
        r#""attributes":null"#,
        r#""name":null"#,
        r#""traceState":null"#,
    ] {
        let s = SPAN.replace(r#""name":"x""#, bad);
        let j = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{s}]}}]}}]}}"#);
        assert!(!check(j.as_bytes(), bad), "{bad}");
    }
}

#[test]
fn raw_field_names_and_ids_are_checked_as_strictly_as_strings() {
    const T: &str = r#""traceId":"5b8efff798038103d269b633813fc60c""#;
    for (fields, accepted) in [
        // An escaped name of a known field is that field.
        (r#""spanId":"eee19b7ec3c1b174","n\u0061me":"esc""#, true),
        // Unknown names: raw control characters and lone surrogates are errors, escaped control
        // characters are not (the direct decoder refuses those; `decode` takes the reference's
        // answer).
        (r#""spanId":"eee19b7ec3c1b174","a\u0001b":1"#, true),
        ("\"spanId\":\"eee19b7ec3c1b174\",\"a\u{1}b\":1", false),
        (r#""spanId":"eee19b7ec3c1b174","a\ud800b":1"#, false),
        // Ids: hex with escapes is hex; control characters, raw or escaped, are neither hex nor
        // base64.
        (r#""spanId":"eee19b7ec3c1b17\u0034""#, true),
        (
            r#""spanId":"eee19b7ec3c1b174","parentSpanId":"\u0001""#,
            false,
        ),
        (
            "\"spanId\":\"eee19b7ec3c1b174\",\"parentSpanId\":\"\u{1}\"",
            false,
        ),
    ] {
        let j =
            format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{T},{fields}}}]}}]}}]}}"#);
        assert_eq!(check(j.as_bytes(), fields), accepted, "{j}");
        if accepted {
            assert_eq!(
                decode(j.as_bytes()).map(|d| d.spans.len()).ok(),
                Some(1),
                "{j}"
            );
        }
    }
    // An invalid UTF-8 byte in an unknown field name.
    let mut j = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{SPAN}]}}]}}],"zz":1}}"#)
        .into_bytes();
    let at = j.len() - 5;
    j[at] = 0xff;
    assert!(!check(&j, "invalid UTF-8 in a field name"));
}

#[test]
fn nesting_limit_agrees_at_every_depth() {
    for depth in 100..140 {
        let mut v = String::from(r#"{"intValue":1}"#);
        for _ in 0..depth {
            v = format!(r#"{{"arrayValue":{{"values":[{v}]}}}}"#);
        }
        let span = SPAN.replace(
            r#""kind":3"#,
            &format!(r#""kind":3,"attributes":[{{"key":"deep","value":{v}}}]"#),
        );
        let j = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#);
        check(j.as_bytes(), &format!("depth {depth}"));
    }
}

#[test]
fn errors_are_the_reference_paths() {
    let bad = SPAN.replace(r#""kind":3"#, r#""kind":"sideways""#);
    let j = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{bad}]}}]}}]}}"#);
    let ours = decode(j.as_bytes()).map(|d| d.spans.len());
    let theirs = parse_traces(j.as_bytes()).map(|r| r.resource_spans.len());
    match (ours, theirs) {
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            assert!(a.to_string().contains("sideways"), "{a}");
        }
        other => panic!("expected both to fail: {other:?}"),
    }
}
