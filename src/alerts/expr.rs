//! Alert expressions (CEL, the `cel` crate as the lint's `threshold` detector uses it, with
//! CEL's math extension: `math.greatest(a, b)`, `math.least`, `math.abs`, ...) and annotation
//! templates: compiled and checked when the rules load — known variables only, and a trial
//! evaluation with every variable set, so a type error or an unknown function is a load error,
//! not a silent "does not hold" — then evaluated over [`Vars`].
//!
//! Templates hold `{name}` placeholders: any variable, or `alert`, `severity`, `value`,
//! `threshold`; `{name:%}` prints a ratio as a percentage (`0.213` → `21.3%`).

use std::sync::{Arc, OnceLock};

use cel::{Context, Env, Program, Value};

use super::vars::{self, VarKind, Vars};

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

/// The CEL environment (standard library and the math extension), built once.
fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // The extension registers fresh names only: it cannot conflict with the stdlib.
        let _ = env.add_extension(cel::extensions::math);
        Arc::new(env)
    })
    .clone()
}

/// What an expression must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yields {
    /// A condition (`expr`, `resolve`).
    Bool,
    /// A number (`value`, `threshold`).
    Num,
}

/// Every variable set to a plain value of its type, for the trial evaluation.
fn sample() -> Vars {
    let mut v = Vars::default();
    for d in vars::VARIABLES {
        let value = match d.kind {
            VarKind::Str => Value::String(Arc::new("x".into())),
            VarKind::Int => Value::Int(1),
            VarKind::Num => Value::Float(1.0),
            VarKind::Bool => Value::Bool(false),
        };
        v.push(d.name, value);
    }
    v
}

/// Compiles `src`, checks that it reads only known variables, and evaluates it once with every
/// variable set: it must give what `yields` says.
pub fn compile(src: &str, yields: Yields) -> Result<Expr, String> {
    let e = compile_only(src)?;
    match (e.eval(&sample()), yields) {
        (Outcome::Bool(_), Yields::Bool) | (Outcome::Num(_), Yields::Num) => Ok(e),
        (Outcome::Failed(msg), _) => Err(format!("does not evaluate: {msg}")),
        (Outcome::Num(_), Yields::Bool) => Err("gives a number, not a condition".into()),
        (Outcome::Bool(_), Yields::Num) => Err("gives a boolean, not a number".into()),
        (Outcome::Unknown, _) => Err("does not evaluate".into()),
    }
}

/// Compiles `src` and checks that it reads only known variables.
fn compile_only(src: &str) -> Result<Expr, String> {
    let program = env().compile(src).map_err(|e| {
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
            Ok(Value::Float(_)) => Outcome::Unknown,
            Ok(other) => Outcome::Failed(format!("gives {}", type_name(&other))),
            Err(_) if self.reads_unknown(vars) => Outcome::Unknown,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Null => "null",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        _ => "neither a boolean nor a number",
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

/// One placeholder: its name and whether it is printed as a percentage.
type Placeholder<'a> = Result<(&'a str, bool), String>;

/// Splits a template into literal text and placeholders (`{name}`, `{name:%}`).
fn pieces(t: &str) -> Result<Vec<Result<&str, Placeholder<'_>>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        out.push(Ok(&rest[..open]));
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("unclosed '{' in template".into());
        };
        let inner = &after[..close];
        out.push(Err(match inner.split_once(':') {
            Some((n, "%")) => Ok((n.trim(), true)),
            Some((n, fmt)) => Err(format!(
                "{{{n}:{fmt}}}: unknown format `:{fmt}` (only `:%`)"
            )),
            None => Ok((inner.trim(), false)),
        }));
        rest = &after[close + 1..];
    }
    out.push(Ok(rest));
    Ok(out)
}

/// Checks a template's placeholders; every problem is named in the one message.
pub fn template(src: &str) -> Result<Template, String> {
    let mut variables = Vec::new();
    let mut problems = Vec::new();
    for p in pieces(src)? {
        match p {
            Ok(_) => {}
            Err(Err(e)) => problems.push(e),
            Err(Ok((name, _))) => {
                if let Some(d) = vars::find(name) {
                    variables.push(d.name);
                } else if !TEMPLATE_EXTRAS.contains(&name) {
                    problems.push(format!("unknown placeholder {{{name}}}"));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{}; placeholders are variables or {}",
            problems.join("; "),
            TEMPLATE_EXTRAS
                .iter()
                .map(|p| format!("{{{p}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
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
        let Ok(pieces) = pieces(&self.source) else {
            return self.source.clone();
        };
        let mut out = String::with_capacity(self.source.len());
        for p in pieces {
            match p {
                Ok(text) => out.push_str(text),
                Err(Ok((name, pct))) => {
                    let v = extras
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v)
                        .or_else(|| vars.get(name));
                    out.push_str(&v.map_or_else(|| "?".into(), |v| format_value(v, pct)));
                }
                Err(Err(_)) => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_bad_syntax_and_type_errors_are_load_errors() {
        assert!(compile("error_ratio > 0.1 && calls >= 20", Yields::Bool).is_ok());
        let e = compile("eror_ratio > 0.1", Yields::Bool).unwrap_err();
        assert!(e.starts_with("unknown variable `eror_ratio`"), "{e}");
        let e = compile("error_ratio >", Yields::Bool).unwrap_err();
        assert!(e.starts_with("invalid CEL"), "{e}");
        let e = compile("breaker > 1", Yields::Bool).unwrap_err();
        assert!(e.starts_with("does not evaluate"), "{e}");
        let e = compile("max(calls, 3) > 1", Yields::Bool).unwrap_err();
        assert!(e.starts_with("does not evaluate"), "{e}");
        assert_eq!(
            compile("error_ratio", Yields::Bool).unwrap_err(),
            "gives a number, not a condition"
        );
        assert_eq!(
            compile("breaker", Yields::Num).unwrap_err(),
            "does not evaluate: gives a string"
        );
    }

    #[test]
    fn the_math_extension_gives_greatest_and_least() {
        let e = compile(
            "math.greatest(2.0 * baseline_error_ratio, baseline_error_ratio + 0.05)",
            Yields::Num,
        )
        .unwrap();
        let mut v = Vars::default();
        v.push("baseline_error_ratio", Value::Float(0.01));
        match e.eval(&v) {
            Outcome::Num(x) => assert!((x - 0.06).abs() < 1e-12, "{x}"),
            other => panic!("{other:?}"),
        }
        v = Vars::default();
        v.push("baseline_error_ratio", Value::Null);
        assert_eq!(e.eval(&v), Outcome::Unknown);
    }

    #[test]
    fn templates_check_placeholders_and_format_percentages() {
        let t = template("{caller} → {dependency}: {value:%} (baseline {baseline_error_ratio:%})")
            .unwrap();
        let e = template("{nope} {value:x}").unwrap_err();
        assert!(
            e.starts_with("unknown placeholder {nope}; {value:x}: unknown format"),
            "{e}"
        );
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
