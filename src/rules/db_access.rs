//! What a database call does and where it goes, read from its span's attributes for the
//! database audits (DB-001, DB-002): whether it reads or writes (the operation name of either
//! semantic-convention generation, `db.query.summary`, the statement's leading verb, Redis and
//! MongoDB commands), the server endpoint (`server.address`/`net.peer.name` + port) and the
//! client's local socket port.

use crate::model::attrs::Lookup;

/// Whether a call reads, writes, or neither (transaction control, session settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A read a replica can serve.
    Read,
    /// A write, DDL or locking read: the primary's.
    Write,
    /// Neither (BEGIN, COMMIT, SET, unknown).
    Other,
}

const READS: &[&str] = &[
    // SQL
    "SELECT",
    "SHOW",
    "VALUES",
    "TABLE",
    "EXPLAIN",
    // Redis
    "GET",
    "MGET",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "EXISTS",
    "SCAN",
    "KEYS",
    "TTL",
    "PTTL",
    "TYPE",
    "STRLEN",
    "GETRANGE",
    "SMEMBERS",
    "SISMEMBER",
    "SCARD",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGE",
    "ZSCORE",
    "ZCARD",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "XRANGE",
    "XREAD",
    // MongoDB
    "FIND",
    "FINDONE",
    "AGGREGATE",
    "COUNT",
    "COUNTDOCUMENTS",
    "ESTIMATEDDOCUMENTCOUNT",
    "DISTINCT",
    // DynamoDB
    "GETITEM",
    "BATCHGETITEM",
    "QUERY",
];

const WRITES: &[&str] = &[
    // SQL (DDL and DCL run on the primary too)
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    // Redis
    "SET",
    "SETEX",
    "SETNX",
    "PSETEX",
    "MSET",
    "GETSET",
    "GETDEL",
    "DEL",
    "UNLINK",
    "HSET",
    "HMSET",
    "HDEL",
    "HINCRBY",
    "INCR",
    "INCRBY",
    "DECR",
    "DECRBY",
    "APPEND",
    "EXPIRE",
    "PEXPIRE",
    "PERSIST",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "SREM",
    "SPOP",
    "ZADD",
    "ZREM",
    "ZINCRBY",
    "XADD",
    // MongoDB
    "INSERTONE",
    "INSERTMANY",
    "UPDATEONE",
    "UPDATEMANY",
    "DELETEONE",
    "DELETEMANY",
    "REPLACEONE",
    "FINDANDMODIFY",
    "FINDONEANDUPDATE",
    "FINDONEANDDELETE",
    "FINDONEANDREPLACE",
    "BULKWRITE",
    // DynamoDB
    "PUTITEM",
    "UPDATEITEM",
    "DELETEITEM",
    "BATCHWRITEITEM",
    "TRANSACTWRITEITEMS",
];

/// Classifies one verb or command (any case).
pub fn verb(word: &str) -> Access {
    // The lists are ASCII upper case: comparing ignoring ASCII case is comparing upper-cased
    // words, without the copy (this runs for every database call).
    let w = word.trim();
    if READS.iter().any(|r| r.eq_ignore_ascii_case(w)) {
        Access::Read
    } else if WRITES.iter().any(|r| r.eq_ignore_ascii_case(w)) {
        Access::Write
    } else {
        Access::Other
    }
}

/// Whether the statement says `for update`, `for share`, `for no key update` or `for key share`
/// in any ASCII case (what `s.to_ascii_lowercase().contains(..)` of each says), in one pass that
/// only compares where an `f` is, without a lower-cased copy: this runs for every SELECT.
fn locks_rows(s: &str) -> bool {
    const LOCKS: [&[u8]; 4] = [
        b"for update",
        b"for share",
        b"for no key update",
        b"for key share",
    ];
    let b = s.as_bytes();
    (0..b.len()).filter(|&i| b[i] | 0x20 == b'f').any(|i| {
        LOCKS
            .iter()
            .any(|k| b.len() - i >= k.len() && b[i..i + k.len()].eq_ignore_ascii_case(k))
    })
}

/// Skips leading whitespace, `--` line comments, `/* */` block comments and `(`.
fn skip_noise(mut s: &str) -> &str {
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// Classifies a statement by its leading verb: a `WITH` query writes when any of its words is
/// a data-changing verb, and `SELECT … FOR UPDATE/SHARE` locks rows, so it needs the primary.
pub fn statement(text: &str) -> Access {
    let s = skip_noise(text);
    let Some(first) = words(s).next() else {
        return Access::Other;
    };
    // Compared ignoring ASCII case, without an upper-cased copy (this runs for every database
    // call): `verb` ignores case too.
    if first.eq_ignore_ascii_case("WITH") {
        let writes = words(s).any(|w| {
            ["INSERT", "UPDATE", "DELETE", "MERGE"]
                .iter()
                .any(|v| v.eq_ignore_ascii_case(w))
        });
        return if writes { Access::Write } else { Access::Read };
    }
    let a = verb(first);
    if a == Access::Read && first.eq_ignore_ascii_case("SELECT") && locks_rows(s) {
        return Access::Write;
    }
    a
}

/// How a database call accesses its data: the operation name (`db.operation.name`, then
/// `db.operation`), then the first word of `db.query.summary`, then the statement
/// (`db.query.text`, `db.statement`), then the span name's first word.
pub fn access(a: &impl Lookup, span_name: &str) -> Access {
    let text = a.first_str(&["db.query.text", "db.statement"]);
    if let Some(op) = a.first_str(&["db.operation.name", "db.operation"]) {
        let v = verb(op);
        // A locking SELECT is named SELECT but writes.
        if v == Access::Read
            && let Some(t) = text
        {
            return statement(t);
        }
        if v != Access::Other {
            return v;
        }
    }
    if let Some(v) = a
        .str("db.query.summary")
        .and_then(|s| words(s).next())
        .map(verb)
        .filter(|v| *v != Access::Other)
    {
        return v;
    }
    if let Some(t) = text {
        return statement(t);
    }
    words(span_name).next().map_or(Access::Other, verb)
}

fn port(a: &impl Lookup, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| {
        a.get(k).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    })
}

/// The server endpoint `address[:port]` (`server.address`/`net.peer.name`, else the socket
/// peer address), or `None` when the span names no server.
pub fn endpoint(a: &impl Lookup) -> Option<String> {
    let (host, port) = if let Some(h) = a.first_str(&["server.address", "net.peer.name"]) {
        (h, port(a, &["server.port", "net.peer.port"]))
    } else {
        let h = a.first_str(&["network.peer.address", "net.sock.peer.addr"])?;
        (h, port(a, &["network.peer.port", "net.sock.peer.port"]))
    };
    Some(match port {
        Some(p) if p > 0 => format!("{host}:{p}"),
        _ => host.to_string(),
    })
}

/// The logical database: (`db.system.name`/`db.system`, `db.namespace`/`db.name`).
pub fn database<L: Lookup>(a: &L) -> (&str, &str) {
    (
        a.first_str(&["db.system.name", "db.system"])
            .unwrap_or("db"),
        a.first_str(&["db.namespace", "db.name"]).unwrap_or(""),
    )
}

/// The client's local socket port (`network.local.port`, `client.port`, `net.sock.host.port`).
pub fn local_port(a: &impl Lookup) -> Option<i64> {
    port(
        a,
        &["network.local.port", "client.port", "net.sock.host.port"],
    )
    .filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        assert_eq!(statement("SELECT 1"), Access::Read);
        assert_eq!(
            statement("/* app */ -- x\n  (select * from t)"),
            Access::Read
        );
        assert_eq!(statement("select * from t for update"), Access::Write);
        assert_eq!(
            statement("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"),
            Access::Write
        );
        assert_eq!(
            statement("with x as (select 1) select * from x"),
            Access::Read
        );
        assert_eq!(statement("insert into t values (1)"), Access::Write);
        assert_eq!(statement("BEGIN"), Access::Other);
        assert_eq!(statement(""), Access::Other);
        assert_eq!(verb("hgetall"), Access::Read);
        assert_eq!(verb("findOneAndUpdate"), Access::Write);
        assert_eq!(verb("PutItem"), Access::Write);
        assert_eq!(verb(" select\n"), Access::Read);
        assert_eq!(verb("SELECTX"), Access::Other);
        assert_eq!(statement("SeLeCt a FROM t FoR  UPDATE"), Access::Read);
        assert_eq!(
            statement("SeLeCt a FROM t FoR No KeY UpDaTe"),
            Access::Write
        );
        assert_eq!(statement("select 'é' from t for share"), Access::Write);
        assert_eq!(statement("SELECT f FROM t FOR KEY SHARE"), Access::Write);
        assert_eq!(statement("select * from f"), Access::Read);
        assert_eq!(statement("select * from t for updat"), Access::Read);
        assert_eq!(
            statement("With x AS (select 1) Insert into t select * from x"),
            Access::Write
        );
    }
}
