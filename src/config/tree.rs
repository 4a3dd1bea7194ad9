//! A TOML document as a tree of values that remember their line: what the configuration layers
//! need to name the line of every problem. Built from `toml`'s spanned parser (`DeTable`).

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::ConfigError;

/// One value and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The line.
    pub line: usize,
    /// The value.
    pub value: Value,
}

/// A TOML value (datetimes are refused: no key takes one).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An array.
    Array(Vec<Node>),
    /// A table, its entries in file order.
    Table(Table),
}

/// A table's entries: key, the key's line, the value.
pub type Table = Vec<Entry>;

/// One `key = value` of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The key's line.
    pub line: usize,
    /// The value.
    pub node: Node,
}

impl Value {
    /// The TOML type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }

    /// A scalar as the text a command-line flag would carry.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(_) | Value::Table(_) => None,
        }
    }
}

/// A parsed file: its path, the directory relative paths in it are resolved against, the root.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file.
    pub file: PathBuf,
    /// The root table.
    pub root: Table,
}

impl Document {
    /// Reads and parses `file`; every syntax error and every datetime value is reported.
    pub fn load(file: &Path) -> Result<Document, Vec<ConfigError>> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            vec![ConfigError::new(
                file,
                0,
                "",
                format!("cannot read the file: {e}"),
            )]
        })?;
        Document::parse(file, &text)
    }

    /// Parses `text` as the contents of `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Document, Vec<ConfigError>> {
        let lines = LineIndex::new(text);
        let (root, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            return Err(errors
                .iter()
                .map(|e| {
                    let line = e.span().map_or(0, |s| lines.line(s.start));
                    ConfigError::new(file, line, "", format!("invalid TOML: {}", e.message()))
                })
                .collect());
        }
        let mut problems = Vec::new();
        let root = table(root.get_ref(), &lines, file, "", &mut problems);
        if problems.is_empty() {
            Ok(Document {
                file: file.to_path_buf(),
                root,
            })
        } else {
            Err(problems)
        }
    }

    /// The directory relative paths are resolved against (the file's own).
    pub fn base_dir(&self) -> &Path {
        match self.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// Byte offset → line.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex(starts)
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }
}

fn table(
    t: &DeTable<'_>,
    lines: &LineIndex,
    file: &Path,
    path: &str,
    problems: &mut Vec<ConfigError>,
) -> Table {
    t.iter()
        .filter_map(|(k, v)| {
            let key = k.get_ref().to_string();
            let line = lines.line(k.span().start);
            let full = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let node = node(v.get_ref(), line, lines, file, &full, problems)?;
            Some(Entry { key, line, node })
        })
        .collect()
}

fn node(
    v: &DeValue<'_>,
    line: usize,
    lines: &LineIndex,
    file: &Path,
    path: &str,
    problems: &mut Vec<ConfigError>,
) -> Option<Node> {
    let value = match v {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let digits = digits
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            match i64::from_str_radix(digits, i.radix()) {
                Ok(n) => Value::Int(n),
                Err(e) => {
                    problems.push(ConfigError::new(file, line, path, format!("{e}")));
                    return None;
                }
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse() {
            Ok(x) => Value::Float(x),
            Err(e) => {
                problems.push(ConfigError::new(file, line, path, format!("{e}")));
                return None;
            }
        },
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => {
            problems.push(ConfigError::new(
                file,
                line,
                path,
                "a date-time is not a value any key takes (quote it if it is a string)",
            ));
            return None;
        }
        DeValue::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let l = lines.line(e.span().start);
                    node(
                        e.get_ref(),
                        l,
                        lines,
                        file,
                        &format!("{path}[{i}]"),
                        problems,
                    )
                })
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(table(t, lines, file, path, problems)),
    };
    Some(Node { line, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_tables_and_arrays() {
        let text = "a = 1\n\n[s]\nb = \"x\"\n\n[[t]]\nc = true\n[[t]]\nc = false\n";
        let d = Document::parse(Path::new("f.toml"), text).unwrap();
        assert_eq!(d.root[0].key, "a");
        assert_eq!(d.root[0].line, 1);
        let s = d.root.iter().find(|e| e.key == "s").unwrap();
        let Value::Table(st) = &s.node.value else {
            panic!()
        };
        assert_eq!((st[0].key.as_str(), st[0].line), ("b", 4));
        let t = d.root.iter().find(|e| e.key == "t").unwrap();
        let Value::Array(items) = &t.node.value else {
            panic!()
        };
        let Value::Table(second) = &items[1].value else {
            panic!()
        };
        assert_eq!(second[0].line, 9);
    }

    #[test]
    fn syntax_errors_and_datetimes_name_their_line() {
        let e = Document::parse(Path::new("f.toml"), "a = 1\nb = \n").unwrap_err();
        assert_eq!(e[0].line, 2, "{e:?}");
        let e = Document::parse(Path::new("f.toml"), "a = 1\nwhen = 1979-05-27\n").unwrap_err();
        assert_eq!((e[0].line, e[0].key.as_str()), (2, "when"), "{e:?}");
    }
}
