//! From the command line (after the configuration layers) to `ingest`'s plain configuration:
//! the metric sources ([`MetricSources`]: `--scrape` and `[[scrape]]` targets over the
//! `[scrape_defaults]`, the `[prometheus]` server, profile directories) and the receivers'
//! [`ReceiverConfig`]. Secret files are read here, once, at start.

use std::path::Path;

use super::ReceiverArgs;
use crate::config::endpoint::EndpointSpec;
use crate::ingest::prom_query::PromQuery;
use crate::ingest::prom_scrape::ScrapeTarget;
use crate::ingest::receivers::{ReceiverConfig, ServerTls};
use crate::ingest::sources::MetricSources;

/// Metric source settings that cannot be used (names the source and the setting).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourcesError(pub String);

/// The `[scrape_defaults]` (`--scrape-*` flags) as an endpoint spec.
fn scrape_defaults(a: &ReceiverArgs) -> EndpointSpec {
    EndpointSpec {
        interval: Some(a.scrape_interval),
        timeout: Some(a.scrape_timeout),
        bearer_token: a.scrape_bearer_token.clone(),
        bearer_token_file: a.scrape_bearer_token_file.clone(),
        username: a.scrape_username.clone(),
        password: a.scrape_password.clone(),
        password_file: a.scrape_password_file.clone(),
        headers: a.scrape_headers.clone(),
        ca_file: a.scrape_ca_file.clone(),
        cert_file: a.scrape_cert_file.clone(),
        key_file: a.scrape_key_file.clone(),
        insecure_skip_verify: Some(a.scrape_insecure_skip_verify),
    }
}

/// The `[prometheus]` (`--prometheus-*` flags) as an endpoint spec.
fn prometheus_spec(a: &ReceiverArgs) -> EndpointSpec {
    EndpointSpec {
        interval: Some(a.prometheus_interval),
        timeout: Some(a.prometheus_timeout),
        bearer_token: a.prometheus_bearer_token.clone(),
        bearer_token_file: a.prometheus_bearer_token_file.clone(),
        username: a.prometheus_username.clone(),
        password: a.prometheus_password.clone(),
        password_file: a.prometheus_password_file.clone(),
        headers: a.prometheus_headers.clone(),
        ca_file: a.prometheus_ca_file.clone(),
        cert_file: a.prometheus_cert_file.clone(),
        key_file: a.prometheus_key_file.clone(),
        insecure_skip_verify: Some(a.prometheus_insecure_skip_verify),
    }
}

/// The metric sources: `--scrape` targets and the file's `[[scrape]]` tables (each over the
/// `[scrape_defaults]`), the `[prometheus]` server, the profile directories.
pub fn metric_sources(args: &ReceiverArgs) -> Result<MetricSources, SourcesError> {
    let mut out = MetricSources {
        profile_dirs: args.profiles.clone(),
        ..Default::default()
    };
    let defaults = scrape_defaults(args);
    let target = |arg: &str, job: Option<&String>, spec: &EndpointSpec, what: &str| {
        // Both are set: the defaults carry the flags' values.
        let interval = spec.interval.unwrap_or(args.scrape_interval);
        let timeout = spec.timeout.unwrap_or(args.scrape_timeout).min(interval);
        let mut t = ScrapeTarget::from_arg(arg, interval, timeout);
        if let Some(job) = job {
            t.job = job.clone();
        }
        check_url(&t.url, what)?;
        t.client = spec.client(what).map_err(SourcesError)?;
        Ok::<_, SourcesError>(t)
    };
    for s in &args.scrape {
        out.scrape
            .push(target(s, None, &defaults, &format!("--scrape {s}"))?);
    }
    for e in &args.scrape_targets {
        let spec = e.spec.over(&defaults);
        let what = format!("scrape {} ({})", e.url, e.at);
        out.scrape
            .push(target(&e.url, e.job.as_ref(), &spec, &what)?);
    }
    if let Some(url) = &args.prometheus {
        let what = format!("prometheus {url}");
        check_url(url, &what)?;
        let spec = prometheus_spec(args);
        let mut q = PromQuery::new(url);
        q.interval = args.prometheus_interval;
        q.timeout = args.prometheus_timeout;
        q.lookback = args.prometheus_lookback;
        q.step = args.prometheus_step.unwrap_or(args.prometheus_interval);
        q.client = spec.client(&what).map_err(SourcesError)?;
        out.prometheus = Some(q);
    }
    Ok(out)
}

fn check_url(url: &str, what: &str) -> Result<(), SourcesError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(SourcesError(format!(
            "{what}: scheme {:?} (use http:// or https://)",
            u.scheme()
        ))),
        Err(e) => Err(SourcesError(format!("{what}: invalid URL: {e}"))),
    }
}

/// The receivers' configuration: addresses, the bearer token (or its file), TLS.
pub fn receiver_config(args: &ReceiverArgs) -> Result<ReceiverConfig, SourcesError> {
    let read = |what: &str, f: &Path| {
        std::fs::read_to_string(f)
            .map(|s| s.trim().to_owned())
            .map_err(|e| SourcesError(format!("{what} {}: {e}", f.display())))
    };
    let token = match (&args.auth_token, &args.auth_token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => Some(read("--auth-token-file", f)?),
        (None, None) => None,
    };
    let tls = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => Some(ServerTls {
            cert_file: cert.clone(),
            key_file: key.clone(),
            client_ca_file: args.tls_client_ca_file.clone(),
        }),
        (None, None) if args.tls_client_ca_file.is_some() => {
            return Err(SourcesError(
                "receivers: tls_client_ca_file needs tls_cert_file and tls_key_file".into(),
            ));
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(SourcesError(
                "receivers: tls_cert_file is set without tls_key_file".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(SourcesError(
                "receivers: tls_key_file is set without tls_cert_file".into(),
            ));
        }
    };
    Ok(ReceiverConfig {
        otlp_grpc: args.otlp_grpc,
        otlp_http: args.otlp_http,
        auth_token: token,
        tls,
    })
}
