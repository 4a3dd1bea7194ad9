//! The configuration file: where it is found, its TOML read into located values (`tree`), and
//! the per-endpoint tables (`endpoint`: `[[scrape]]`, `[prometheus]`). Which keys exist and what
//! they mean comes from the command line definition: `cli::layers` checks a file against it and
//! turns its values into the flags' defaults (precedence: flags, then environment, then file,
//! then built-in defaults). Nothing here knows clap.
//!
//! Extension point: a new section (alerts, say) is a new group of flags with its section in
//! `cli::layers::file_key`, or, for repeated tables like `[[scrape]]`, a reader like `endpoint`.

pub mod endpoint;
pub mod tree;

use std::path::{Path, PathBuf};

pub use tree::{Document, Entry, Node, Table, Value};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "FAULTLINE_CONFIG";

/// One problem in a configuration file, naming the file, the line and the key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}{}{}{message}", file.display(), if *line > 0 { format!(":{line}") } else { String::new() }, if key.is_empty() { ": ".to_owned() } else { format!(": {key}: ") })]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// The key, dotted (`prometheus.interval`, `scrape[1].url`); empty for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem at `line` with `key`.
    pub fn new(file: &Path, line: usize, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Every problem of a file, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Where the configuration file came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--config FILE`.
    Flag,
    /// `$FAULTLINE_CONFIG`.
    Env,
    /// `$XDG_CONFIG_HOME/faultline/config.toml` or `~/.config/faultline/config.toml`.
    Xdg,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Flag => "--config",
            Origin::Env => "$FAULTLINE_CONFIG",
            Origin::Xdg => "the XDG config path",
        })
    }
}

/// The XDG path of the configuration file (whether or not it exists).
pub fn xdg_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("faultline").join("config.toml"))
}

/// Finds the configuration file: `flag`, else `$FAULTLINE_CONFIG`, else the XDG path when that
/// file exists. A file named by the flag or the variable must exist (reading it reports it).
pub fn locate(flag: Option<&Path>) -> Option<(PathBuf, Origin)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), Origin::Flag));
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(p), Origin::Env));
    }
    xdg_path().filter(|p| p.is_file()).map(|p| (p, Origin::Xdg))
}

/// Resolves a path from a file against the file's directory (absolute paths stay).
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        // `./rules` next to the file is `DIR/rules`, not `DIR/./rules`.
        let rel: PathBuf = p
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        base.join(rel)
    }
}
