//! Dependency-key resolution for CLIENT and PRODUCER spans from their attributes.
//!
//! The strongest evidence, the `service.name` of the SERVER/CONSUMER child span, needs the whole
//! trace and is applied by the store; this module resolves what one span says about its peer,
//! reading both semantic-convention generations (see DESIGN.md, "Dependency of a call").

use super::attrs::Lookup;

/// What kind of thing a dependency is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DepKind {
    /// HTTP call.
    Http,
    /// RPC (gRPC, Thrift, ...).
    Rpc,
    /// Database client call.
    Db,
    /// Messaging (producer side, or a consumer's broker).
    Messaging,
    /// Anything else.
    Other,
}

impl DepKind {
    /// Lower-case name used in reports and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            DepKind::Http => "http",
            DepKind::Rpc => "rpc",
            DepKind::Db => "db",
            DepKind::Messaging => "messaging",
            DepKind::Other => "other",
        }
    }
}

/// A dependency as named by one span's own attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerName {
    /// Display name, e.g. `payments`, `postgresql orders-db/orders`, `kafka orders`.
    pub name: String,
    /// Kind of dependency.
    pub kind: DepKind,
    /// Which rule named it (for "why is this edge called that").
    pub source: &'static str,
}

const DB_SYSTEM: &[&str] = &["db.system.name", "db.system"];
const DB_NAMESPACE: &[&str] = &["db.namespace", "db.name"];
const MSG_DEST: &[&str] = &[
    "messaging.destination.name",
    "messaging.destination",
    "messaging.destination.template",
];
const RPC_SYSTEM: &[&str] = &["rpc.system.name", "rpc.system"];
const ADDRESS: &[&str] = &["server.address", "net.peer.name", "net.host.name"];
const PORT: &[&str] = &["server.port", "net.peer.port"];
const SOCK_ADDRESS: &[&str] = &["network.peer.address", "net.sock.peer.addr"];
const SOCK_PORT: &[&str] = &["network.peer.port", "net.sock.peer.port"];
const URL: &[&str] = &["url.full", "http.url"];

/// The kind of dependency the attributes describe.
pub fn kind_of(a: &impl Lookup) -> DepKind {
    if a.first_str(DB_SYSTEM).is_some() {
        DepKind::Db
    } else if a.str("messaging.system").is_some() {
        DepKind::Messaging
    } else if a.first_str(RPC_SYSTEM).is_some() || a.str("rpc.service").is_some() {
        DepKind::Rpc
    } else if a
        .first_str(&["http.request.method", "http.method", "url.full", "http.url"])
        .is_some()
    {
        DepKind::Http
    } else {
        DepKind::Other
    }
}

/// Names the peer of a CLIENT/PRODUCER span from its attributes, in DESIGN.md's order:
/// `service.peer.name`/`peer.service`, database, messaging, rpc, `server.address:port`,
/// socket peer address, host of `url.full`. `None` when nothing names it.
pub fn peer_name(a: &impl Lookup) -> Option<PeerName> {
    let mut name = String::new();
    let (kind, source) = peer_name_into(a, &mut name)?;
    Some(PeerName { name, kind, source })
}

/// [`peer_name`] written into `name` (cleared first; left empty when nothing names the peer):
/// the kind and which rule named it. The store names every call with it and reuses one buffer
/// (a `String` allocated and freed per call otherwise).
pub fn peer_name_into(a: &impl Lookup, name: &mut String) -> Option<(DepKind, &'static str)> {
    name.clear();
    let kind = kind_of(a);
    if let Some(p) = a.first_str(&["service.peer.name", "peer.service"]) {
        if let Some(ns) = a.str("service.peer.namespace") {
            name.push_str(ns);
            name.push('/');
        }
        name.push_str(p);
        return Some((kind, "peer.service"));
    }
    if let Some(system) = a.first_str(DB_SYSTEM) {
        name.push_str(system);
        let addr = a.first_str(ADDRESS);
        if let Some(addr) = addr {
            name.push(' ');
            name.push_str(addr);
        }
        if let Some(ns) = a.first_str(DB_NAMESPACE) {
            name.push(if addr.is_some() { '/' } else { ' ' });
            name.push_str(ns);
        }
        return Some((kind, "db"));
    }
    if let Some(system) = a.str("messaging.system") {
        name.push_str(system);
        if let Some(dest) = a.first_str(MSG_DEST) {
            name.push(' ');
            name.push_str(dest);
        } else {
            let at = name.len();
            name.push(' ');
            if !host_port_into(a, name) {
                name.truncate(at);
            }
        }
        return Some((kind, "messaging"));
    }
    if kind == DepKind::Rpc
        && let Some(service) = rpc_service(a)
    {
        name.push_str(service);
        return Some((kind, "rpc"));
    }
    if host_port_into(a, name) {
        return Some((kind, "server.address"));
    }
    if let Some(host) = a.first_str(URL).and_then(url_authority) {
        name.push_str(host);
        return Some((kind, "url.full"));
    }
    if let Some(host) = a.str("http.host") {
        name.push_str(host);
        return Some((kind, "http.host"));
    }
    None
}

/// The RPC service: `rpc.service` (older semconv), else the service part of a fully-qualified
/// `rpc.method` such as `pkg.Service/Method` (semconv ≥ 1.39).
fn rpc_service(a: &impl Lookup) -> Option<&str> {
    a.str("rpc.service").or_else(|| {
        a.str("rpc.method")
            .and_then(|m| {
                m.rsplit_once('/')
                    .map(|(svc, _)| svc.trim_start_matches('/'))
            })
            .filter(|s| !s.is_empty())
    })
}

/// `server.address[:port]`, falling back to the socket peer address, appended to `out`; false
/// (nothing appended) when neither is there.
fn host_port_into(a: &impl Lookup, out: &mut String) -> bool {
    let (host, port) = match a.first_str(ADDRESS) {
        Some(host) => (host, a.first_i64(PORT)),
        None => match a.first_str(SOCK_ADDRESS) {
            Some(host) => (host, a.first_i64(SOCK_PORT)),
            None => return false,
        },
    };
    out.push_str(host);
    if let Some(p) = port
        && p > 0
        && p != 80
        && p != 443
    {
        use std::fmt::Write;
        // Writing to a `String` cannot fail.
        let _ = write!(out, ":{p}");
    }
    true
}

/// The authority (`host[:port]`, userinfo removed, default ports dropped) of a URL.
fn url_authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let auth = auth
        .strip_suffix(":80")
        .or_else(|| auth.strip_suffix(":443"))
        .unwrap_or(auth);
    (!auth.is_empty()).then_some(auth)
}

/// The operation of a span for splitting an edge: `METHOD route`, the RPC method, the database
/// operation and collection, the messaging operation, else the span name.
pub fn operation(a: &impl Lookup, span_name: &str) -> String {
    let mut out = String::new();
    for part in operation_parts(a, span_name) {
        out.push_str(part);
    }
    out
}

/// [`operation`] as the parts it is the concatenation of, borrowed (no allocation: the store
/// hashes it for every call).
pub fn operation_parts<'a>(a: &'a impl Lookup, span_name: &'a str) -> [&'a str; 3] {
    if let Some(method) = a.first_str(&["http.request.method", "http.method"]) {
        if let Some(route) = a.first_str(&["url.template", "http.route"]) {
            return [method, " ", route];
        }
        return [span_name, "", ""];
    }
    if let Some(m) = a.str("rpc.method") {
        return [m, "", ""];
    }
    if let Some(op) = a.first_str(&["db.operation.name", "db.operation"]) {
        return match a.first_str(&["db.collection.name", "db.sql.table"]) {
            Some(c) => [op, " ", c],
            None => [op, "", ""],
        };
    }
    if let Some(op) = a.first_str(&["messaging.operation.type", "messaging.operation"]) {
        return [op, "", ""];
    }
    [span_name, "", ""]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attrs::{AttrValue, Attributes, KeyValue};

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        Attributes::new(
            pairs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: match v.parse::<i64>() {
                        Ok(i) => AttrValue::Int(i),
                        Err(_) => AttrValue::Str((*v).into()),
                    },
                })
                .collect(),
            0,
        )
    }

    fn name(pairs: &[(&str, &str)]) -> (String, DepKind) {
        let p = peer_name(&attrs(pairs)).expect("named");
        (p.name, p.kind)
    }

    #[test]
    fn peer_service_old_and_new() {
        assert_eq!(name(&[("peer.service", "billing")]).0, "billing");
        assert_eq!(
            name(&[("service.peer.name", "billing"), ("peer.service", "old")]).0,
            "billing"
        );
        assert_eq!(
            name(&[
                ("service.peer.name", "billing"),
                ("service.peer.namespace", "shop")
            ])
            .0,
            "shop/billing"
        );
    }

    #[test]
    fn database_both_generations() {
        let new = [
            ("db.system.name", "postgresql"),
            ("server.address", "orders-db"),
            ("server.port", "5432"),
            ("db.namespace", "orders"),
        ];
        assert_eq!(
            name(&new),
            ("postgresql orders-db/orders".into(), DepKind::Db)
        );
        let old = [
            ("db.system", "redis"),
            ("net.peer.name", "cache"),
            ("db.name", "db0"),
        ];
        assert_eq!(name(&old), ("redis cache/db0".into(), DepKind::Db));
        assert_eq!(
            name(&[("db.system", "sqlite"), ("db.name", "app.db")]).0,
            "sqlite app.db"
        );
    }

    #[test]
    fn messaging_and_rpc() {
        let m = [
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
        ];
        assert_eq!(name(&m), ("kafka orders".into(), DepKind::Messaging));
        let old_rpc = [
            ("rpc.system", "grpc"),
            ("rpc.service", "shop.Cart"),
            ("rpc.method", "Add"),
        ];
        assert_eq!(name(&old_rpc), ("shop.Cart".into(), DepKind::Rpc));
        let new_rpc = [("rpc.system.name", "grpc"), ("rpc.method", "shop.Cart/Add")];
        assert_eq!(name(&new_rpc), ("shop.Cart".into(), DepKind::Rpc));
    }

    #[test]
    fn one_buffer_names_call_after_call_as_fresh_names_do() {
        let cases: [&[(&str, &str)]; 6] = [
            &[
                ("messaging.system", "rabbitmq"),
                ("server.address", "mq"),
                ("server.port", "5672"),
            ],
            &[("messaging.system", "nats")],
            &[("db.system", "redis")],
            &[
                ("http.method", "GET"),
                ("net.peer.name", "inventory"),
                ("net.peer.port", "8080"),
            ],
            &[("foo", "bar")],
            &[("peer.service", "billing")],
        ];
        let mut buf = String::from("left over");
        for pairs in cases {
            let a = attrs(pairs);
            let into = peer_name_into(&a, &mut buf);
            match peer_name(&a) {
                Some(p) => assert_eq!(into, Some((p.kind, p.source)), "{pairs:?}"),
                None => assert_eq!(into, None, "{pairs:?}"),
            }
            assert_eq!(buf, peer_name(&a).map(|p| p.name).unwrap_or_default());
        }
        assert_eq!(name(cases[0]).0, "rabbitmq mq:5672");
        assert_eq!(name(cases[1]).0, "nats");
    }

    #[test]
    fn http_address_generations_and_url() {
        let new = [
            ("http.request.method", "GET"),
            ("server.address", "api.example.com"),
            ("server.port", "8443"),
        ];
        assert_eq!(name(&new), ("api.example.com:8443".into(), DepKind::Http));
        let old = [
            ("http.method", "GET"),
            ("net.peer.name", "inventory"),
            ("net.peer.port", "80"),
        ];
        assert_eq!(name(&old), ("inventory".into(), DepKind::Http));
        let url = [
            ("http.method", "GET"),
            ("http.url", "https://u:p@pay.example:443/v1?x=1"),
        ];
        assert_eq!(name(&url), ("pay.example".into(), DepKind::Http));
        let sock = [
            ("http.request.method", "GET"),
            ("network.peer.address", "10.1.2.3"),
        ];
        assert_eq!(name(&sock).0, "10.1.2.3");
        assert!(peer_name(&attrs(&[("foo", "bar")])).is_none());
    }

    #[test]
    fn operation_names() {
        let a = attrs(&[
            ("http.request.method", "GET"),
            ("url.template", "/users/{id}"),
        ]);
        assert_eq!(operation(&a, "GET"), "GET /users/{id}");
        let d = attrs(&[
            ("db.operation.name", "SELECT"),
            ("db.collection.name", "orders"),
        ]);
        assert_eq!(operation(&d, "x"), "SELECT orders");
        assert_eq!(operation(&attrs(&[]), "work"), "work");
    }
}
