//! Where each flag lives in the configuration file: its section and key.

use clap::Arg;

/// Where a flag lives in the file: a section (`None`: the top level) and a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// The section.
    pub section: Option<String>,
    /// The key.
    pub key: String,
}

impl std::fmt::Display for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.section {
            Some(s) => write!(f, "{s}.{}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// Top-level keys: options every command shares.
pub(super) const TOP: &[&str] = &["theme", "log_file", "rules", "profiles"];
/// `[receivers]`.
const RECEIVERS: &[&str] = &[
    "otlp_grpc",
    "otlp_http",
    "auth_token",
    "auth_token_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_client_ca_file",
];
/// `[store]`.
const STORE: &[&str] = &["retention", "max_spans", "max_logs"];
/// `[alerts]`: where live alerts go (also the section of `faultline alerts`' own flags).
const ALERTS: &[(&str, &str)] = &[
    ("alertmanager", "alertmanager"),
    ("alert_webhook", "webhook"),
];
/// Flags that are no key: they name the files themselves, or are `[[scrape]]` tables.
const NOT_IN_FILE: &[&str] = &["help", "version", "config", "sources", "scrape"];

/// The file key of flag `id` of subcommand `cmd` (`watch` for the top-level options).
pub fn file_key(cmd: &str, id: &str) -> Option<FileKey> {
    let k = |section: Option<&str>, key: &str| {
        Some(FileKey {
            section: section.map(str::to_owned),
            key: key.to_owned(),
        })
    };
    if NOT_IN_FILE.contains(&id) {
        None
    } else if TOP.contains(&id) {
        k(None, id)
    } else if RECEIVERS.contains(&id) {
        k(Some("receivers"), id)
    } else if STORE.contains(&id) {
        k(Some("store"), id)
    } else if let Some((_, key)) = ALERTS.iter().find(|(flag, _)| *flag == id) {
        k(Some("alerts"), key)
    } else if id == "prometheus" {
        k(Some("prometheus"), "url")
    } else if let Some(rest) = id.strip_prefix("prometheus_") {
        k(Some("prometheus"), rest)
    } else if let Some(rest) = id.strip_prefix("scrape_") {
        k(Some("scrape_defaults"), rest)
    } else {
        k(Some(cmd), id)
    }
}

/// Every flag that is a file key: (subcommand, the flag, its key), the top level first.
pub fn keyed_args(cmd: &clap::Command) -> Vec<(String, Arg, FileKey)> {
    let mut out = Vec::new();
    let mut add = |sub: &str, a: &Arg| {
        if a.is_positional() {
            return;
        }
        if let Some(k) = file_key(sub, a.get_id().as_str()) {
            out.push((sub.to_owned(), a.clone(), k));
        }
    };
    for a in cmd.get_arguments() {
        add("watch", a);
    }
    for sc in cmd.get_subcommands() {
        for a in sc.get_arguments() {
            add(sc.get_name(), a);
        }
    }
    out
}
