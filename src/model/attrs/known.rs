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

/// The position of `key` in [`KNOWN`].
#[inline]
fn known(key: &str) -> Option<usize> {
    Some(match key {
        "http.request.method" => 0,
        "http.method" => 1,
        "url.full" => 2,
        "http.url" => 3,
        "url.template" => 4,
        "http.route" => 5,
        "url.path" => 6,
        "http.target" => 7,
        "http.host" => 8,
        "db.system.name" => 9,
        "db.system" => 10,
        "db.namespace" => 11,
        "db.name" => 12,
        "db.operation.name" => 13,
        "db.operation" => 14,
        "db.collection.name" => 15,
        "db.sql.table" => 16,
        "db.query.text" => 17,
        "db.statement" => 18,
        "db.query.summary" => 19,
        "db.response.returned_rows" => 20,
        "messaging.system" => 21,
        "messaging.destination.name" => 22,
        "messaging.destination" => 23,
        "messaging.destination.template" => 24,
        "messaging.operation.type" => 25,
        "messaging.operation" => 26,
        "messaging.message.id" => 27,
        "rpc.system.name" => 28,
        "rpc.system" => 29,
        "rpc.service" => 30,
        "rpc.method" => 31,
        "rpc.grpc.status_code" => 32,
        "rpc.response.status_code" => 33,
        "server.address" => 34,
        "net.peer.name" => 35,
        "net.host.name" => 36,
        "server.port" => 37,
        "net.peer.port" => 38,
        "network.peer.address" => 39,
        "net.sock.peer.addr" => 40,
        "network.peer.port" => 41,
        "net.sock.peer.port" => 42,
        "service.peer.name" => 43,
        "peer.service" => 44,
        "service.peer.namespace" => 45,
        "http.response.status_code" => 46,
        "http.status_code" => 47,
        "http.request.resend_count" => 48,
        "http.resend_count" => 49,
        "response_flags" => 50,
        "envoy.response_flags" => 51,
        "error.type" => 52,
        "exception.type" => 53,
        "exception.message" => 54,
        "cache.hit" => 55,
        _ => return None,
    })
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
        }
        assert_eq!(known("http.request.method.x"), None);
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
