//! The command line (clap derive). Flags also come from `FAULTLINE_*` environment variables and
//! the configuration file (`layers`: flags, then environment, then file, then defaults).

use std::path::PathBuf;
use std::time::Duration;

use crate::model::clock::TimeSpec;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod layers;
pub mod print;
mod receiver;
pub mod sources;

pub use receiver::{ReceiverArgs, StoreArgs};

/// faultline: a terminal dashboard and linter for the resilience of distributed backends.
///
/// Every flag can also be set in the configuration file (`--config`, `$FAULTLINE_CONFIG`, or
/// `~/.config/faultline/config.toml`) and in its `FAULTLINE_*` environment variable; flags win
/// over the environment, the environment over the file. `faultline config print` shows the
/// result.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do; `watch` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `watch` when no subcommand is given.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// The configuration file (TOML; default: $XDG_CONFIG_HOME/faultline/config.toml when it
    /// exists).
    #[arg(long, global = true, env = "FAULTLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Dashboard theme file (TOML; see assets/themes/). `NO_COLOR` turns colours off.
    #[arg(long, global = true, env = "FAULTLINE_THEME")]
    pub theme: Option<PathBuf>,
    /// Log file (default: faultline.log in the temp directory for the dashboard; none for the
    /// other commands, which log warnings to stderr).
    #[arg(long, global = true, env = "FAULTLINE_LOG_FILE")]
    pub log_file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Live dashboard over the OTLP receivers and metric sources (the default).
    Watch(WatchArgs),
    /// The dashboard over capture files, with a time cursor.
    Review(ReviewArgs),
    /// Check captures (or live sources) against the rules; exit 1 on findings.
    Lint(LintArgs),
    /// Per-dependency table of capture files, headless.
    Report(ReportArgs),
    /// Run the receivers headless and write every accepted request to a capture file.
    Record(RecordArgs),
    /// The dashboard on a built-in simulated system.
    Demo(DemoArgs),
    /// Show or validate rule files.
    Rules(RulesArgs),
    /// Replay captures through the alert rules: when each alert fired and resolved; exit 1 on
    /// alerts at `--fail-on`.
    Alerts(AlertsArgs),
    /// Print one trace of capture files: its spans as a tree with each span's logs under it.
    Trace(TraceArgs),
    /// Compare two traces span by span: added and missing spans, total and self time, where the
    /// critical path moved (`FILE TRACE_A TRACE_B`, or `FILE_A:TRACE_A FILE_B:TRACE_B`).
    Compare(CompareArgs),
    /// Validate the configuration file, or print the effective configuration.
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man,
}

/// `faultline watch`.
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Receivers and sources.
    #[command(flatten)]
    pub receivers: ReceiverArgs,
    /// Store bounds.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Rules directory (default: ./rules when present, else the built-in set).
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
    /// Also record every accepted request to this capture file.
    #[arg(long, env = "FAULTLINE_RECORD")]
    pub record: Option<PathBuf>,
    /// Where the dashboard's alerts go (as for `record`).
    #[command(flatten)]
    pub alerts: AlertSinkArgs,
}

/// `faultline review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Capture files (none with `--prometheus`).
    #[arg(required_unless_present = "prometheus")]
    pub files: Vec<PathBuf>,
    /// With no capture files: review `--from`..`--to` from the service-graph and span-metrics
    /// series of this Prometheus-compatible server (OpenTelemetry Collector connectors, Tempo's
    /// metrics generator).
    #[arg(long, env = "FAULTLINE_PROMETHEUS", value_parser = parse_url)]
    pub prometheus: Option<String>,
    /// Start of the range asked of `--prometheus`: RFC 3339, or back from now (`-1h`).
    /// Default: 15 minutes before `--to`.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true, env = "FAULTLINE_REVIEW_FROM")]
    pub from: Option<TimeSpec>,
    /// End of the range asked of `--prometheus`, as `--from`. Default: now.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true, env = "FAULTLINE_REVIEW_TO")]
    pub to: Option<TimeSpec>,
    /// Rules directory.
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
}

/// Output format of `lint`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    /// Human-readable text.
    Text,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Markdown for a pull-request comment.
    Markdown,
}

/// Severity threshold of `lint --fail-on`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    /// Any finding fails.
    Info,
    /// Warnings and errors fail.
    Warning,
    /// Only errors fail.
    Error,
    /// Nothing fails: report findings, exit 0 (lint in CI that should never block).
    None,
}

/// `faultline lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Capture files (none with `--live`).
    pub files: Vec<PathBuf>,
    /// Lint live telemetry: run the receivers for `--duration` (or until SIGINT/SIGTERM), then
    /// lint what arrived.
    #[arg(long, env = "FAULTLINE_LINT_LIVE")]
    pub live: bool,
    /// How long `--live` listens.
    #[arg(long, env = "FAULTLINE_LINT_DURATION", value_parser = parse_duration, requires = "live")]
    pub duration: Option<Duration>,
    /// Receivers for `--live`.
    #[command(flatten)]
    pub receivers: ReceiverArgs,
    /// Rules directory.
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        env = "FAULTLINE_LINT_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub format: LintFormat,
    /// With `--prometheus` and no capture files: start of the range to lint from the
    /// server's service-graph and span-metrics series (RFC 3339, or back from now: `-1h`).
    /// Default: 15 minutes before `--to`.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true, env = "FAULTLINE_LINT_FROM")]
    pub from: Option<TimeSpec>,
    /// End of that range, as `--from`. Default: now.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true, env = "FAULTLINE_LINT_TO")]
    pub to: Option<TimeSpec>,
    /// Exit 1 when a finding at or above this severity exists (`none`: never).
    #[arg(
        long,
        env = "FAULTLINE_LINT_FAIL_ON",
        value_enum,
        default_value = "error"
    )]
    pub fail_on: FailOn,
}

/// Output format of `report`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// An aligned table.
    Text,
    /// A JSON array of rows.
    Json,
}

/// `faultline report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Capture files (none with `--prometheus`).
    #[arg(required_unless_present = "prometheus")]
    pub files: Vec<PathBuf>,
    /// With no capture files: report `--from`..`--to` (offsets back from now) from the
    /// service-graph and span-metrics series of this Prometheus-compatible server.
    #[arg(long, env = "FAULTLINE_PROMETHEUS", value_parser = parse_url)]
    pub prometheus: Option<String>,
    /// Output format.
    #[arg(
        long,
        env = "FAULTLINE_REPORT_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub format: ReportFormat,
    /// Only the last DUR before the capture's end (default: the whole capture).
    #[arg(long, env = "FAULTLINE_REPORT_WINDOW", value_parser = parse_duration, conflicts_with_all = ["from", "to"])]
    pub window: Option<Duration>,
    /// Window start: RFC 3339, or an offset from the capture's start (`+90s`) or back from
    /// its end (`-5m`). Default: the capture's start.
    #[arg(long, env = "FAULTLINE_REPORT_FROM", value_parser = TimeSpec::parse, allow_hyphen_values = true)]
    pub from: Option<TimeSpec>,
    /// Window end (exclusive), as `--from`; the state shown is the state at this instant.
    /// Default: just after the capture's end.
    #[arg(long, env = "FAULTLINE_REPORT_TO", value_parser = TimeSpec::parse, allow_hyphen_values = true)]
    pub to: Option<TimeSpec>,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
}

/// `faultline trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Capture files.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The trace id: 32 hex digits (16 for a 64-bit id).
    #[arg(required = true, value_parser = parse_trace_id)]
    pub trace_id: [u8; 16],
    /// Output format.
    #[arg(
        long,
        env = "FAULTLINE_TRACE_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub format: ReportFormat,
}

/// `faultline compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// `FILE TRACE_A TRACE_B` (both traces in one capture), or `FILE_A:TRACE_A FILE_B:TRACE_B`
    /// (one trace of each capture). A is the baseline, B the trace compared with it.
    #[arg(required = true, num_args = 2..=3, value_name = "FILE TRACE_A TRACE_B")]
    pub args: Vec<String>,
    /// Output format.
    #[arg(
        long,
        env = "FAULTLINE_COMPARE_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub format: ReportFormat,
}

/// Parses a trace id: 32 hex digits, or 16 (a 64-bit id, zero-extended as OTLP does).
pub fn parse_trace_id(s: &str) -> Result<[u8; 16], String> {
    let t = s.trim();
    let bad = || format!("not a trace id: {s:?} (want 32 hex digits)");
    let b = hex::decode(t).map_err(|_| bad())?;
    let mut id = [0u8; 16];
    match b.len() {
        16 => id.copy_from_slice(&b),
        8 => id[8..].copy_from_slice(&b),
        _ => return Err(bad()),
    }
    Ok(id)
}

/// `faultline record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The capture file to write (OTLP/JSON lines).
    #[arg(long, env = "FAULTLINE_RECORD_OUT")]
    pub out: PathBuf,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, env = "FAULTLINE_RECORD_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Receivers and sources.
    #[command(flatten)]
    pub receivers: ReceiverArgs,
    /// Rules directory for the alert rules (with it, or a sink, `record` evaluates alerts and
    /// logs each change).
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
    /// Where alerts go.
    #[command(flatten)]
    pub alerts: AlertSinkArgs,
}

/// Where live alerts are delivered.
#[derive(Debug, Args, Clone, Default)]
pub struct AlertSinkArgs {
    /// Prometheus Alertmanager base URL (repeatable): firing and resolved alerts are posted to
    /// its `/api/v2/alerts`, firing ones re-sent every minute.
    #[arg(
        long = "alertmanager",
        env = "FAULTLINE_ALERTMANAGER",
        value_delimiter = ','
    )]
    pub alertmanager: Vec<String>,
    /// A URL that receives each evaluation's fired and resolved alerts as JSON (Alertmanager's
    /// webhook payload, version 4; repeatable).
    #[arg(
        long = "alert-webhook",
        env = "FAULTLINE_ALERT_WEBHOOK",
        value_delimiter = ','
    )]
    pub alert_webhook: Vec<String>,
}

impl AlertSinkArgs {
    /// Whether any sink is given.
    pub fn any(&self) -> bool {
        !self.alertmanager.is_empty() || !self.alert_webhook.is_empty()
    }
}

/// Severity threshold of `alerts --fail-on`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AlertFailOn {
    /// Any alert that fired fails.
    Info,
    /// Warning and critical alerts fail.
    Warning,
    /// Only critical alerts fail.
    Critical,
    /// Nothing fails: report alerts, exit 0.
    None,
}

/// `faultline alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Capture files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Rules directory (its `[[alert]]` tables; default: ./rules when present, else the
    /// built-in set).
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        value_enum,
        env = "FAULTLINE_ALERTS_FORMAT",
        default_value = "text"
    )]
    pub format: ReportFormat,
    /// Exit 1 when an alert at or above this severity fired (`none`: never).
    #[arg(
        long,
        value_enum,
        env = "FAULTLINE_ALERTS_FAIL_ON",
        default_value = "critical"
    )]
    pub fail_on: AlertFailOn,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
}

/// `faultline demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulation.
    #[arg(long, env = "FAULTLINE_DEMO_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Receivers the simulated system exports to.
    #[command(flatten)]
    pub receivers: ReceiverArgs,
}

/// `faultline rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// `list` or `check`.
    #[arg(value_parser = ["list", "check"])]
    pub action: String,
    /// Rules directory.
    #[arg(long, env = "FAULTLINE_RULES")]
    pub rules: Option<PathBuf>,
}

/// `faultline config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// `faultline config check|print`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a configuration file (default: the one `--config`, `$FAULTLINE_CONFIG` or the
    /// XDG path names); every problem is listed with its line. Exit 2 if any.
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
    /// Print the effective configuration (environment over file over defaults) as TOML, each
    /// value with where it came from; secrets are masked.
    Print,
}

/// `faultline completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Checks an `http://` or `https://` URL.
pub fn parse_url(s: &str) -> Result<String, String> {
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(s.to_owned()),
        Ok(u) => Err(format!("scheme {:?}: use http:// or https://", u.scheme())),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

/// Parses `Name: value` (a request header).
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    crate::config::endpoint::parse_header(s)
}

/// Parses `30s`, `5m`, `1h30m`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration \"{s}\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_trace_id;

    #[test]
    fn trace_ids_are_32_hex_digits_or_16_zero_extended() {
        let id = parse_trace_id("0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            id.map(hex::encode).as_deref(),
            Ok("0af7651916cd43dd8448eb211c80319c")
        );
        let short = parse_trace_id("8448eb211c80319c");
        assert_eq!(
            short.map(hex::encode).as_deref(),
            Ok("00000000000000008448eb211c80319c")
        );
        for bad in ["", "xyz", "0af7651916cd43dd8448eb211c80319", "0af76519"] {
            assert!(parse_trace_id(bad).is_err(), "{bad}");
        }
    }
}
