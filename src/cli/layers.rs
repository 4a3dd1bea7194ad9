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
//!
//! Here: the layer the files make and how it reaches clap; `keys` maps flags to file keys,
//! `check` checks a document against the flags, `values` turns a file value into flag texts.

mod check;
mod keys;
mod values;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, CommandFactory, FromArgMatches};

use super::{Cli, Command as Sub};
use crate::config::endpoint::ScrapeEntry;
use crate::config::{ConfigErrors, Document, Origin, locate};

pub use check::{check, check_file};
pub use keys::{FileKey, file_key, keyed_args};

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
