//! The flags every live command shares: where the receivers listen and what guards them (TLS,
//! limits), the metric sources (scrape, PromQL, OTLP metrics), and the store's memory bounds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{parse_duration, parse_header, parse_url};

/// Where the receivers listen, what guards them, and the metric sources.
#[derive(Debug, Args, Clone)]
pub struct ReceiverArgs {
    /// OTLP/gRPC listen address (port 0 picks a free port).
    #[arg(
        long,
        env = "FAULTLINE_OTLP_GRPC",
        default_value = "127.0.0.1:4317",
        help_heading = "Receivers"
    )]
    pub otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address (port 0 picks a free port).
    #[arg(
        long,
        env = "FAULTLINE_OTLP_HTTP",
        default_value = "127.0.0.1:4318",
        help_heading = "Receivers"
    )]
    pub otlp_http: SocketAddr,
    /// Require `Authorization: Bearer <token>` on both receivers.
    #[arg(
        long,
        env = "FAULTLINE_AUTH_TOKEN",
        hide_env_values = true,
        help_heading = "Receivers"
    )]
    pub auth_token: Option<String>,
    /// A file holding the receivers' bearer token (read at start).
    #[arg(long, env = "FAULTLINE_AUTH_TOKEN_FILE", help_heading = "Receivers")]
    pub auth_token_file: Option<PathBuf>,
    /// Serve both receivers over TLS with this certificate chain (PEM; reloaded when it changes).
    #[arg(long, env = "FAULTLINE_TLS_CERT_FILE", help_heading = "Receivers")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of `--tls-cert-file` (PEM; reloaded when it changes).
    #[arg(long, env = "FAULTLINE_TLS_KEY_FILE", help_heading = "Receivers")]
    pub tls_key_file: Option<PathBuf>,
    /// Require client certificates signed by a CA of this bundle (PEM; mutual TLS).
    #[arg(long, env = "FAULTLINE_TLS_CLIENT_CA_FILE", help_heading = "Receivers")]
    pub tls_client_ca_file: Option<PathBuf>,

    /// Prometheus `/metrics` endpoints to scrape, `[JOB=]URL` (repeatable; added to the
    /// configuration file's `[[scrape]]` targets).
    #[arg(
        long = "scrape",
        env = "FAULTLINE_SCRAPE",
        value_delimiter = ',',
        help_heading = "Scrape"
    )]
    pub scrape: Vec<String>,
    /// Time between scrapes of each target.
    #[arg(long, env = "FAULTLINE_SCRAPE_INTERVAL", default_value = "5s", value_parser = parse_duration, help_heading = "Scrape")]
    pub scrape_interval: Duration,
    /// Longest a scrape may take (at most the interval).
    #[arg(long, env = "FAULTLINE_SCRAPE_TIMEOUT", default_value = "4s", value_parser = parse_duration, help_heading = "Scrape")]
    pub scrape_timeout: Duration,
    /// Bearer token sent to scrape targets.
    #[arg(
        long,
        env = "FAULTLINE_SCRAPE_BEARER_TOKEN",
        hide_env_values = true,
        help_heading = "Scrape"
    )]
    pub scrape_bearer_token: Option<String>,
    /// A file holding the scrape bearer token.
    #[arg(
        long,
        env = "FAULTLINE_SCRAPE_BEARER_TOKEN_FILE",
        help_heading = "Scrape"
    )]
    pub scrape_bearer_token_file: Option<PathBuf>,
    /// Basic auth user for scrape targets.
    #[arg(long, env = "FAULTLINE_SCRAPE_USERNAME", help_heading = "Scrape")]
    pub scrape_username: Option<String>,
    /// Basic auth password for scrape targets.
    #[arg(
        long,
        env = "FAULTLINE_SCRAPE_PASSWORD",
        hide_env_values = true,
        help_heading = "Scrape"
    )]
    pub scrape_password: Option<String>,
    /// A file holding the scrape basic auth password.
    #[arg(long, env = "FAULTLINE_SCRAPE_PASSWORD_FILE", help_heading = "Scrape")]
    pub scrape_password_file: Option<PathBuf>,
    /// Extra request header for scrape targets, `Name: value` (repeatable).
    #[arg(long = "scrape-header", id = "scrape_headers", env = "FAULTLINE_SCRAPE_HEADERS", value_parser = parse_header, help_heading = "Scrape")]
    pub scrape_headers: Vec<(String, String)>,
    /// CA bundle (PEM) to verify scrape targets with, instead of the system roots.
    #[arg(long, env = "FAULTLINE_SCRAPE_CA_FILE", help_heading = "Scrape")]
    pub scrape_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for scrape targets that require one.
    #[arg(long, env = "FAULTLINE_SCRAPE_CERT_FILE", help_heading = "Scrape")]
    pub scrape_cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, env = "FAULTLINE_SCRAPE_KEY_FILE", help_heading = "Scrape")]
    pub scrape_key_file: Option<PathBuf>,
    /// Do not verify scrape targets' certificates (insecure; warned on every use).
    #[arg(
        long,
        env = "FAULTLINE_SCRAPE_INSECURE_SKIP_VERIFY",
        help_heading = "Scrape"
    )]
    pub scrape_insecure_skip_verify: bool,
    /// Keep (and record) every scraped series, not only those a profile maps.
    #[arg(long, env = "FAULTLINE_SCRAPE_ALL_SERIES", help_heading = "Scrape")]
    pub scrape_all_series: bool,

    /// A Prometheus-compatible server to query with PromQL (`https://` for TLS; a path prefix
    /// such as `/prometheus` is kept).
    #[arg(long, env = "FAULTLINE_PROMETHEUS", value_parser = parse_url, help_heading = "Prometheus")]
    pub prometheus: Option<String>,
    /// Time between PromQL queries.
    #[arg(long, env = "FAULTLINE_PROMETHEUS_INTERVAL", default_value = "15s", value_parser = parse_duration, help_heading = "Prometheus")]
    pub prometheus_interval: Duration,
    /// Longest one query may take.
    #[arg(long, env = "FAULTLINE_PROMETHEUS_TIMEOUT", default_value = "10s", value_parser = parse_duration, help_heading = "Prometheus")]
    pub prometheus_timeout: Duration,
    /// How far back the start-up PromQL range query reaches ("0s": none).
    #[arg(long, env = "FAULTLINE_PROMETHEUS_LOOKBACK", default_value = "15m", value_parser = parse_duration, help_heading = "Prometheus")]
    pub prometheus_lookback: Duration,
    /// Step of the range query (default: the interval).
    #[arg(long, env = "FAULTLINE_PROMETHEUS_STEP", value_parser = parse_duration, help_heading = "Prometheus")]
    pub prometheus_step: Option<Duration>,
    /// Bearer token sent to the Prometheus server.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_BEARER_TOKEN",
        hide_env_values = true,
        help_heading = "Prometheus"
    )]
    pub prometheus_bearer_token: Option<String>,
    /// A file holding the Prometheus bearer token.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_BEARER_TOKEN_FILE",
        help_heading = "Prometheus"
    )]
    pub prometheus_bearer_token_file: Option<PathBuf>,
    /// Basic auth user for the Prometheus server.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_USERNAME",
        help_heading = "Prometheus"
    )]
    pub prometheus_username: Option<String>,
    /// Basic auth password for the Prometheus server.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_PASSWORD",
        hide_env_values = true,
        help_heading = "Prometheus"
    )]
    pub prometheus_password: Option<String>,
    /// A file holding the Prometheus basic auth password.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_PASSWORD_FILE",
        help_heading = "Prometheus"
    )]
    pub prometheus_password_file: Option<PathBuf>,
    /// Extra request header, `Name: value` (repeatable; e.g. `X-Scope-OrgID: team-a`).
    #[arg(long = "prometheus-header", id = "prometheus_headers", env = "FAULTLINE_PROMETHEUS_HEADERS", value_parser = parse_header, help_heading = "Prometheus")]
    pub prometheus_headers: Vec<(String, String)>,
    /// CA bundle (PEM) to verify the Prometheus server with, instead of the system roots.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_CA_FILE",
        help_heading = "Prometheus"
    )]
    pub prometheus_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for a Prometheus server that requires one.
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_CERT_FILE",
        help_heading = "Prometheus"
    )]
    pub prometheus_cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_KEY_FILE",
        help_heading = "Prometheus"
    )]
    pub prometheus_key_file: Option<PathBuf>,
    /// Do not verify the Prometheus server's certificate (insecure; warned on every use).
    #[arg(
        long,
        env = "FAULTLINE_PROMETHEUS_INSECURE_SKIP_VERIFY",
        help_heading = "Prometheus"
    )]
    pub prometheus_insecure_skip_verify: bool,

    /// A TOML file of metric sources: the configuration file's `profiles`, `[prometheus]` and
    /// `[[scrape]]` (kept for older setups; its entries are layered over the configuration
    /// file's).
    #[arg(long, env = "FAULTLINE_SOURCES")]
    pub sources: Option<PathBuf>,
    /// Extra metric mapping profile directories (`*.toml`, see assets/profiles).
    #[arg(long = "profiles", env = "FAULTLINE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<PathBuf>,
    /// `[[scrape]]` targets of the configuration file (set by `cli::layers`, not a flag).
    #[arg(skip)]
    pub scrape_targets: Vec<crate::config::endpoint::ScrapeEntry>,
}

/// Memory bounds of the live store.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// How long raw traces are kept.
    #[arg(long, env = "FAULTLINE_RETENTION", default_value = "30m", value_parser = parse_duration, help_heading = "Store")]
    pub retention: Duration,
    /// Most spans retained; whole traces are evicted oldest first.
    #[arg(
        long,
        env = "FAULTLINE_MAX_SPANS",
        default_value_t = 1_000_000,
        help_heading = "Store"
    )]
    pub max_spans: usize,
    /// Most log records retained in traces (whole traces are evicted oldest first past it);
    /// records without a trace id get a quarter of it more.
    #[arg(
        long,
        env = "FAULTLINE_MAX_LOGS",
        default_value_t = 400_000,
        help_heading = "Store"
    )]
    pub max_logs: usize,
}
