//! The network address a dependency name spells, so a metric series naming a server by its
//! address joins the traced edge of that server. Traced database edges are named
//! `<system> <host>[:<port>][/<namespace>]` (`model::dependency`: `db.system.name`|`db.system`,
//! then `server.address`|`net.peer.name`, the port only when the address carried it);
//! exporters name the instance they read as a URL or `host:port` (redis_exporter's
//! `redis://cache:6379`, memcached_exporter's `cache:11211`, the Collector's
//! `server.address`/`server.port`). A `host:port` without a scheme names its system by the
//! port when it is the system's registered one (6379 Redis, 11211 Memcached, 5432 PostgreSQL,
//! ...). Two addresses are one server when the hosts are equal (case-insensitive), the system
//! and the port are equal wherever both sides know them (the traced name drops the port, so an
//! unknown port matches any), and one of them is known on both sides: a bare `host:8080` (an
//! app's own scrape address) names no database.

/// A server address: the database system when the name says it, the host, the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The database system (`redis`, `postgresql`, ...), lower case, URL schemes mapped to
    /// OTel `db.system.name` values (`rediss` → `redis`, `postgres` → `postgresql`).
    pub system: Option<String>,
    /// The host, lower case.
    pub host: String,
    /// The port, when the name has one.
    pub port: Option<u16>,
}

impl Address {
    /// The address of a traced database edge's name (`redis cache`, `postgresql db:5432/orders`).
    pub fn of_edge(dep: &str) -> Option<Address> {
        let (system, rest) = dep.split_once(' ')?;
        let host_port = rest.split('/').next().unwrap_or(rest);
        let (host, port) = split_port(host_port);
        (!host.is_empty() && !system.is_empty()).then(|| Address {
            system: Some(system_of(system)),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The address a metric series' dependency label spells: a URL (`redis://user@cache:6379/0`)
    /// or `host:port`. A bare name (`cart-cache`) is no address.
    pub fn of_label(dep: &str) -> Option<Address> {
        let dep = dep.trim();
        let (system, rest) = match dep.split_once("://") {
            Some((scheme, rest)) => (Some(system_of(scheme)), rest),
            None => (None, dep),
        };
        if rest.contains(char::is_whitespace) {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = split_port(authority);
        let system = system.or_else(|| port.and_then(registered_system).map(str::to_string));
        // Without a scheme only `host:port` says it is an address.
        (!host.is_empty() && (system.is_some() || port.is_some())).then(|| Address {
            system,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether both name one server (see the module docs).
    pub fn matches(&self, other: &Address) -> bool {
        let systems = self.system.as_ref().zip(other.system.as_ref());
        let ports = self.port.zip(other.port);
        self.host == other.host
            && systems.is_none_or(|(a, b)| a == b)
            && ports.is_none_or(|(a, b)| a == b)
            && (systems.is_some() || ports.is_some())
    }
}

/// `host:port` → (host, port); `[v6]:port` keeps the brackets' content; no port → (all, None).
fn split_port(s: &str) -> (&str, Option<u16>) {
    if let Some(v6) = s.strip_prefix('[')
        && let Some((host, rest)) = v6.split_once(']')
    {
        return (host, rest.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (s, None),
        },
        _ => (s, None),
    }
}

/// The database system whose registered port this is.
fn registered_system(port: u16) -> Option<&'static str> {
    Some(match port {
        6379 => "redis",
        11211 => "memcached",
        5432 => "postgresql",
        3306 => "mysql",
        27017 => "mongodb",
        9042 => "cassandra",
        1433 => "microsoft.sql_server",
        _ => return None,
    })
}

/// A URL scheme or system name as an OTel `db.system.name` value.
fn system_of(s: &str) -> String {
    let s = s.to_ascii_lowercase();
    match s.as_str() {
        "rediss" | "redis+sentinel" | "redis-socket" => "redis".into(),
        "postgres" => "postgresql".into(),
        "mongodb+srv" => "mongodb".into(),
        "memcache" => "memcached".into(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(system: Option<&str>, host: &str, port: Option<u16>) -> Address {
        Address {
            system: system.map(str::to_string),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn edge_names_and_labels_parse() {
        assert_eq!(
            Address::of_edge("redis cache"),
            Some(addr(Some("redis"), "cache", None))
        );
        assert_eq!(
            Address::of_edge("postgresql DB-1:5432/orders"),
            Some(addr(Some("postgresql"), "db-1", Some(5432)))
        );
        assert_eq!(Address::of_edge("payments"), None);
        assert_eq!(
            Address::of_label("redis://:secret@Cache:6379/0"),
            Some(addr(Some("redis"), "cache", Some(6379)))
        );
        assert_eq!(
            Address::of_label("rediss://cache"),
            Some(addr(Some("redis"), "cache", None))
        );
        assert_eq!(
            Address::of_label("10.0.0.5:11211"),
            Some(addr(Some("memcached"), "10.0.0.5", Some(11211)))
        );
        assert_eq!(
            Address::of_label("[::1]:6380"),
            Some(addr(None, "::1", Some(6380)))
        );
        assert_eq!(Address::of_label("cart-cache"), None);
        assert_eq!(Address::of_label("redis cache"), None);
    }

    #[test]
    fn hosts_match_where_system_and_port_agree() {
        let edge = addr(Some("redis"), "cache", None);
        assert!(edge.matches(&addr(Some("redis"), "cache", Some(6379))));
        assert!(edge.matches(&Address::of_label("cache:6379").expect("address")));
        // Only the host in common: an app's own scrape address is no database.
        assert!(!edge.matches(&addr(None, "cache", Some(8080))));
        let ported = addr(Some("redis"), "cache", Some(6380));
        assert!(ported.matches(&addr(None, "cache", Some(6380))));
        assert!(!edge.matches(&addr(Some("memcached"), "cache", Some(11211))));
        assert!(!edge.matches(&addr(Some("redis"), "cache-2", Some(6379))));
        assert!(!ported.matches(&addr(Some("redis"), "cache", Some(6379))));
    }
}
