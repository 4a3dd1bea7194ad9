//! Colours and text styles: one struct, no colour literals in view code. Themes are TOML files
//! (`assets/themes/*.toml`, built in with `include_str!`; `--theme FILE` or `FAULTLINE_THEME` load
//! another); `NO_COLOR` set to anything non-empty drops every colour and keeps bold/reverse.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The built-in theme files.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../assets/themes/default.toml")),
    ("light", include_str!("../../assets/themes/light.toml")),
];

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The file could not be read.
    #[error("cannot read theme {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid theme.
    #[error("invalid theme {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: toml::de::Error,
    },
    /// A colour could not be read.
    #[error("invalid colour \"{0}\" (use a name like \"red\", \"#rrggbb\" or an index 0-255)")]
    Colour(String),
}

/// The colours a theme file sets (every field required, so a typo is an error, not a default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    text: String,
    dim: String,
    accent: String,
    header_bg: String,
    selected_bg: String,
    ok: String,
    warn: String,
    bad: String,
    info: String,
    closed: String,
    open: String,
    half_open: String,
    at_capacity: String,
    ejected: String,
    critical: String,
    span_bar: String,
    chart_p50: String,
    chart_p95: String,
    chart_p99: String,
}

/// Resolved styles.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// Normal text.
    pub text: Style,
    /// Secondary text (units, hints, borders).
    pub dim: Style,
    /// Titles, active tab, key names.
    pub accent: Style,
    /// Header bar.
    pub header: Style,
    /// Selected row.
    pub selected: Style,
    /// Good news (sources up).
    pub ok: Style,
    /// Warnings (severity warning, elevated numbers).
    pub warn: Style,
    /// Bad news (refused > 0, errors, severity error).
    pub bad: Style,
    /// Severity info.
    pub info: Style,
    /// Breaker CLOSED.
    pub closed: Style,
    /// Breaker OPEN / FORCED-OPEN.
    pub open: Style,
    /// Breaker HALF-OPEN.
    pub half_open: Style,
    /// AT CAPACITY.
    pub at_capacity: Style,
    /// EJECTED n/m.
    pub ejected: Style,
    /// Critical-path spans.
    pub critical: Style,
    /// Other span bars.
    pub span_bar: Style,
    /// Chart series p50, p95, p99.
    pub chart: [Style; 3],
    /// Whether colours are off (`NO_COLOR`).
    pub monochrome: bool,
}

fn colour(s: &str) -> Result<Color, ThemeError> {
    s.parse::<Color>().map_err(|_| ThemeError::Colour(s.into()))
}

impl Theme {
    /// Parses a theme file's text.
    pub fn from_toml(path: &str, text: &str) -> Result<Theme, ThemeError> {
        let f: ThemeFile = toml::from_str(text).map_err(|source| ThemeError::Parse {
            path: path.into(),
            source,
        })?;
        let fg = |s: &str| colour(s).map(|c| Style::new().fg(c));
        Ok(Theme {
            text: fg(&f.text)?,
            dim: fg(&f.dim)?,
            accent: fg(&f.accent)?.add_modifier(Modifier::BOLD),
            header: Style::new().bg(colour(&f.header_bg)?).fg(colour(&f.text)?),
            selected: Style::new()
                .bg(colour(&f.selected_bg)?)
                .add_modifier(Modifier::BOLD),
            ok: fg(&f.ok)?,
            warn: fg(&f.warn)?,
            bad: fg(&f.bad)?.add_modifier(Modifier::BOLD),
            info: fg(&f.info)?,
            closed: fg(&f.closed)?,
            open: fg(&f.open)?.add_modifier(Modifier::BOLD),
            half_open: fg(&f.half_open)?.add_modifier(Modifier::BOLD),
            at_capacity: fg(&f.at_capacity)?,
            ejected: fg(&f.ejected)?,
            critical: fg(&f.critical)?.add_modifier(Modifier::BOLD),
            span_bar: fg(&f.span_bar)?,
            chart: [fg(&f.chart_p50)?, fg(&f.chart_p95)?, fg(&f.chart_p99)?],
            monochrome: false,
        })
    }

    /// Reads a theme file.
    pub fn load(path: &std::path::Path) -> Result<Theme, ThemeError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
            path: p.clone(),
            source,
        })?;
        Theme::from_toml(&p, &text)
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(n, t)| Theme::from_toml(n, t).ok())
    }

    /// The same theme without colours: modifiers (bold, reverse) keep meaning visible.
    pub fn without_colour(&self) -> Theme {
        let strip = |s: Style| Style {
            fg: None,
            bg: None,
            underline_color: None,
            ..s
        };
        Theme {
            text: strip(self.text),
            dim: strip(self.dim),
            accent: strip(self.accent),
            header: strip(self.header).add_modifier(Modifier::REVERSED),
            selected: strip(self.selected).add_modifier(Modifier::REVERSED),
            ok: strip(self.ok),
            warn: strip(self.warn),
            bad: strip(self.bad),
            info: strip(self.info),
            closed: strip(self.closed),
            open: strip(self.open),
            half_open: strip(self.half_open),
            at_capacity: strip(self.at_capacity),
            ejected: strip(self.ejected),
            critical: strip(self.critical),
            span_bar: strip(self.span_bar),
            chart: self.chart.map(strip),
            monochrome: true,
        }
    }

    /// The theme to run with: `path` or the default, without colour when `no_color` (the value of
    /// `NO_COLOR`) is set and non-empty.
    pub fn resolve(
        path: Option<&std::path::Path>,
        no_color: Option<&str>,
    ) -> Result<Theme, ThemeError> {
        let t = match path {
            Some(p) => Theme::load(p)?,
            None => Theme::default(),
        };
        Ok(if no_color.is_some_and(|v| !v.is_empty()) {
            t.without_colour()
        } else {
            t
        })
    }
}

impl Default for Theme {
    fn default() -> Self {
        // The default theme is compiled in and checked by a test, so parsing cannot fail; fall
        // back to a plain theme rather than panic all the same.
        Theme::builtin("default").unwrap_or_else(|| Theme {
            text: Style::new(),
            dim: Style::new().add_modifier(Modifier::DIM),
            accent: Style::new().add_modifier(Modifier::BOLD),
            header: Style::new().add_modifier(Modifier::REVERSED),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            ok: Style::new(),
            warn: Style::new(),
            bad: Style::new().add_modifier(Modifier::BOLD),
            info: Style::new(),
            closed: Style::new(),
            open: Style::new().add_modifier(Modifier::BOLD),
            half_open: Style::new().add_modifier(Modifier::BOLD),
            at_capacity: Style::new(),
            ejected: Style::new(),
            critical: Style::new().add_modifier(Modifier::BOLD),
            span_bar: Style::new(),
            chart: [Style::new(); 3],
            monochrome: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_file_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/themes");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("themes dir") {
            let p = entry.expect("entry").path();
            if p.extension().is_some_and(|e| e == "toml") {
                Theme::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= BUILTIN.len());
        for (name, _) in BUILTIN {
            assert!(Theme::builtin(name).is_some(), "{name}");
        }
    }

    #[test]
    fn no_color_strips_colours_but_keeps_emphasis() {
        let t = Theme::resolve(None, Some("1")).expect("theme");
        assert!(t.monochrome);
        assert_eq!(t.open.fg, None);
        assert!(t.open.add_modifier.contains(Modifier::BOLD));
        let t = Theme::resolve(None, Some("")).expect("theme");
        assert_eq!(t.open.fg, Some(Color::Red));
    }

    #[test]
    fn bad_colour_and_unknown_key_are_errors() {
        let good = BUILTIN[0].1;
        let bad = good.replace("open = \"red\"", "open = \"reddish\"");
        assert!(matches!(
            Theme::from_toml("x", &bad),
            Err(ThemeError::Colour(_))
        ));
        let extra = format!("{good}\nsurprise = \"red\"\n");
        assert!(matches!(
            Theme::from_toml("x", &extra),
            Err(ThemeError::Parse { .. })
        ));
    }
}
