//! Alert expressions (CEL, the `cel` crate as the lint's `threshold` detector uses it) and
//! annotation templates: compiled and checked against the variables when the rules load,
//! evaluated over [`Vars`].
//!
//! Templates hold `{name}` placeholders: any variable, or `alert`, `severity`, `value`,
//! `threshold`; `{name:%}` prints a ratio as a percentage (`0.213` → `21.3%`).

use std::sync::{Arc, OnceLock};

use cel::{Context, Env, Program, Value};

use super::vars::{self, Vars};

/// Placeholders a template may use besides the variables.
pub const TEMPLATE_EXTRAS: &[&str] = &["alert", "severity", "value", "threshold"];

/// A compiled expression with its source and the variables it reads.
#[derive(Debug)]
pub struct Expr {
    /// As written.
    pub source: String,
    program: Program,
    /// Variables it reads.
    pub variables: Vec<&'static str>,
}

/// The standard CEL environment, built once.
fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib())).clone()
}

/// Compiles `src` and checks that it reads only known variables.
pub fn compile(src: &str) -> Result<Expr, String> {
    let program = Program::compile(src).map_err(|e| {
        format!(
            "invalid CEL: {}",
            e.to_string().lines().next().unwrap_or("parse error").trim()
        )
    })?;
    let mut unknown = Vec::new();
    let mut variables = Vec::new();
    for v in program.references().variables() {
        match vars::find(v) {
            Some(d) => variables.push(d.name),
            None => unknown.push(v.to_string()),
        }
    }
    unknown.sort();
    if let Some(v) = unknown.first() {
        return Err(format!(
            "unknown variable `{v}`; expected one of: {}",
            vars::VARIABLES
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    variables.sort_unstable();
    variables.dedup();
    Ok(Expr {
        source: src.to_string(),
        program,
        variables,
    })
}

/// What an evaluation gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// An error while a variable it reads was unknown (`null`): undecided.
    Unknown,
    /// Something else, or an error with every variable known (a type mismatch).
    Failed(String),
}

impl Expr {
    /// Evaluates over `vars`.
    pub fn eval(&self, vars: &Vars) -> Outcome {
        let root = Context::with_env(env());
        let mut ctx = root.new_inner_scope();
        for (k, v) in vars.iter() {
            if self.variables.contains(k) {
                ctx.add_variable_from_value(*k, v.clone());
            }
        }
        match self.program.execute(&ctx) {
            Ok(Value::Bool(b)) => Outcome::Bool(b),
            Ok(Value::Int(i)) => Outcome::Num(i as f64),
            Ok(Value::UInt(u)) => Outcome::Num(u as f64),
            Ok(Value::Float(f)) if f.is_finite() => Outcome::Num(f),
            Ok(other) => Outcome::Failed(format!("gave {other:?}")),
            Err(_) if self.reads_unknown(vars) => Outcome::Unknown,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

impl Expr {
    /// Whether a variable it reads is `null` in `vars`.
    fn reads_unknown(&self, vars: &Vars) -> bool {
        vars.iter()
            .any(|(k, v)| *v == Value::Null && self.variables.contains(k))
    }
}

/// A checked annotation template.
#[derive(Clone, Debug)]
pub struct Template {
    /// As written.
    pub source: String,
    /// Variables it reads.
    pub variables: Vec<&'static str>,
}

/// Splits `{name}` / `{name:%}` placeholders: calls `f(name, percent)` for each and returns the
/// text with each replaced by what `f` returns.
fn each_placeholder(
    t: &str,
    mut f: impl FnMut(&str, bool) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("unclosed '{' in template".into());
        };
        let inner = &after[..close];
        let (name, pct) = match inner.split_once(':') {
            Some((n, "%")) => (n, true),
            Some((_, fmt)) => return Err(format!("unknown format `:{fmt}` (only `:%`)")),
            None => (inner, false),
        };
        out.push_str(&f(name.trim(), pct)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a template's placeholders.
pub fn template(src: &str) -> Result<Template, String> {
    let mut variables = Vec::new();
    each_placeholder(src, |name, _| {
        if let Some(d) = vars::find(name) {
            variables.push(d.name);
            Ok(String::new())
        } else if TEMPLATE_EXTRAS.contains(&name) {
            Ok(String::new())
        } else {
            Err(format!(
                "unknown placeholder {{{name}}}; expected a variable or one of: {}",
                TEMPLATE_EXTRAS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    })?;
    Ok(Template {
        source: src.to_string(),
        variables,
    })
}

/// Formats a number for people: integers as such, else three significant decimals at most.
pub fn format_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let s = if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn format_value(v: &Value, pct: bool) -> String {
    match v {
        Value::Null => "?".into(),
        Value::Int(i) if pct => format!("{:.1}%", *i as f64 * 100.0),
        Value::Float(f) if pct => format!("{:.1}%", f * 100.0),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_num(*f),
        Value::String(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

impl Template {
    /// Fills the template: `extras` are (name, value) for `alert`, `severity`, `value` and
    /// `threshold`.
    pub fn render(&self, vars: &Vars, extras: &[(&str, Value)]) -> String {
        each_placeholder(&self.source, |name, pct| {
            let v = extras
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .or_else(|| vars.get(name));
            Ok(v.map_or_else(|| "?".into(), |v| format_value(v, pct)))
        })
        .unwrap_or_else(|_| self.source.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_and_bad_syntax_are_load_errors() {
        assert!(compile("error_ratio > 0.1 && calls >= 20").is_ok());
        let e = compile("eror_ratio > 0.1").unwrap_err();
        assert!(e.starts_with("unknown variable `eror_ratio`"), "{e}");
        let e = compile("error_ratio >").unwrap_err();
        assert!(e.starts_with("invalid CEL"), "{e}");
    }

    #[test]
    fn templates_check_placeholders_and_format_percentages() {
        let t = template("{caller} → {dependency}: {value:%} (baseline {baseline_error_ratio:%})")
            .unwrap();
        let e = template("{nope}").unwrap_err();
        assert!(e.contains("unknown placeholder {nope}"), "{e}");
        assert!(template("{value:x}").is_err());
        assert!(template("{value").is_err());
        let mut vars = Vars::default();
        let _ = &mut vars;
        let s = t.render(
            &vars,
            &[
                ("caller", Value::String(Arc::new("a".into()))),
                ("dependency", Value::String(Arc::new("b".into()))),
                ("value", Value::Float(0.2134)),
            ],
        );
        assert_eq!(s, "a → b: 21.3% (baseline ?)");
        assert_eq!(format_num(812.49), "812");
        assert_eq!(format_num(0.25), "0.25");
        assert_eq!(format_num(3.0), "3");
        assert_eq!(format_num(1.5), "1.5");
    }
}
