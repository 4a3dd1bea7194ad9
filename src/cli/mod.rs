//! The command line (clap derive). Flags also come from `FAULTLINE_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::clock::TimeSpec;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod sources;

/// faultline: a terminal dashboard and linter for the resilience of distributed backends.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do; `watch` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `watch` when no subcommand is given.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Dashboard theme file (TOML; see assets/themes/). `NO_COLOR` turns colours off.
    #[arg(long, global = true, env = "FAULTLINE_THEME")]
    pub theme: Option<PathBuf>,
    /// Log file of the dashboard (default: faultline.log in the temp directory).
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
}

/// Where the receivers listen and what guards them.
#[derive(Debug, Args, Clone)]
pub struct ReceiverArgs {
    /// OTLP/gRPC listen address (port 0 picks a free port).
    #[arg(long, env = "FAULTLINE_OTLP_GRPC", default_value = "127.0.0.1:4317")]
    pub otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address (port 0 picks a free port).
    #[arg(long, env = "FAULTLINE_OTLP_HTTP", default_value = "127.0.0.1:4318")]
    pub otlp_http: SocketAddr,
    /// Require `Authorization: Bearer <token>` on both receivers.
    #[arg(long, env = "FAULTLINE_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Prometheus `/metrics` endpoints to scrape (repeatable).
    #[arg(long = "scrape", env = "FAULTLINE_SCRAPE", value_delimiter = ',')]
    pub scrape: Vec<String>,
    /// A Prometheus-compatible server to query with PromQL.
    #[arg(long, env = "FAULTLINE_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// Time between scrapes of each `--scrape` target.
    #[arg(long, env = "FAULTLINE_SCRAPE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub scrape_interval: Duration,
    /// Longest a scrape may take (at most the interval).
    #[arg(long, env = "FAULTLINE_SCRAPE_TIMEOUT", default_value = "4s", value_parser = parse_duration)]
    pub scrape_timeout: Duration,
    /// Bearer token sent to `--scrape` targets.
    #[arg(long, env = "FAULTLINE_SCRAPE_BEARER_TOKEN", hide_env_values = true)]
    pub scrape_bearer_token: Option<String>,
    /// Time between PromQL queries.
    #[arg(long, env = "FAULTLINE_PROMETHEUS_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub prometheus_interval: Duration,
    /// How far back the start-up PromQL range query reaches ("0s": none).
    #[arg(long, env = "FAULTLINE_PROMETHEUS_LOOKBACK", default_value = "15m", value_parser = parse_duration)]
    pub prometheus_lookback: Duration,
    /// Bearer token sent to the `--prometheus` server.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_BEARER_TOKEN",
        hide_env_values = true
    )]
    pub prometheus_bearer_token: Option<String>,
    /// A TOML file of metric sources (scrape targets with their own interval, timeout, token
    /// and headers; the PromQL server; profile directories).
    #[arg(long, env = "FAULTLINE_SOURCES")]
    pub sources: Option<PathBuf>,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
    /// Keep (and record) every scraped series, not only those a profile maps.
    #[arg(long, env = "FAULTLINE_SCRAPE_ALL_SERIES")]
    pub scrape_all_series: bool,
}

/// Memory bounds of the live store.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// How long raw traces are kept.
    #[arg(long, env = "FAULTLINE_RETENTION", default_value = "30m", value_parser = parse_duration)]
    pub retention: Duration,
    /// Most spans retained; whole traces are evicted oldest first.
    #[arg(long, env = "FAULTLINE_MAX_SPANS", default_value_t = 1_000_000)]
    pub max_spans: usize,
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
    /// A TOML configuration file.
    #[arg(long, env = "FAULTLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `faultline review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Capture files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Rules directory.
    #[arg(long)]
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
}

/// `faultline lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Capture files (none with `--live`).
    pub files: Vec<PathBuf>,
    /// Lint live telemetry: run the receivers for `--duration` (or until SIGINT/SIGTERM), then
    /// lint what arrived.
    #[arg(long)]
    pub live: bool,
    /// How long `--live` listens.
    #[arg(long, value_parser = parse_duration, requires = "live")]
    pub duration: Option<Duration>,
    /// Receivers for `--live`.
    #[command(flatten)]
    pub receivers: ReceiverArgs,
    /// Rules directory.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LintFormat,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value = "error")]
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
    /// Capture files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Only the last DUR before the capture's end (default: the whole capture).
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["from", "to"])]
    pub window: Option<Duration>,
    /// Window start: RFC 3339, or an offset from the capture's start (`+90s`) or back from
    /// its end (`-5m`). Default: the capture's start.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true)]
    pub from: Option<TimeSpec>,
    /// Window end (exclusive), as `--from`; the state shown is the state at this instant.
    /// Default: just after the capture's end.
    #[arg(long, value_parser = TimeSpec::parse, allow_hyphen_values = true)]
    pub to: Option<TimeSpec>,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
}

/// `faultline record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The capture file to write (OTLP/JSON lines).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, value_parser = parse_duration)]
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
}

/// `faultline alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Capture files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Rules directory (its `[[alert]]` tables; default: ./rules when present, else the
    /// built-in set).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Exit 1 when an alert at or above this severity fired.
    #[arg(long, value_enum, default_value = "critical")]
    pub fail_on: AlertFailOn,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
}

/// `faultline demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
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
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

/// Parses `30s`, `5m`, `1h30m`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration \"{s}\": {e}"))
}
