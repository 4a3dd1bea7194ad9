//! `faultline config check|print`, `faultline completions SHELL` and `faultline man`: what the
//! command line definition and the configuration layers can say about themselves.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::{Arg, ArgAction, CommandFactory};

use super::layers::{FileKey, FileLayer, check_file, keyed_args, load_layer};
use super::{Cli, ConfigAction};
use crate::config::endpoint::{EndpointSpec, SECRET_KEYS};
use crate::config::{ConfigErrors, locate, xdg_path};

const MASK: &str = "********";

/// Runs `faultline config ACTION`; the text to print.
pub fn config(action: &ConfigAction) -> Result<String, ConfigErrors> {
    match action {
        ConfigAction::Check { file } => {
            let path = match file {
                Some(f) => f.clone(),
                None => match locate(None) {
                    Some((p, _)) => p,
                    None => {
                        return Err(ConfigErrors(vec![crate::config::ConfigError::new(
                            &xdg_path().unwrap_or_default(),
                            0,
                            "",
                            "no configuration file (give one, or set $FAULTLINE_CONFIG)",
                        )]));
                    }
                },
            };
            let layer = check_file(&path)?;
            Ok(format!(
                "{}: OK ({} settings, {} scrape targets)\n",
                path.display(),
                layer.values.len(),
                layer.scrape.len()
            ))
        }
        ConfigAction::Print => {
            let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
            let layer = load_layer(&args, &Cli::command())?;
            Ok(effective(&layer))
        }
    }
}

/// Where a value came from.
enum From {
    Env(String),
    File(String),
    Default,
}

/// The effective configuration as TOML: every key, its value (secrets masked) and its origin.
pub fn effective(layer: &FileLayer) -> String {
    let cmd = Cli::command();
    let mut keys: BTreeMap<(u8, FileKey), Arg> = BTreeMap::new();
    for (_, arg, key) in keyed_args(&cmd) {
        keys.entry((section_order(key.section.as_deref()), key))
            .or_insert(arg);
    }
    let mut out = String::new();
    match &layer.source {
        Some((p, origin)) => {
            let _ = writeln!(out, "# configuration file: {} (from {origin})", p.display());
        }
        None => {
            let _ = writeln!(
                out,
                "# no configuration file (--config, $FAULTLINE_CONFIG, {})",
                xdg_path().map_or("~/.config/faultline/config.toml".into(), |p| p
                    .display()
                    .to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "# precedence: flags > environment > file > defaults; flags are not shown\n"
    );
    let mut section: Option<Option<String>> = None;
    for ((_, key), arg) in &keys {
        if section.as_ref() != Some(&key.section) {
            if let Some(s) = &key.section {
                let _ = writeln!(out, "\n[{s}]");
            }
            section = Some(key.section.clone());
        }
        let secret = SECRET_KEYS.contains(&key.key.as_str());
        let env = arg
            .get_env()
            .and_then(|name| {
                Some((
                    name.to_string_lossy().into_owned(),
                    std::env::var(name).ok()?,
                ))
            })
            .filter(|(_, v)| !v.is_empty());
        let (texts, from) = if let Some((name, v)) = env {
            let texts = match arg.get_value_delimiter() {
                Some(d) => v.split(d).map(str::to_owned).collect(),
                None => vec![v],
            };
            (texts, From::Env(name))
        } else if let Some(v) = layer.values.get(key) {
            (
                v.texts.clone(),
                From::File(format!("{}:{}", v.file.display(), v.line)),
            )
        } else {
            (
                arg.get_default_values()
                    .iter()
                    .map(|d| d.to_string_lossy().into_owned())
                    .collect(),
                From::Default,
            )
        };
        let origin = match from {
            From::Env(n) => format!("env {n}"),
            From::File(at) => at,
            From::Default => "default".into(),
        };
        if texts.is_empty() {
            let _ = writeln!(out, "# {} = (not set)", key.key);
            continue;
        }
        let value = if secret {
            format!("\"{MASK}\"")
        } else {
            toml_value(arg, &key.key, &texts)
        };
        let _ = writeln!(out, "{} = {value}  # {origin}", key.key);
    }
    for s in &layer.scrape {
        let _ = writeln!(out, "\n[[scrape]]  # {}", s.at);
        let _ = writeln!(out, "url = {}", quote(&s.url));
        if let Some(j) = &s.job {
            let _ = writeln!(out, "job = {}", quote(j));
        }
        endpoint(&mut out, &s.spec);
    }
    out
}

fn endpoint(out: &mut String, s: &EndpointSpec) {
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    let dur = |d: std::time::Duration| quote(&humantime::format_duration(d).to_string());
    let path = |p: &std::path::PathBuf| quote(&p.display().to_string());
    if let Some(d) = s.interval {
        line("interval", dur(d));
    }
    if let Some(d) = s.timeout {
        line("timeout", dur(d));
    }
    if s.bearer_token.is_some() {
        line("bearer_token", quote(MASK));
    }
    if let Some(p) = &s.bearer_token_file {
        line("bearer_token_file", path(p));
    }
    if let Some(u) = &s.username {
        line("username", quote(u));
    }
    if s.password.is_some() {
        line("password", quote(MASK));
    }
    for (k, p) in [
        ("password_file", &s.password_file),
        ("ca_file", &s.ca_file),
        ("cert_file", &s.cert_file),
        ("key_file", &s.key_file),
    ] {
        if let Some(p) = p {
            line(k, path(p));
        }
    }
    if let Some(b) = s.insecure_skip_verify {
        line("insecure_skip_verify", b.to_string());
    }
    if !s.headers.is_empty() {
        let h: Vec<String> = s
            .headers
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        line("headers", format!("{{ {} }}", h.join(", ")));
    }
}

/// Sections in the order a reader expects: the top level, then the shared sections, then the
/// commands'.
fn section_order(s: Option<&str>) -> u8 {
    match s {
        None => 0,
        Some("receivers") => 1,
        Some("store") => 2,
        Some("scrape_defaults") => 3,
        Some("prometheus") => 4,
        Some(_) => 5,
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A flag's values as a TOML value of the file's type.
fn toml_value(arg: &Arg, key: &str, texts: &[String]) -> String {
    let bare = |t: &str| {
        let numeric = arg.get_value_parser().type_id() == std::any::TypeId::of::<u64>()
            || arg.get_value_parser().type_id() == std::any::TypeId::of::<usize>();
        if numeric || matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
            t.to_owned()
        } else {
            quote(t)
        }
    };
    match arg.get_action() {
        ArgAction::Append if key == "headers" => {
            let h: Vec<String> = texts
                .iter()
                .filter_map(|t| t.split_once(':'))
                .map(|(k, v)| format!("{} = {}", quote(k.trim()), quote(v.trim())))
                .collect();
            format!("{{ {} }}", h.join(", "))
        }
        ArgAction::Append => {
            let v: Vec<String> = texts.iter().map(|t| bare(t)).collect();
            format!("[{}]", v.join(", "))
        }
        _ => bare(&texts[0]),
    }
}

/// `faultline completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "faultline", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `faultline man`: the page of `faultline` and, after it, one section per subcommand.
pub fn man() -> Result<Vec<u8>, std::io::Error> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    for sc in cmd.get_subcommands() {
        if sc.get_name() == "help" {
            continue;
        }
        let name = format!("faultline-{}", sc.get_name());
        let sc = sc.clone().name(name.clone()).bin_name(name);
        clap_mangen::Man::new(sc).render(&mut buf)?;
    }
    Ok(buf)
}
