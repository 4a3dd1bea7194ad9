//! A file value as the command-line texts it stands for: the TOML type the flag takes, paths
//! resolved against the file's directory, each text checked with the flag's own parser.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};

use crate::config::{Node, Value, resolve};

/// The TOML type a flag's values take in the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Str,
}

/// The kind a flag takes: from its action, then its value parser's type.
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
pub(super) fn flag_texts(arg: &Arg, node: &Node, base: &Path) -> Result<Vec<String>, String> {
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
