//! Checking a configuration document against the command line definition (every key known,
//! every value valid, every problem with its line), and `faultline config check`'s checks of the
//! files a configuration names.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Arg, CommandFactory};

use super::keys::{FileKey, TOP, keyed_args};
use super::values::flag_texts;
use super::{FileLayer, FileValue};
use crate::cli::Cli;
use crate::config::endpoint::read_scrape_tables;
use crate::config::{ConfigError, ConfigErrors, Document, Origin, Value};

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
