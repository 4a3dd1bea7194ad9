//! `wire::decode(bytes)` must equal `decode_traces(&prost::decode(bytes))`: the same requests
//! accepted and rejected, and equal spans when accepted. Checked on the benchmark corpus, on
//! random requests encoded oddly by hand (shuffled fields, unknown fields of every wire type,
//! split and repeated singular messages, `oneof` members overriding each other, deep nesting),
//! on every truncation of a real batch, and on 100k seeded mutations.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{WireErrorKind, decode};
use crate::ingest::decode::{DecodedSpans, decode_traces};

#[path = "../../../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

/// Decodes `bytes` both ways and asserts they agree; returns whether the request was accepted.
fn check(bytes: &[u8], what: &str) -> bool {
    let theirs = ExportTraceServiceRequest::decode(bytes).map(|r| decode_traces(&r));
    let ours = decode(bytes);
    match (theirs, ours) {
        (Ok(theirs), Ok(ours)) => {
            if ours != theirs {
                // NaN doubles are unequal to themselves; their Debug forms are not.
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{what}");
            }
            true
        }
        (Err(_), Err(_)) => false,
        (Ok(_), Err(e)) => panic!("{what}: prost accepts, wire rejects: {e}"),
        (Err(e), Ok(d)) => panic!(
            "{what}: prost rejects ({e}), wire accepts {} spans",
            d.spans.len()
        ),
    }
}

fn ok(bytes: &[u8]) -> DecodedSpans {
    match decode(bytes) {
        Ok(d) => d,
        Err(e) => panic!("expected a valid request: {e}"),
    }
}

fn err(bytes: &[u8]) -> super::WireError {
    match decode(bytes) {
        Ok(d) => panic!("expected an error, got {} spans", d.spans.len()),
        Err(e) => e,
    }
}

// ------------------------------------------------------------------ hand encoding

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

/// A message as a list of encoded fields, written in order or shuffled, with unknown fields.
#[derive(Default)]
struct Msg {
    fields: Vec<Vec<u8>>,
}

impl Msg {
    fn varint(&mut self, n: u32, v: u64) -> &mut Self {
        let mut f = Vec::new();
        put_key(&mut f, n, 0);
        put_varint(&mut f, v);
        self.fields.push(f);
        self
    }
    fn fixed64(&mut self, n: u32, v: u64) -> &mut Self {
        let mut f = Vec::new();
        put_key(&mut f, n, 1);
        f.extend_from_slice(&v.to_le_bytes());
        self.fields.push(f);
        self
    }
    fn fixed32(&mut self, n: u32, v: u32) -> &mut Self {
        let mut f = Vec::new();
        put_key(&mut f, n, 5);
        f.extend_from_slice(&v.to_le_bytes());
        self.fields.push(f);
        self
    }
    fn bytes(&mut self, n: u32, b: &[u8]) -> &mut Self {
        let mut f = Vec::new();
        put_key(&mut f, n, 2);
        put_varint(&mut f, b.len() as u64);
        f.extend_from_slice(b);
        self.fields.push(f);
        self
    }
    fn str(&mut self, n: u32, s: &str) -> &mut Self {
        self.bytes(n, s.as_bytes())
    }
    /// Fields in order, no unknown fields.
    fn plain(self) -> Vec<u8> {
        self.fields.concat()
    }
}

/// Random requests, encoded oddly.
struct Gen {
    rng: StdRng,
}

const KEYS: [&str; 12] = [
    "service.name",
    "service.instance.id",
    "k8s.pod.name",
    "host.name",
    "http.request.method",
    "http.response.status_code",
    "server.address",
    "url.full",
    "rpc.grpc.status_code",
    "db.system",
    "é-clé",
    "",
];

impl Gen {
    fn new(seed: u64) -> Self {
        Gen {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.random_range(0..n)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Shuffles (sometimes), adds unknown fields (sometimes), concatenates.
    fn finish(&mut self, mut m: Msg) -> Vec<u8> {
        if self.chance(0.3) {
            m.fields.shuffle(&mut self.rng);
        }
        let mut out = Vec::new();
        for f in m.fields {
            if self.chance(0.05) {
                self.unknown(&mut out, 0);
            }
            out.extend_from_slice(&f);
        }
        if self.chance(0.05) {
            self.unknown(&mut out, 0);
        }
        out
    }

    /// An unknown field of a random wire type (field numbers ≥ 20 are unknown everywhere).
    fn unknown(&mut self, out: &mut Vec<u8>, depth: u32) {
        let n = match self.below(3) {
            0 => 20 + self.below(100) as u32,
            1 => 1000 + self.below(100_000) as u32,
            _ => (1 << 29) - 1 - self.below(10) as u32,
        };
        match self.below(5) {
            0 => {
                put_key(out, n, 0);
                let v = self.rng.random::<u64>() >> self.below(64);
                put_varint(out, v);
            }
            1 => {
                put_key(out, n, 1);
                out.extend_from_slice(&self.rng.random::<u64>().to_le_bytes());
            }
            2 => {
                put_key(out, n, 5);
                out.extend_from_slice(&self.rng.random::<u32>().to_le_bytes());
            }
            3 => {
                let len = self.below(20) as usize;
                let b: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
                put_key(out, n, 2);
                put_varint(out, len as u64);
                out.extend_from_slice(&b);
            }
            _ => {
                put_key(out, n, 3);
                for _ in 0..self.below(3) {
                    if depth < 3 {
                        self.unknown(out, depth + 1);
                    }
                }
                put_key(out, n, 4);
            }
        }
    }

    fn string(&mut self) -> String {
        match self.below(60) {
            0 => String::new(),
            1 => {
                // Long values around the 4096-byte cut, multi-byte chars at the boundary.
                let unit = ["é", "日", "😀", "a"][self.below(4) as usize];
                let mut s = "x".repeat(self.below(4) as usize);
                while s.len() < 4090 + self.below(20) as usize {
                    s.push_str(unit);
                }
                s
            }
            2..=12 => ["GET", "POST", "frontend", "é", "日本", "redis-cache", "x"]
                [self.below(7) as usize]
                .to_string(),
            13..=30 => (0..20 + self.below(40))
                .map(|_| char::from(b'a' + self.below(26) as u8))
                .collect(),
            31..=45 => format!("/api/v1/items/{}", self.below(1000)),
            _ => (0..self.below(12))
                .map(|_| char::from_u32(self.rng.random_range(0x20..0x3000)).unwrap_or('?'))
                .collect(),
        }
    }

    fn key(&mut self) -> String {
        if self.chance(0.8) {
            KEYS[self.below(KEYS.len() as u64) as usize].to_string()
        } else {
            self.string()
        }
    }

    fn id(&mut self, n: usize) -> Vec<u8> {
        match self.below(30) {
            0 => Vec::new(),
            1 => vec![0; n],
            2 => (0..self.below(20)).map(|_| self.rng.random()).collect(),
            _ => (0..n).map(|_| self.rng.random::<u8>() | 1).collect(),
        }
    }

    fn count(&mut self, typical: u64, rare: u64) -> u64 {
        if self.chance(0.01) {
            rare
        } else {
            self.below(typical + 1)
        }
    }

    fn any_value(&mut self, depth: u32) -> Vec<u8> {
        let mut m = Msg::default();
        let members = if self.chance(0.1) { 2 } else { 1 };
        for _ in 0..members {
            let nested = depth < 10;
            match self.below(if nested { 9 } else { 7 }) {
                0 => {}
                1 => {
                    let s = self.string();
                    m.str(1, &s);
                }
                2 => {
                    let b = self.below(3);
                    m.varint(2, b);
                }
                3 => {
                    let i = self.rng.random::<i64>() >> self.below(64);
                    m.varint(3, i as u64);
                }
                4 => {
                    let d = self.rng.random_range(-1e12..1e12);
                    m.fixed64(4, f64::to_bits(d));
                }
                5 => {
                    let n = if self.chance(0.02) {
                        4100 + self.below(10)
                    } else {
                        self.below(9)
                    };
                    let b: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                    m.bytes(7, &b);
                }
                6 => {
                    m.varint(8, self.below(100));
                }
                7 => {
                    for _ in 0..1 + u64::from(self.chance(0.1)) {
                        let mut a = Msg::default();
                        let n = if depth == 0 {
                            self.count(4, 130)
                        } else {
                            self.below(3)
                        };
                        for _ in 0..n {
                            let v = self.any_value(depth + 1);
                            a.bytes(1, &v);
                        }
                        let body = self.finish(a);
                        m.bytes(5, &body);
                    }
                }
                _ => {
                    for _ in 0..1 + u64::from(self.chance(0.1)) {
                        let mut a = Msg::default();
                        let n = if depth == 0 {
                            self.count(4, 130)
                        } else {
                            self.below(3)
                        };
                        for _ in 0..n {
                            let kv = self.key_value(depth + 1);
                            a.bytes(1, &kv);
                        }
                        let body = self.finish(a);
                        m.bytes(6, &body);
                    }
                }
            }
        }
        self.finish(m)
    }

    fn key_value(&mut self, depth: u32) -> Vec<u8> {
        let mut m = Msg::default();
        let k = self.key();
        m.str(1, &k);
        // The value: absent, once, or in two chunks that merge.
        for _ in 0..[1, 1, 1, 1, 1, 1, 0, 2][self.below(8) as usize] {
            let v = self.any_value(depth);
            m.bytes(2, &v);
        }
        if self.chance(0.02) {
            m.varint(3, self.below(10));
        }
        self.finish(m)
    }

    fn attributes(&mut self, m: &mut Msg, number: u32, dropped_number: u32) {
        let rare = 130 + self.below(5);
        for _ in 0..self.count(8, rare) {
            let kv = self.key_value(0);
            m.bytes(number, &kv);
        }
        if self.chance(0.1) {
            let d = [1, u64::from(u32::MAX), u64::MAX, 5][self.below(4) as usize];
            m.varint(dropped_number, d);
        }
    }

    fn event(&mut self) -> Vec<u8> {
        let mut m = Msg::default();
        let t = self.rng.random();
        m.fixed64(1, t);
        let name = self.string();
        m.str(2, &name);
        self.attributes(&mut m, 3, 4);
        self.finish(m)
    }

    fn link(&mut self) -> Vec<u8> {
        let mut m = Msg::default();
        let t = self.id(16);
        let s = self.id(8);
        m.bytes(1, &t).bytes(2, &s);
        if self.chance(0.3) {
            m.str(3, "rojo=00f067aa0ba902b7");
        }
        self.attributes(&mut m, 4, 5);
        if self.chance(0.3) {
            m.fixed32(6, 0x301);
        }
        self.finish(m)
    }

    fn span(&mut self) -> Vec<u8> {
        let mut m = Msg::default();
        let (t, s) = (self.id(16), self.id(8));
        if !t.is_empty() || self.chance(0.5) {
            m.bytes(1, &t);
        }
        m.bytes(2, &s);
        if self.chance(0.7) {
            let p = if self.chance(0.5) {
                Vec::new()
            } else {
                self.id(8)
            };
            m.bytes(4, &p);
        }
        if self.chance(0.2) {
            m.str(3, "congo=t61rcWkgMzE");
        }
        for _ in 0..1 + u64::from(self.chance(0.05)) {
            let name = self.string();
            m.str(5, &name);
        }
        m.varint(6, [0, 1, 2, 3, 4, 5, 9, u64::MAX][self.below(8) as usize]);
        let start = self.rng.random_range(1u64 << 60..1 << 61);
        m.fixed64(7, start);
        let end = start.wrapping_add(self.rng.random_range(0..1u64 << 40)) - (1 << 20);
        m.fixed64(8, end);
        self.attributes(&mut m, 9, 10);
        for _ in 0..self.count(2, 130) {
            let e = self.event();
            m.bytes(11, &e);
        }
        if self.chance(0.05) {
            m.varint(12, [1, u64::from(u32::MAX)][self.below(2) as usize]);
        }
        for _ in 0..self.count(2, 130) {
            let l = self.link();
            m.bytes(13, &l);
        }
        if self.chance(0.05) {
            m.varint(14, [1, u64::from(u32::MAX)][self.below(2) as usize]);
        }
        for _ in 0..[0, 1, 1, 2][self.below(4) as usize] {
            let mut st = Msg::default();
            if self.chance(0.5) {
                let msg = self.string();
                st.str(2, &msg);
            }
            if self.chance(0.8) {
                st.varint(3, self.below(4));
            }
            let st = self.finish(st);
            m.bytes(15, &st);
        }
        if self.chance(0.5) {
            m.fixed32(16, 0x101);
        }
        self.finish(m)
    }

    fn request(&mut self) -> Vec<u8> {
        let mut req = Msg::default();
        for _ in 0..1 + self.below(3) {
            let mut rs = Msg::default();
            for _ in 0..[0, 1, 1, 1, 2][self.below(5) as usize] {
                let mut r = Msg::default();
                if self.chance(0.8) {
                    let kv = {
                        let mut kv = Msg::default();
                        let mut v = Msg::default();
                        let name = self.string();
                        v.str(1, &name);
                        kv.str(1, "service.name").bytes(2, &v.plain());
                        self.finish(kv)
                    };
                    r.bytes(1, &kv);
                }
                self.attributes(&mut r, 1, 2);
                if self.chance(0.1) {
                    let mut e = Msg::default();
                    e.str(1, "https://opentelemetry.io/schemas/1.30.0")
                        .str(2, "service")
                        .str(3, "service.name")
                        .str(3, "service.namespace");
                    let e = self.finish(e);
                    r.bytes(3, &e);
                }
                let r = self.finish(r);
                rs.bytes(1, &r);
            }
            for _ in 0..1 + self.below(3) {
                let mut ss = Msg::default();
                for _ in 0..[0, 1, 1, 2][self.below(4) as usize] {
                    let mut sc = Msg::default();
                    let name = self.string();
                    sc.str(1, &name);
                    if self.chance(0.5) {
                        sc.str(2, "1.2.3");
                    }
                    if self.chance(0.2) {
                        self.attributes(&mut sc, 3, 4);
                    }
                    let sc = self.finish(sc);
                    ss.bytes(1, &sc);
                }
                for _ in 0..self.below(6) {
                    let s = self.span();
                    ss.bytes(2, &s);
                }
                if self.chance(0.3) {
                    ss.str(3, "https://opentelemetry.io/schemas/1.30.0");
                }
                let ss = self.finish(ss);
                rs.bytes(2, &ss);
            }
            if self.chance(0.3) {
                rs.str(3, "https://opentelemetry.io/schemas/1.24.0");
            }
            let rs = self.finish(rs);
            req.bytes(1, &rs);
        }
        self.finish(req)
    }
}

// ------------------------------------------------------------------ equivalence

#[test]
fn corpus_batches_decode_equal() {
    for (i, body) in corpus::encoded_batches(8, 512, 7).iter().enumerate() {
        assert!(check(body, &format!("corpus batch {i}")));
        assert_eq!(ok(body).spans.len(), 512);
    }
}

#[test]
fn random_odd_requests_decode_equal() {
    let seed = std::env::var("WIRE_SEED").ok().and_then(|v| v.parse().ok());
    let mut g = Gen::new(seed.unwrap_or(0x5eed));
    let mut spans = 0;
    for i in 0..250 {
        let bytes = g.request();
        assert!(
            check(&bytes, &format!("random request {i}")),
            "request {i} must be valid"
        );
        spans += ok(&bytes).spans.len();
    }
    assert!(spans > 500, "the generator must produce spans: {spans}");
}

#[test]
fn every_truncation_of_a_real_batch_agrees() {
    // A corpus batch with events, links and a status message: a cut between two top-level
    // fields is a valid shorter request (protobuf cannot tell), any other cut is an error.
    let mut req = corpus::build_batch(6, "checkout", &mut corpus::Rng(99));
    let spans = &mut req.resource_spans[0].scope_spans[0].spans;
    spans[1].events.push(Default::default());
    spans[2].links.push(Default::default());
    if let Some(st) = spans[3].status.as_mut() {
        st.message = "upstream reset".into();
    }
    let mut bytes = req.encode_to_vec();
    // Two copies: the cut between them decodes as the first.
    bytes.extend_from_slice(&req.encode_to_vec());
    let mut accepted = 0;
    for cut in 0..=bytes.len() {
        accepted += usize::from(check(&bytes[..cut], &format!("cut at {cut}")));
    }
    assert_eq!(accepted, 3, "empty, one copy, both copies");
}

#[test]
fn random_mutations_never_panic_and_agree() {
    // WIRE_SEED and WIRE_MUTATIONS run other seeds and longer, e.g. in release builds.
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (seed, n) = (
        env("WIRE_SEED", 77),
        env("WIRE_MUTATIONS", 100_000) as usize,
    );
    let mut g = Gen::new(seed);
    let bases: Vec<Vec<u8>> = (0..400)
        .map(|_| g.request())
        .filter(|b| b.len() < 3000)
        .take(12)
        .collect();
    assert!(bases.len() >= 4);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xfa17);
    let mut accepted = 0;
    for i in 0..n {
        let mut b = bases[i % bases.len()].clone();
        for _ in 0..1 + rng.random_range(0..3) {
            mutate(&mut b, &mut rng);
        }
        accepted += usize::from(check(&b, &format!("mutation {i}")));
    }
    // Both outcomes must be exercised.
    assert!(
        accepted > n / 100 && accepted < n * 99 / 100,
        "accepted {accepted}"
    );
}

fn mutate(b: &mut Vec<u8>, rng: &mut StdRng) {
    if b.is_empty() {
        b.push(rng.random());
        return;
    }
    let at = rng.random_range(0..b.len());
    match rng.random_range(0..7) {
        0 => b[at] ^= 1 << rng.random_range(0..8),
        1 => b[at] = rng.random(),
        2 => b[at] = [0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x0b, 0x0c][rng.random_range(0..9)],
        3 => b.insert(at, rng.random()),
        4 => {
            let end = (at + rng.random_range(1..16)).min(b.len());
            b.drain(at..end);
        }
        5 => {
            let end = (at + rng.random_range(1..32)).min(b.len());
            let copy = b[at..end].to_vec();
            let to = rng.random_range(0..=b.len());
            b.splice(to..to, copy);
        }
        _ => b.truncate(at),
    }
}

#[test]
fn nesting_depth_agrees_with_prost_at_every_level() {
    // Arrays nested n deep in a span attribute: kept to depth 8, empty below, and rejected
    // where prost's recursion limit rejects them.
    let mut accepted = 0;
    for n in 0..80 {
        let mut v = Msg::default();
        v.varint(3, 42);
        let mut value = v.plain();
        for _ in 0..n {
            let mut arr = Msg::default();
            arr.bytes(1, &value);
            let mut any = Msg::default();
            any.bytes(5, &arr.plain());
            value = any.plain();
        }
        let bytes = request_with_span_fields(|s| {
            let mut kv = Msg::default();
            kv.str(1, "deep").bytes(2, &value);
            s.bytes(9, &kv.plain());
        });
        accepted += usize::from(check(&bytes, &format!("{n} nested arrays")));
    }
    assert!(accepted > 20 && accepted < 80, "accepted {accepted}");
    // And unknown groups nested past the limit.
    let mut g = Vec::new();
    for _ in 0..120 {
        put_key(&mut g, 30, 3);
    }
    for _ in 0..120 {
        put_key(&mut g, 30, 4);
    }
    let e = err(&g);
    assert!(
        matches!(e.kind(), WireErrorKind::TooDeep { limit: 100 }),
        "{e}"
    );
    check(&g, "deep groups");
}

// ------------------------------------------------------------------ errors and edge cases

/// A valid span (good ids), with `extra` fields added, in a minimal request.
fn request_with_span_fields(extra: impl FnOnce(&mut Msg)) -> Vec<u8> {
    let mut s = Msg::default();
    s.bytes(1, &[1; 16]).bytes(2, &[2; 8]).str(5, "op");
    extra(&mut s);
    wrap_span(s.plain())
}

fn wrap_span(span: Vec<u8>) -> Vec<u8> {
    let mut ss = Msg::default();
    ss.bytes(2, &span);
    let mut rs = Msg::default();
    rs.bytes(2, &ss.plain());
    let mut req = Msg::default();
    req.bytes(1, &rs.plain());
    req.plain()
}

#[test]
fn errors_name_the_field_path() {
    // Span 1's attribute claims 300 bytes.
    let good = {
        let mut s = Msg::default();
        s.bytes(1, &[1; 16]).bytes(2, &[2; 8]);
        s.plain()
    };
    let mut bad = good.clone();
    put_key(&mut bad, 9, 2);
    put_varint(&mut bad, 300);
    bad.extend_from_slice(b"short");
    let mut ss = Msg::default();
    ss.bytes(2, &good).bytes(2, &bad);
    let mut ss0 = Msg::default();
    ss0.bytes(2, &good);
    let mut rs = Msg::default();
    rs.bytes(2, &ss0.plain()).bytes(2, &ss.plain());
    let mut req = Msg::default();
    req.bytes(1, &rs.plain());
    let bytes = req.plain();
    let e = err(&bytes);
    assert_eq!(e.kind(), &WireErrorKind::LengthPastEnd { len: 300 });
    assert_eq!(
        e.path(),
        "resource_spans[0].scope_spans[1].spans[1].attributes"
    );
    assert!(
        e.to_string().starts_with(
            "resource_spans[0].scope_spans[1].spans[1].attributes: length 300 past end of message (at byte "
        ),
        "{e}"
    );
    check(&bytes, "length past end");

    let e = err(&[0x0a, 0x05, 0x01]);
    assert_eq!(
        e.to_string(),
        "resource_spans: length 5 past end of message (at byte 1)"
    );
    let e = err(&[0x08, 0xff, 0xff]);
    assert_eq!(
        e.to_string(),
        "resource_spans: wire type varint, expected length-delimited (at byte 1)"
    );
    let e = err(&[0x18, 0xff, 0xff]);
    assert_eq!(e.to_string(), "#3: truncated varint (at byte 1)");
    let e = err(&[0x07]);
    assert_eq!(e.to_string(), "request: invalid wire type 7 (at byte 1)");
}

#[test]
fn invalid_utf8_is_rejected_in_every_string_field() {
    let bad = b"caf\xc3(".as_slice();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "spans[0].name",
            request_with_span_fields(|s| {
                s.bytes(5, bad);
            }),
        ),
        (
            "spans[0].attributes[0].key",
            request_with_span_fields(|s| {
                let mut kv = Msg::default();
                kv.bytes(1, bad);
                s.bytes(9, &kv.plain());
            }),
        ),
        (
            "spans[0].attributes[0].value.string_value",
            request_with_span_fields(|s| {
                let mut v = Msg::default();
                v.bytes(1, bad);
                let mut kv = Msg::default();
                kv.str(1, "k").bytes(2, &v.plain());
                s.bytes(9, &kv.plain());
            }),
        ),
        (
            // A field faultline ignores is still validated, as prost validates it.
            "spans[0].trace_state",
            request_with_span_fields(|s| {
                s.bytes(3, bad);
            }),
        ),
        (
            "spans[0].status.message",
            request_with_span_fields(|s| {
                let mut st = Msg::default();
                st.bytes(2, bad);
                s.bytes(15, &st.plain());
            }),
        ),
    ];
    for (path, bytes) in cases {
        let e = err(&bytes);
        assert_eq!(e.kind(), &WireErrorKind::InvalidUtf8, "{path}");
        assert_eq!(e.path(), format!("resource_spans[0].scope_spans[0].{path}"));
        assert!(!check(&bytes, path));
    }
}

#[test]
fn bad_ids_are_rejected_per_span_with_decode_traces_messages() {
    let span = |t: &[u8], s: &[u8], p: Option<&[u8]>| {
        let mut m = Msg::default();
        // Name after the ids: the message still names the span.
        m.bytes(1, t).bytes(2, s);
        if let Some(p) = p {
            m.bytes(4, p);
        }
        m.str(5, "GET /x");
        m.plain()
    };
    let mut ss = Msg::default();
    ss.bytes(2, &span(&[1; 16], &[1; 8], None))
        .bytes(2, &span(&[1; 5], &[1; 8], None))
        .bytes(2, &span(&[0; 16], &[1; 8], None))
        .bytes(2, &span(&[1; 16], &[0; 8], None))
        .bytes(2, &span(&[1; 16], &[1; 8], Some(&[1; 3])))
        .bytes(2, &span(&[1; 16], &[1; 8], Some(&[])));
    let mut rs = Msg::default();
    rs.bytes(2, &ss.plain());
    let mut req = Msg::default();
    req.bytes(1, &rs.plain());
    let bytes = req.plain();
    assert!(check(&bytes, "bad ids"));
    let d = ok(&bytes);
    assert_eq!(d.spans.len(), 2);
    assert_eq!(d.rejected, 4);
    assert_eq!(
        d.error.as_deref(),
        Some("span \"GET /x\": traceId must be 16 bytes, got 5")
    );
    assert_eq!(d.spans[0].service(), "unknown_service");
}

#[test]
fn unknown_fields_groups_and_merges_are_handled() {
    // Resource after the scope spans, split in two chunks; status twice; name twice; unknown
    // fields of every wire type, a nested group; AnyValue members overriding each other.
    let mut attr_value = Msg::default();
    attr_value.str(1, "first").varint(3, 7);
    let mut kv = Msg::default();
    kv.str(1, "k").bytes(2, &attr_value.plain());
    let mut span = Msg::default();
    span.bytes(1, &[3; 16])
        .bytes(2, &[4; 8])
        .str(5, "old")
        .str(5, "new")
        .bytes(9, &kv.plain());
    let mut st1 = Msg::default();
    st1.varint(3, 2).str(2, "boom");
    let mut st2 = Msg::default();
    st2.varint(99, 1);
    span.bytes(15, &st1.plain()).bytes(15, &st2.plain());
    let mut raw = span.plain();
    put_key(&mut raw, 40, 3);
    put_key(&mut raw, 41, 0);
    put_varint(&mut raw, u64::MAX);
    put_key(&mut raw, 42, 3);
    put_key(&mut raw, 43, 5);
    raw.extend_from_slice(&[1, 2, 3, 4]);
    put_key(&mut raw, 42, 4);
    put_key(&mut raw, 44, 1);
    raw.extend_from_slice(&[0; 8]);
    put_key(&mut raw, 40, 4);
    let mut ss = Msg::default();
    ss.bytes(2, &raw);
    let service = |name: &str| {
        let mut v = Msg::default();
        v.str(1, name);
        let mut kv = Msg::default();
        kv.str(1, "service.name").bytes(2, &v.plain());
        let mut r = Msg::default();
        r.bytes(1, &kv.plain());
        r.plain()
    };
    let mut host = Msg::default();
    host.str(1, "host.name").bytes(2, &{
        let mut v = Msg::default();
        v.str(1, "h1");
        v.plain()
    });
    let mut r2 = Msg::default();
    r2.bytes(1, &host.plain());
    let mut rs = Msg::default();
    rs.bytes(2, &ss.plain())
        .bytes(1, &service("cart"))
        .bytes(1, &r2.plain());
    let mut req = Msg::default();
    req.bytes(1, &rs.plain());
    let bytes = req.plain();
    assert!(check(&bytes, "merges"));
    let d = ok(&bytes);
    let s = &d.spans[0];
    assert_eq!(&*s.name, "new");
    assert_eq!(s.service(), "cart");
    assert_eq!(s.resource.instance.as_deref(), Some("h1"));
    assert_eq!(s.resource.attributes.len(), 2);
    assert_eq!(s.status, crate::model::span::StatusCode::Error);
    assert_eq!(s.attributes.get("k").and_then(|v| v.as_i64()), Some(7));

    // An end-group without its start, and a mismatched end, are errors.
    let mismatched = request_with_span_fields(|s| {
        let mut f = Vec::new();
        put_key(&mut f, 50, 3);
        put_key(&mut f, 51, 4);
        s.fields.push(f);
    });
    assert!(matches!(
        err(&mismatched).kind(),
        WireErrorKind::UnmatchedEndGroup
    ));
    assert!(!check(&mismatched, "mismatched group"));
    // A known field with the wrong wire type is an error, as in prost.
    let wrong = request_with_span_fields(|s| {
        s.varint(5, 1);
    });
    assert!(matches!(
        err(&wrong).kind(),
        WireErrorKind::WrongWireType { .. }
    ));
    assert!(!check(&wrong, "wrong wire type"));
}

#[test]
fn bounds_match_decode_traces() {
    // 10,000 attributes, 200 events and links, a long multi-byte value: bounded identically.
    let bytes = request_with_span_fields(|s| {
        for i in 0..10_000 {
            let mut v = Msg::default();
            v.varint(3, i);
            let mut kv = Msg::default();
            kv.str(1, &format!("k{i}")).bytes(2, &v.plain());
            s.bytes(9, &kv.plain());
        }
        for _ in 0..200 {
            let mut e = Msg::default();
            e.str(2, "retry");
            s.bytes(11, &e.plain());
            let mut l = Msg::default();
            l.bytes(1, &[5; 16]).bytes(2, &[6; 8]);
            s.bytes(13, &l.plain());
        }
        let mut v = Msg::default();
        v.str(1, &"日".repeat(2000));
        let mut kv = Msg::default();
        kv.str(1, "long").bytes(2, &v.plain());
        s.bytes(9, &kv.plain());
    });
    assert!(check(&bytes, "bounds"));
    let d = ok(&bytes);
    let s = &d.spans[0];
    assert_eq!(s.attributes.len(), 128);
    assert_eq!(s.attributes.dropped(), 10_001 - 128);
    assert_eq!(s.events().len(), 128);
    let x = s
        .extras
        .as_deref()
        .map(|x| (x.dropped_events, x.links.len(), x.dropped_links));
    assert_eq!(x, Some((72, 128, 72)));
}

/// The short-string helpers the decoders share (`bounds::same_bytes`, the key cache's compare;
/// `bounds::utf8`, the ASCII fast path) answer exactly as `==` and `std::str::from_utf8` do, at
/// every length around their 8-, 16- and 32-byte cases and for a difference at every position.
#[test]
fn short_string_helpers_agree_with_std() {
    use crate::ingest::bounds::{same_bytes, utf8};
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for n in 0..=40usize {
        let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        samples.push(base.clone());
        for p in 0..n {
            for b in [b'Z', 0xff, 0xc3] {
                let mut v = base.clone();
                v[p] = b;
                samples.push(v);
            }
        }
        let mut accented = base.clone();
        accented.extend_from_slice("é".as_bytes());
        samples.push(accented);
    }
    for a in &samples {
        assert_eq!(utf8(a), std::str::from_utf8(a), "{a:?}");
        for b in &samples {
            assert_eq!(same_bytes(a, b), a == b, "{a:?} vs {b:?}");
        }
    }
}
