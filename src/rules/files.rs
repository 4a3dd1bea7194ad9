//! Loading rule files, shared by the lint (`[[rule]]`) and the alerts (`[[alert]]`): every
//! `*.toml` of a directory in name order, and compiling specs with one key (rule id, alert name)
//! unique across the set. Every problem is one [`RuleError`]; a set with any problem fails whole.

use std::collections::BTreeMap;
use std::path::Path;

use super::spec::RuleError;

/// The (path, text) of every `*.toml` in `dir`, sorted by name. With `require_any`, a directory
/// with none is an error.
pub(crate) fn read_toml_dir(
    dir: &Path,
    require_any: bool,
) -> Result<Vec<(String, String)>, Vec<RuleError>> {
    let dir_err = |m: String| {
        vec![RuleError {
            file: dir.display().to_string(),
            rule: None,
            field: String::new(),
            message: m,
        }]
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| dir_err(format!("cannot read rules directory: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if require_any && paths.is_empty() {
        return Err(dir_err("no *.toml rule files in the directory".into()));
    }
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(t) => sources.push((p.display().to_string(), t)),
            Err(e) => errors.push(RuleError {
                file: p.display().to_string(),
                rule: None,
                field: String::new(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

/// How [`compile_unique`] names a spec's unique key.
pub(crate) struct Key {
    /// The field holding it (`id`, `name`).
    pub field: &'static str,
    /// What a repeat is called (`duplicate rule id`).
    pub duplicate: &'static str,
}

/// Compiles `specs` in order, rejecting a key already seen (naming the file that defined it
/// first); `key_of` gives a spec's (file, key). Errors of `compile` (field, message) are
/// attributed to the spec's file and key.
pub(crate) fn compile_unique<S, R>(
    specs: Vec<S>,
    key: &Key,
    key_of: impl Fn(&S) -> (String, String),
    compile: impl Fn(S) -> Result<R, Vec<(String, String)>>,
    errors: &mut Vec<RuleError>,
) -> Vec<R> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for s in specs {
        let (file, name) = key_of(&s);
        if let Some(first) = seen.get(&name) {
            errors.push(RuleError {
                file,
                rule: Some(name),
                field: key.field.into(),
                message: format!("{} (first defined in {first})", key.duplicate),
            });
            continue;
        }
        seen.insert(name.clone(), file.clone());
        match compile(s) {
            Ok(r) => out.push(r),
            Err(es) => errors.extend(es.into_iter().map(|(field, message)| RuleError {
                file: file.clone(),
                rule: Some(name.clone()),
                field,
                message,
            })),
        }
    }
    out
}
