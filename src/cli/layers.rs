//! The configuration layers: flags, then `FAULTLINE_*` environment variables, then the
//! configuration file, then built-in defaults.
//!
//! Every flag is a key of the file, named by [`file_key`]: `--x-y` is `x_y` in its section;
//! flags named after their section drop the prefix (`--prometheus-ca-file` is `ca_file` in
//! `[prometheus]`, `--prometheus` its `url`, `--scrape-interval` is `interval` in
//! `[scrape_defaults]`); the alert sinks are `alertmanager` and `webhook` in `[alerts]`;
//! command-specific flags live in the command's section (`[lint] format`).
//! The file's values are checked with the flags' own parsers (so a bad value names its line) and
//! then become the flags' defaults, which is what puts them below the environment and the flags
//! in clap's order. `[[scrape]]` tables (repeated, so no flag) are read by
//! [`config::endpoint`](crate::config::endpoint) and handed to the commands in
//! [`ReceiverArgs::scrape_targets`](super::ReceiverArgs).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};

use super::{Cli, Command as Sub};
use crate::config::endpoint::{ScrapeEntry, read_scrape_tables};
use crate::config::{ConfigError, ConfigErrors, Document, Node, Origin, Value, locate, resolve};

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
const TOP: &[&str] = &["theme", "log_file", "rules", "profiles"];
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

/// A value of the file for one flag: the flag texts it stands for, and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct FileValue {
    /// As command-line values (paths resolved against the file's directory).
    pub texts: Vec<String>,
    /// The file.
    pub file: PathBuf,
    /// The line.
    pub line: usize,
}

/// What the files gave: flag values by key, and the `[[scrape]]` targets.
#[derive(Clone, Debug, Default)]
pub struct FileLayer {
    /// Flag values by key.
    pub values: BTreeMap<FileKey, FileValue>,
    /// `[[scrape]]` tables, in file order.
    pub scrape: Vec<ScrapeEntry>,
    /// The configuration file and how it was found.
    pub source: Option<(PathBuf, Origin)>,
}

/// Checks a document against the command line definition: every problem, with its line.
/// `only` restricts the keys allowed at the top level (the `--sources` file).
pub fn check(
    doc: &Document,
    cmd: &clap::Command,
    only: Option<&[&str]>,
) -> Result<FileLayer, Vec<ConfigError>> {
    let keyed = keyed_args(cmd);
    let mut by_key: BTreeMap<&FileKey, &Arg> = BTreeMap::new();
    for (_, a, k) in &keyed {
        by_key.entry(k).or_insert(a);
    }
    let sections: Vec<&str> = by_key.keys().filter_map(|k| k.section.as_deref()).collect();
    let file = &doc.file;
    let base = doc.base_dir();
    let mut errors = Vec::new();
    let mut layer = FileLayer::default();
    for e in &doc.root {
        if only.is_some_and(|o| !o.contains(&e.key.as_str())) {
            errors.push(ConfigError::new(
                file,
                e.line,
                &e.key,
                format!(
                    "not allowed in a --sources file (it takes {})",
                    only.unwrap_or_default().join(", ")
                ),
            ));
            continue;
        }
        if e.key == "scrape" {
            layer.scrape = read_scrape_tables(file, base, &e.node, &mut errors);
            continue;
        }
        let top = FileKey {
            section: None,
            key: e.key.clone(),
        };
        if let Some(arg) = by_key.get(&top) {
            match flag_texts(arg, &e.node, base) {
                Ok(texts) => {
                    layer.values.insert(
                        top,
                        FileValue {
                            texts,
                            file: file.clone(),
                            line: e.line,
                        },
                    );
                }
                Err(m) => errors.push(ConfigError::new(file, e.line, &e.key, m)),
            }
            continue;
        }
        if !sections.contains(&e.key.as_str()) {
            errors.push(ConfigError::new(
                file,
                e.line,
                &e.key,
                unknown(&e.key, &by_key, None),
            ));
            continue;
        }
        let Value::Table(t) = &e.node.value else {
            errors.push(ConfigError::new(
                file,
                e.line,
                &e.key,
                format!(
                    "expected a [{}] table, found {}",
                    e.key,
                    e.node.value.type_name()
                ),
            ));
            continue;
        };
        for inner in t {
            let key = FileKey {
                section: Some(e.key.clone()),
                key: inner.key.clone(),
            };
            let name = key.to_string();
            match by_key.get(&key) {
                None => errors.push(ConfigError::new(
                    file,
                    inner.line,
                    &name,
                    unknown(&inner.key, &by_key, Some(&e.key)),
                )),
                Some(arg) => match flag_texts(arg, &inner.node, base) {
                    Ok(texts) => {
                        layer.values.insert(
                            key,
                            FileValue {
                                texts,
                                file: file.clone(),
                                line: inner.line,
                            },
                        );
                    }
                    Err(m) => errors.push(ConfigError::new(file, inner.line, &name, m)),
                },
            }
        }
    }
    if errors.is_empty() {
        Ok(layer)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// "unknown key", with the keys the section does take.
fn unknown(key: &str, by_key: &BTreeMap<&FileKey, &Arg>, section: Option<&str>) -> String {
    let mut keys: Vec<&str> = by_key
        .keys()
        .filter(|k| k.section.as_deref() == section)
        .map(|k| k.key.as_str())
        .collect();
    if section.is_none() {
        let mut secs: Vec<&str> = by_key.keys().filter_map(|k| k.section.as_deref()).collect();
        secs.dedup();
        keys.extend(secs);
        return format!(
            "unknown key {key:?} (the top level takes {}, the sections [{}] and [[scrape]] tables)",
            TOP.join(", "),
            keys.iter()
                .filter(|k| !TOP.contains(k))
                .copied()
                .collect::<Vec<_>>()
                .join("], [")
        );
    }
    keys.sort_unstable();
    format!(
        "unknown key {key:?} (this section takes {})",
        keys.join(", ")
    )
}

/// The TOML type a flag's values take in the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Str,
}

fn kind(arg: &Arg) -> Kind {
    let t = arg.get_value_parser().type_id();
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        Kind::Bool
    } else if t == std::any::TypeId::of::<u64>() || t == std::any::TypeId::of::<usize>() {
        Kind::Int
    } else {
        Kind::Str
    }
}

/// A scalar of the expected kind as flag text.
fn scalar(k: Kind, v: &Value) -> Result<String, String> {
    match (k, v) {
        (Kind::Bool, Value::Bool(b)) => Ok(b.to_string()),
        (Kind::Int, Value::Int(i)) => Ok(i.to_string()),
        (Kind::Str, Value::Str(s)) => Ok(s.clone()),
        (Kind::Bool, v) => Err(format!("expected true or false, found {}", v.type_name())),
        (Kind::Int, v) => Err(format!("expected an integer, found {}", v.type_name())),
        (Kind::Str, v) => Err(format!("expected a string, found {}", v.type_name())),
    }
}

/// The command-line texts a file value stands for, checked with the flag's own parser.
fn flag_texts(arg: &Arg, node: &Node, base: &Path) -> Result<Vec<String>, String> {
    let is_path = arg.get_value_parser().type_id() == std::any::TypeId::of::<PathBuf>();
    let is_headers = arg.get_id().as_str().ends_with("_headers");
    let k = kind(arg);
    if k == Kind::Bool {
        return scalar(k, &node.value).map(|t| vec![t]);
    }
    let texts: Vec<String> = match (arg.get_action(), &node.value) {
        (ArgAction::Append, Value::Table(_)) if is_headers => {
            crate::config::endpoint::headers(node)?
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect()
        }
        (ArgAction::Append, Value::Array(items)) => items
            .iter()
            .map(|n| scalar(k, &n.value))
            .collect::<Result<_, _>>()?,
        (_, v) => vec![scalar(k, v)?],
    };
    let texts: Vec<String> = if is_path {
        texts
            .iter()
            .map(|t| resolve(base, t).to_string_lossy().into_owned())
            .collect()
    } else {
        texts
    };
    for t in &texts {
        check_value(arg, t)?;
    }
    Ok(texts)
}

/// Runs the flag's parser on `text` alone.
fn check_value(arg: &Arg, text: &str) -> Result<(), String> {
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    let probe = arg
        .clone()
        .required(false)
        .global(false)
        .requires(clap::builder::Resettable::Reset)
        .conflicts_with(clap::builder::Resettable::Reset)
        .env(None::<&str>)
        .default_value(None::<&str>)
        .value_delimiter(None::<char>);
    let cmd = clap::Command::new("probe")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(probe);
    match cmd.try_get_matches_from([format!("--{long}={text}")]) {
        Ok(_) => Ok(()),
        Err(e) => Err(match std::error::Error::source(&e) {
            Some(src) => format!("invalid value {text:?}: {src}"),
            None => {
                let possible: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .map(|p| p.get_name().to_owned())
                    .collect();
                if possible.is_empty() {
                    let r = e.render().to_string();
                    r.lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                        .to_owned()
                } else {
                    format!("invalid value {text:?} (one of: {})", possible.join(", "))
                }
            }
        }),
    }
}

/// Gives every flag its file value as default (and hides secrets' defaults from `--help`).
pub fn apply(cmd: clap::Command, layer: &FileLayer) -> clap::Command {
    let set = |sub: &str, a: Arg| -> Arg {
        let Some(key) = file_key(sub, a.get_id().as_str()) else {
            return a;
        };
        if a.is_positional() {
            return a;
        }
        match layer.values.get(&key) {
            None => a,
            Some(v) => {
                let secret = crate::config::endpoint::SECRET_KEYS.contains(&key.key.as_str());
                a.default_values(
                    v.texts
                        .iter()
                        .map(|t| clap::builder::OsStr::from(t.clone())),
                )
                .required(false)
                .hide_default_value(secret)
            }
        }
    };
    cmd.mut_args(|a| set("watch", a)).mut_subcommands(|sc| {
        let name = sc.get_name().to_owned();
        sc.mut_args(|a| set(&name, a))
    })
}

/// Why the command line could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// clap's own error (usage, `--help`, `--version`): printed and exited by clap.
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// The configuration file has problems (one per line).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
}

/// The value of `--long FILE` / `--long=FILE` in `args` (before any `--`).
fn flag_value(args: &[OsString], long: &str) -> Option<PathBuf> {
    let flag = format!("--{long}");
    let eq = format!("--{long}=");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == flag {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix(&eq) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// Loads the configuration file (and a `--sources` file) for `args` and checks them.
pub fn load_layer(args: &[OsString], cmd: &clap::Command) -> Result<FileLayer, ConfigErrors> {
    let mut layer = FileLayer::default();
    if let Some((path, origin)) = locate(flag_value(args, "config").as_deref()) {
        let doc = Document::load(&path).map_err(ConfigErrors)?;
        layer = check(&doc, cmd, None).map_err(ConfigErrors)?;
        layer.source = Some((path, origin));
    }
    let sources = flag_value(args, "sources").or_else(|| {
        std::env::var_os("FAULTLINE_SOURCES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = sources {
        let doc = Document::load(&path).map_err(ConfigErrors)?;
        let more =
            check(&doc, cmd, Some(&["profiles", "prometheus", "scrape"])).map_err(ConfigErrors)?;
        layer.values.extend(more.values);
        layer.scrape.extend(more.scrape);
    }
    Ok(layer)
}

/// Commands that read no configuration (they inspect it, or print the CLI definition).
const NO_LAYERS: &[&str] = &["config", "completions", "man"];

/// Parses `args` (with the program name first) through every layer.
pub fn parse_from(args: Vec<OsString>) -> Result<(Cli, FileLayer), LayerError> {
    let plain = Cli::command().try_get_matches_from(&args);
    if let Ok(m) = &plain
        && m.subcommand_name().is_some_and(|n| NO_LAYERS.contains(&n))
    {
        return Ok((Cli::from_arg_matches(m)?, FileLayer::default()));
    }
    let (matches, layer) = matches_from(&args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let receivers = match &mut cli.command {
        Some(Sub::Watch(a)) => Some(&mut a.receivers),
        Some(Sub::Lint(a)) => Some(&mut a.receivers),
        Some(Sub::Record(a)) => Some(&mut a.receivers),
        Some(Sub::Demo(a)) => Some(&mut a.receivers),
        None => Some(&mut cli.watch.receivers),
        _ => None,
    };
    if let Some(r) = receivers {
        r.scrape_targets = layer.scrape.clone();
    }
    Ok((cli, layer))
}

/// clap's matches after every layer: each flag's values and where they came from (a file value
/// is a `DefaultValue`).
pub fn matches_from(args: &[OsString]) -> Result<(clap::ArgMatches, FileLayer), LayerError> {
    let layer = load_layer(args, &Cli::command())?;
    let m = apply(Cli::command(), &layer).try_get_matches_from(args)?;
    Ok((m, layer))
}

/// Checks a file for `faultline config check`: every problem, one per line.
pub fn check_file(path: &Path) -> Result<FileLayer, ConfigErrors> {
    let doc = Document::load(path).map_err(ConfigErrors)?;
    let mut layer = check(&doc, &Cli::command(), None).map_err(ConfigErrors)?;
    let mut errors = Vec::new();
    // Files the configuration names must be there (certificates, keys, secrets, rules).
    for (key, v) in &layer.values {
        if key.key.ends_with("_file") && !key.key.starts_with("log") {
            for t in &v.texts {
                if let Err(e) = std::fs::metadata(t) {
                    errors.push(ConfigError::new(
                        &v.file,
                        v.line,
                        &key.to_string(),
                        format!("{t}: {e}"),
                    ));
                }
            }
        }
    }
    for (i, s) in layer.scrape.iter().enumerate() {
        for (k, p) in [
            ("bearer_token_file", &s.spec.bearer_token_file),
            ("password_file", &s.spec.password_file),
            ("ca_file", &s.spec.ca_file),
            ("cert_file", &s.spec.cert_file),
            ("key_file", &s.spec.key_file),
        ] {
            if let Some(p) = p
                && let Err(e) = std::fs::metadata(p)
            {
                errors.push(ConfigError {
                    file: path.to_path_buf(),
                    line: s
                        .at
                        .rsplit(':')
                        .next()
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0),
                    key: format!("scrape[{i}].{k}"),
                    message: format!("{}: {e}", p.display()),
                });
            }
        }
    }
    if errors.is_empty() {
        layer.source = Some((path.to_path_buf(), Origin::Flag));
        Ok(layer)
    } else {
        Err(ConfigErrors(errors))
    }
}
