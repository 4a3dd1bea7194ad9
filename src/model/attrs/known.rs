//! Lookups by key, fast for the keys the store reads of every call: [`Indexed`] finds all of
//! [`KNOWN`] in one pass over a list's keys, so each lookup after it is an array read instead
//! of a scan of the keys. The store classifies and names every call with a dozen or more
//! lookups (both semantic-convention generations, most of them absent); scanning the keys for
//! each was about a fifth of its work. Any other key falls back to a scan, so the answers are
//! exactly [`Attributes`]'s.

use super::{Attributes, KeySet, Text, Value};

/// Read access by key, as [`Attributes`] gives it; implemented by the list itself (a scan per
/// lookup) and by [`Indexed`] (one scan for all of [`KNOWN`]).
pub trait Lookup {
    /// The value of `key`, if present (first occurrence wins).
    fn get(&self, key: &str) -> Option<Value<'_>>;

    /// The string value of `key`, if present and a non-empty string.
    #[inline]
    fn str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The first non-empty string among `keys` (new semantic-convention name first).
    #[inline]
    fn first_str(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.str(k))
    }

    /// The integer value of the first of `keys` present.
    #[inline]
    fn first_i64(&self, keys: &[&str]) -> Option<i64> {
        keys.iter()
            .find_map(|k| self.get(k).and_then(Value::as_i64))
    }
}

impl Lookup for Attributes {
    #[inline]
    fn get(&self, key: &str) -> Option<Value<'_>> {
        Attributes::get(self, key)
    }
}

/// The keys [`Indexed`] finds in its one pass: those the store's per-call work reads
/// (dependency naming, operation, request path, outcome, cache result).
pub const KNOWN: [&str; 56] = [
    "http.request.method",
    "http.method",
    "url.full",
    "http.url",
    "url.template",
    "http.route",
    "url.path",
    "http.target",
    "http.host",
    "db.system.name",
    "db.system",
    "db.namespace",
    "db.name",
    "db.operation.name",
    "db.operation",
    "db.collection.name",
    "db.sql.table",
    "db.query.text",
    "db.statement",
    "db.query.summary",
    "db.response.returned_rows",
    "messaging.system",
    "messaging.destination.name",
    "messaging.destination",
    "messaging.destination.template",
    "messaging.operation.type",
    "messaging.operation",
    "messaging.message.id",
    "rpc.system.name",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
    "rpc.response.status_code",
    "server.address",
    "net.peer.name",
    "net.host.name",
    "server.port",
    "net.peer.port",
    "network.peer.address",
    "net.sock.peer.addr",
    "network.peer.port",
    "net.sock.peer.port",
    "service.peer.name",
    "peer.service",
    "service.peer.namespace",
    "http.response.status_code",
    "http.status_code",
    "http.request.resend_count",
    "http.resend_count",
    "response_flags",
    "envoy.response_flags",
    "error.type",
    "exception.type",
    "exception.message",
    "cache.hit",
];

const ABSENT: u8 = u8::MAX;

/// Slots of [`KNOWN_TABLE`]: a power of two, about four times the keys, so most keys that
/// are not known end on an empty slot at once.
const TABLE_SLOTS: usize = 256;

/// Where a key starts probing: its length and three of its bytes (the keys here differ in
/// those more than in their prefixes, which many share). Any key, known or not, of length ≥ 1.
const fn table_hash(b: &[u8]) -> usize {
    let n = b.len();
    let h = (n as u32).wrapping_mul(0x9e37_79b1)
        ^ (b[n - 1] as u32).wrapping_mul(0x85eb_ca6b)
        ^ (b[n / 2] as u32).wrapping_mul(0xc2b2_ae35)
        ^ (b[n / 3] as u32).wrapping_mul(0x27d4_eb2f);
    ((h ^ (h >> 15)) as usize) % TABLE_SLOTS
}

/// [`KNOWN`] as an open-addressing table built at compile time: each slot holds a key's
/// position plus one (0: empty), keys placed by linear probing from [`table_hash`].
const KNOWN_TABLE: [u8; TABLE_SLOTS] = {
    // Positions plus one fit a byte, and the table never fills (so a probe always ends).
    assert!(KNOWN.len() < u8::MAX as usize && KNOWN.len() * 2 < TABLE_SLOTS);
    let mut t = [0u8; TABLE_SLOTS];
    let mut i = 0;
    while i < KNOWN.len() {
        let mut h = table_hash(KNOWN[i].as_bytes());
        while t[h] != 0 {
            h = (h + 1) % TABLE_SLOTS;
        }
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

/// The position of `key` in [`KNOWN`]: a probe of [`KNOWN_TABLE`] and one comparison when a
/// key is there. (A `match` on the key compared it with every candidate of its length, a few
/// dozen instructions for each of the ≈50 lookups the store makes of every call.)
#[inline]
fn known(key: &str) -> Option<usize> {
    let b = key.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut h = table_hash(b);
    loop {
        let slot = KNOWN_TABLE[h] as usize;
        // An empty slot ends the probe: the table is never full (56 keys, 256 slots).
        let i = slot.checked_sub(1)?;
        let k = KNOWN[i].as_bytes();
        // Callers name keys as literals, which the compiler stores once: the same address is
        // the common hit, and needs no comparison of the bytes.
        if std::ptr::eq(k, b) || k == b {
            return Some(i);
        }
        h = (h + 1) % TABLE_SLOTS;
    }
}

/// Where each [`KNOWN`] key first sits in a list of keys: what [`Indexed`] finds in its one
/// pass. It depends on the keys alone, so lists that share a key set (`Attributes::keys`, shared
/// by the decoders' interner) can share it: found once per key set, applied to each list with
/// [`Indexed::with_positions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Positions([u8; KNOWN.len()]);

impl Positions {
    /// The positions of the known keys among `keys` (one pass).
    pub fn of(keys: &[Text]) -> Positions {
        let mut pos = [ABSENT; KNOWN.len()];
        // A list holds at most `MAX_ATTRIBUTES` (128) keys, so every position fits below ABSENT.
        for (i, k) in keys.iter().enumerate().take(ABSENT as usize) {
            if let Some(s) = known(k)
                && pos[s] == ABSENT
            {
                pos[s] = i as u8;
            }
        }
        Positions(pos)
    }
}

/// Key sets held at most by a [`PositionCache`] before it forgets the ones only it holds.
const CACHED_KEY_SETS: usize = 4096;

/// The [`Positions`] of each key set seen, so indexing a list whose key set was seen before
/// costs a lookup by address instead of matching every key against [`KNOWN`]. Key sets are
/// shared by the decoders' interner, so a store sees a few dozen. The cache holds each key set
/// it answers for, so an address it keys by cannot be freed and reused by another set.
#[derive(Debug, Default)]
pub struct PositionCache {
    sets: foldhash::HashMap<(usize, usize), (KeySet, Positions)>,
}

impl PositionCache {
    /// `attrs` indexed with its key set's positions (found now when the set is new).
    pub fn index<'a>(&mut self, attrs: &'a Attributes) -> Indexed<'a> {
        let keys = attrs.keys();
        let at = (keys.as_ptr() as usize, keys.len());
        if let Some((_, pos)) = self.sets.get(&at) {
            return Indexed::with_positions(attrs, *pos);
        }
        let ix = Indexed::new(attrs);
        if self.sets.len() >= CACHED_KEY_SETS {
            // Sets only the cache holds are gone from every list: forget them (and, if most
            // are still in use, all: they are found again on their next use).
            self.sets
                .retain(|_, (ks, _)| std::sync::Arc::strong_count(ks) > 1);
            if self.sets.len() >= CACHED_KEY_SETS / 2 {
                self.sets.clear();
            }
        }
        self.sets.insert(at, (attrs.key_set(), ix.positions()));
        ix
    }

    /// Key sets cached.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether no key set is cached.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// A list with the positions of every [`KNOWN`] key it has, found in one pass.
pub struct Indexed<'a> {
    attrs: &'a Attributes,
    pos: [u8; KNOWN.len()],
}

impl<'a> Indexed<'a> {
    /// Indexes `attrs` (one pass over its keys).
    pub fn new(attrs: &'a Attributes) -> Self {
        Indexed::with_positions(attrs, Positions::of(attrs.keys()))
    }

    /// Indexes `attrs` with the positions found before for its key set (`Positions::of` of
    /// `attrs.keys()`, or of a list with the same keys), without a pass over its keys. Positions
    /// of other keys give those keys' answers for the known keys: callers find them per key set.
    pub fn with_positions(attrs: &'a Attributes, pos: Positions) -> Self {
        debug_assert_eq!(
            pos,
            Positions::of(attrs.keys()),
            "positions of another key set"
        );
        Indexed { attrs, pos: pos.0 }
    }

    /// The positions found, to index other lists of the same key set with
    /// [`Indexed::with_positions`].
    pub fn positions(&self) -> Positions {
        Positions(self.pos)
    }

    /// The list indexed.
    pub fn attrs(&self) -> &'a Attributes {
        self.attrs
    }
}

impl<'a> Indexed<'a> {
    /// [`Lookup::get`], borrowed for as long as the list (not only the index).
    #[inline]
    pub fn value(&self, key: &str) -> Option<Value<'a>> {
        match known(key) {
            Some(s) => match self.pos[s] {
                ABSENT => None,
                p => self.attrs.value_at(p as usize),
            },
            None => self.attrs.get(key),
        }
    }

    /// [`Lookup::first_str`], borrowed for as long as the list (not only the index).
    #[inline]
    pub fn first_str_of(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| {
            self.value(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
    }
}

impl Lookup for Indexed<'_> {
    #[inline]
    fn get(&self, key: &str) -> Option<Value<'_>> {
        self.value(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attrs::{AttrValue, KeyValue};

    fn list(pairs: &[(&str, AttrValue)]) -> Attributes {
        Attributes::new(
            pairs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: v.clone(),
                })
                .collect(),
            0,
        )
    }

    #[test]
    fn the_cache_indexes_as_a_fresh_index_and_holds_the_key_sets_it_keys_by() {
        use crate::model::attrs::AttrsBuilder;
        let keys = |ks: &[&str]| -> KeySet { ks.iter().map(|k| Text::from(*k)).collect() };
        let build = |ks: &KeySet, vals: &[&str]| {
            let mut b = AttrsBuilder::default();
            for v in vals {
                b.push_str_inline(v);
            }
            b.finish(ks.clone(), 0)
        };
        let a_keys = keys(&["http.request.method", "server.address", "url.full"]);
        let b_keys = keys(&["db.system", "server.address"]);
        let lists = [
            build(&a_keys, &["GET", "payments", "http://p/x"]),
            build(&b_keys, &["postgresql", "db1"]),
            build(&a_keys, &["POST", "orders", "http://o/y"]),
            Attributes::default(),
        ];
        let mut cache = PositionCache::default();
        for _ in 0..2 {
            for l in &lists {
                let (cached, fresh) = (cache.index(l), Indexed::new(l));
                assert_eq!(cached.positions(), fresh.positions());
                for k in KNOWN {
                    assert_eq!(cached.value(k), l.get(k), "{k}");
                }
            }
        }
        assert_eq!(cache.len(), 3, "one entry per key set");
        // The cache keeps each set alive: its address cannot be reused by another set.
        let count = std::sync::Arc::strong_count(&a_keys);
        drop(lists);
        assert_eq!(std::sync::Arc::strong_count(&a_keys), count - 2);
        assert!(
            std::sync::Arc::strong_count(&a_keys) >= 2,
            "held by the cache"
        );
    }

    #[test]
    fn every_known_key_is_found_where_it_is() {
        for (i, k) in KNOWN.iter().enumerate() {
            assert_eq!(known(k), Some(i), "{k}");
            assert_eq!(
                KNOWN.iter().position(|o| o == k),
                Some(i),
                "{k} listed twice"
            );
        }
        assert_eq!(known("http.request.method.x"), None);
        assert_eq!(known(""), None);
        // Near misses of every key: one byte changed anywhere, one more, one fewer.
        for k in KNOWN {
            let b = k.as_bytes();
            for at in 0..b.len() {
                let mut v = b.to_vec();
                v[at] = if v[at] == b'x' { b'y' } else { b'x' };
                let v = String::from_utf8(v).expect("ascii");
                assert_eq!(known(&v), KNOWN.iter().position(|o| *o == v), "{v}");
            }
            assert_eq!(known(&format!("{k}.")), None);
            assert_eq!(known(&k[1..]), KNOWN.iter().position(|o| *o == &k[1..]));
            assert_eq!(known(&k[..k.len() - 1]), None, "{k}");
        }
    }

    #[test]
    fn answers_as_the_list_does_for_known_unknown_repeated_and_absent_keys() {
        let a = list(&[
            ("custom.key", AttrValue::Str("c".into())),
            ("server.address", AttrValue::Str("payments".into())),
            ("server.port", AttrValue::Int(8080)),
            ("server.address", AttrValue::Str("second".into())),
            ("http.status_code", AttrValue::Str("503".into())),
            ("db.system", AttrValue::Str("".into())),
        ]);
        let ix = Indexed::new(&a);
        for k in KNOWN.iter().chain(&["custom.key", "nope", ""]) {
            assert_eq!(Lookup::get(&ix, k), a.get(k), "{k}");
            assert_eq!(Lookup::str(&ix, k), a.str(k), "{k}");
        }
        assert_eq!(
            Lookup::str(&ix, "server.address"),
            Some("payments"),
            "first wins"
        );
        assert_eq!(
            ix.first_i64(&["http.response.status_code", "http.status_code"]),
            Some(503)
        );
        assert_eq!(
            ix.first_str(&["db.system.name", "db.system"]),
            None,
            "empty is absent"
        );
        let again = Indexed::with_positions(&a, ix.positions());
        for k in KNOWN.iter().chain(&["custom.key", "nope", ""]) {
            assert_eq!(again.value(k), a.get(k), "{k}");
        }
        assert_eq!(
            again.first_str_of(&["nope", "db.system", "server.address"]),
            Some("payments")
        );
    }
}
