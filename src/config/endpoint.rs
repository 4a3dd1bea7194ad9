//! How to reach one metric source: the keys a `[[scrape]]` table may hold (and what the
//! `--scrape-*` / `--prometheus-*` flags give for every target), read with their lines, merged
//! over the defaults, and resolved into `ingest`'s [`ClientSettings`] (secret files read).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigError, Entry, Node, Value, resolve};
use crate::ingest::http_client::{Auth, ClientSettings, ClientTls};

/// The settings of one endpoint; `None` means "the default" (the flags', then the built-in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointSpec {
    /// Time between scrapes (queries).
    pub interval: Option<Duration>,
    /// Longest one request may take.
    pub timeout: Option<Duration>,
    /// `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// A file holding the bearer token (read at start).
    pub bearer_token_file: Option<PathBuf>,
    /// Basic auth user.
    pub username: Option<String>,
    /// Basic auth password.
    pub password: Option<String>,
    /// A file holding the basic auth password (read at start).
    pub password_file: Option<PathBuf>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// CA bundle to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (mTLS).
    pub cert_file: Option<PathBuf>,
    /// Client key (mTLS).
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (warned on every use).
    pub insecure_skip_verify: Option<bool>,
}

/// The keys of [`EndpointSpec`], as a `[[scrape]]` table and `[scrape_defaults]` spell them.
pub const ENDPOINT_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "bearer_token",
    "bearer_token_file",
    "username",
    "password",
    "password_file",
    "headers",
    "ca_file",
    "cert_file",
    "key_file",
    "insecure_skip_verify",
];

/// Keys whose values are secrets (masked by `config print`).
pub const SECRET_KEYS: &[&str] = &["bearer_token", "password", "auth_token"];

/// One `[[scrape]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeEntry {
    /// The target URL (`url`).
    pub url: String,
    /// Its job name (`job`; default: the URL's `host:port`).
    pub job: Option<String>,
    /// Its settings over the `[scrape_defaults]`.
    pub spec: EndpointSpec,
    /// `FILE:LINE` of the table, for messages.
    pub at: String,
}

impl EndpointSpec {
    /// `self`, with what it leaves unset taken from `defaults`; headers merge (self's win).
    pub fn over(&self, defaults: &EndpointSpec) -> EndpointSpec {
        let mut headers = defaults.headers.clone();
        for (k, v) in &self.headers {
            headers.retain(|(dk, _)| !dk.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        // Credentials are one setting: any credential key here replaces all of the defaults'.
        let own = self.bearer_token.is_some()
            || self.bearer_token_file.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.password_file.is_some();
        let creds = if own { self } else { defaults };
        EndpointSpec {
            interval: self.interval.or(defaults.interval),
            timeout: self.timeout.or(defaults.timeout),
            bearer_token: creds.bearer_token.clone(),
            bearer_token_file: creds.bearer_token_file.clone(),
            username: creds.username.clone(),
            password: creds.password.clone(),
            password_file: creds.password_file.clone(),
            headers,
            ca_file: self.ca_file.clone().or_else(|| defaults.ca_file.clone()),
            cert_file: self
                .cert_file
                .clone()
                .or_else(|| defaults.cert_file.clone()),
            key_file: self.key_file.clone().or_else(|| defaults.key_file.clone()),
            insecure_skip_verify: self.insecure_skip_verify.or(defaults.insecure_skip_verify),
        }
    }

    /// The client settings, secret files read. `what` names the source in messages.
    pub fn client(&self, what: &str) -> Result<ClientSettings, String> {
        let read = |key: &str, f: &Path| {
            std::fs::read_to_string(f)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("{what}: {key} {}: {e}", f.display()))
        };
        let bearer = match (&self.bearer_token, &self.bearer_token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => Some(read("bearer_token_file", f)?),
            (None, None) => None,
        };
        let password = match (&self.password, &self.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(f)) => Some(read("password_file", f)?),
            (None, None) => None,
        };
        let auth = match (bearer, &self.username, password) {
            (Some(_), Some(_), _) => {
                return Err(format!(
                    "{what}: a bearer token and basic auth (username) are both set; use one"
                ));
            }
            (Some(t), None, None) => Some(Auth::Bearer(t)),
            (Some(_), None, Some(_)) => {
                return Err(format!("{what}: password is set without username"));
            }
            (None, Some(u), p) => Some(Auth::Basic {
                username: u.clone(),
                password: p.unwrap_or_default(),
            }),
            (None, None, Some(_)) => {
                return Err(format!("{what}: password is set without username"));
            }
            (None, None, None) => None,
        };
        let insecure = self.insecure_skip_verify.unwrap_or(false);
        if insecure {
            eprintln!(
                "faultline: warning: {what}: insecure_skip_verify is on: the server's certificate is NOT verified"
            );
        }
        Ok(ClientSettings {
            tls: ClientTls {
                ca_file: self.ca_file.clone(),
                cert_file: self.cert_file.clone(),
                key_file: self.key_file.clone(),
                insecure_skip_verify: insecure,
            },
            auth,
            headers: self.headers.clone(),
        })
    }
}

/// Parses `Name: value` (a `--*-header` flag) into a header pair.
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("invalid header {s:?}: expected \"Name: value\"")),
    }
}

/// Reads the `[[scrape]]` array of a file: one entry per table, every problem reported.
pub fn read_scrape_tables(
    file: &Path,
    base: &Path,
    node: &Node,
    errors: &mut Vec<ConfigError>,
) -> Vec<ScrapeEntry> {
    let Value::Array(items) = &node.value else {
        errors.push(ConfigError::new(
            file,
            node.line,
            "scrape",
            format!(
                "expected [[scrape]] tables, found {}",
                node.value.type_name()
            ),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = format!("scrape[{i}]");
        let Value::Table(t) = &item.value else {
            errors.push(ConfigError::new(
                file,
                item.line,
                &name,
                format!("expected a table, found {}", item.value.type_name()),
            ));
            continue;
        };
        let before = errors.len();
        let mut url = None;
        let mut job = None;
        let mut spec = EndpointSpec::default();
        for e in t {
            let key = format!("{name}.{}", e.key);
            let mut bad = |msg: String| errors.push(ConfigError::new(file, e.line, &key, msg));
            match e.key.as_str() {
                "url" => match string(e) {
                    Ok(s) => match reqwest::Url::parse(&s) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") => url = Some(s),
                        Ok(u) => bad(format!("scheme {:?}: use http or https", u.scheme())),
                        Err(err) => bad(format!("invalid URL {s:?}: {err}")),
                    },
                    Err(m) => bad(m),
                },
                "job" => match string(e) {
                    Ok(s) => job = Some(s),
                    Err(m) => bad(m),
                },
                other => {
                    if let Err(m) = set_endpoint_key(&mut spec, other, e, base) {
                        bad(m)
                    }
                }
            }
        }
        let at = format!("{}:{}", file.display(), item.line);
        match url {
            Some(url) if errors.len() == before => out.push(ScrapeEntry { url, job, spec, at }),
            Some(_) => {}
            None if t.iter().any(|e| e.key == "url") => {}
            None => errors.push(ConfigError::new(
                file,
                item.line,
                &name,
                "no url (every [[scrape]] table needs one)",
            )),
        }
    }
    out
}

/// Sets one endpoint key from a file entry; the message names what is wrong.
fn set_endpoint_key(
    spec: &mut EndpointSpec,
    key: &str,
    e: &Entry,
    base: &Path,
) -> Result<(), String> {
    match key {
        "interval" => spec.interval = Some(duration(e)?),
        "timeout" => spec.timeout = Some(duration(e)?),
        "bearer_token" => spec.bearer_token = Some(string(e)?),
        "bearer_token_file" => spec.bearer_token_file = Some(resolve(base, &string(e)?)),
        "username" => spec.username = Some(string(e)?),
        "password" => spec.password = Some(string(e)?),
        "password_file" => spec.password_file = Some(resolve(base, &string(e)?)),
        "ca_file" => spec.ca_file = Some(resolve(base, &string(e)?)),
        "cert_file" => spec.cert_file = Some(resolve(base, &string(e)?)),
        "key_file" => spec.key_file = Some(resolve(base, &string(e)?)),
        "insecure_skip_verify" => match e.node.value {
            Value::Bool(b) => spec.insecure_skip_verify = Some(b),
            ref v => return Err(format!("expected true or false, found {}", v.type_name())),
        },
        "headers" => spec.headers = headers(&e.node)?,
        _ => {
            return Err(format!(
                "unknown key (a [[scrape]] table takes url, job, {})",
                ENDPOINT_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

fn string(e: &Entry) -> Result<String, String> {
    match &e.node.value {
        Value::Str(s) => Ok(s.clone()),
        v => Err(format!("expected a string, found {}", v.type_name())),
    }
}

fn duration(e: &Entry) -> Result<Duration, String> {
    let s = string(e)?;
    humantime::parse_duration(&s).map_err(|err| format!("invalid duration {s:?}: {err}"))
}

/// A `headers = { Name = "value" }` table (or an array of `"Name: value"` strings).
pub fn headers(node: &Node) -> Result<Vec<(String, String)>, String> {
    match &node.value {
        Value::Table(t) => t
            .iter()
            .map(|h| match &h.node.value {
                Value::Str(v) => Ok((h.key.clone(), v.clone())),
                v => Err(format!(
                    "header {}: expected a string, found {}",
                    h.key,
                    v.type_name()
                )),
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|n| match &n.value {
                Value::Str(s) => parse_header(s),
                v => Err(format!("expected \"Name: value\", found {}", v.type_name())),
            })
            .collect(),
        v => Err(format!(
            "expected a table {{ Name = \"value\" }}, found {}",
            v.type_name()
        )),
    }
}
