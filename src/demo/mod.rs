//! `faultline demo`: a built-in simulated system that exports real OTLP over loopback gRPC to
//! faultline's own receivers, so the whole pipeline runs (receiver → decode → store → snapshot →
//! dashboard). `sim` is the deterministic simulation, `otlp` its export requests, `rng` the seeded
//! generator. No terminal code here.

pub mod otlp;
pub mod rng;
pub mod sim;

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::store::task::now_unix_ns;

/// How often the simulation exports.
pub const EXPORT_EVERY: Duration = Duration::from_millis(200);

/// A running demo exporter.
pub struct Demo {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Demo {
    /// Stops exporting and waits for the task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Exports `seconds` of simulated traffic ending now, as fast as the receiver at `grpc` accepts it
/// (retrying refusals): a quick way to fill a capture (`faultline record`) for review tests and
/// docs. Returns the number of spans exported.
pub async fn backfill(seed: u64, grpc: SocketAddr, seconds: u64) -> Result<usize, String> {
    let end = now_unix_ns();
    let start = end.saturating_sub(seconds * 1_000_000_000);
    let mut sim = sim::Sim::new(seed, start);
    let ch = Channel::from_shared(format!("http://{grpc}"))
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {grpc}: {e}"))?;
    let mut traces = TraceServiceClient::new(ch.clone());
    let mut metrics = MetricsServiceClient::new(ch);
    let mut sent = 0usize;
    for s in 1..=seconds {
        let t = start + s * 1_000_000_000;
        let spans = sim.step(t);
        let req = otlp::traces(&spans);
        let mut tries = 0;
        loop {
            match traces.export(req.clone()).await {
                Ok(_) => break,
                Err(e) if tries < 50 && e.code() == tonic::Code::Unavailable => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(format!("trace export failed: {e}")),
            }
        }
        sent += spans.len();
        metrics
            .export(otlp::metrics(&sim.gauges(t), t, start))
            .await
            .map_err(|e| format!("metrics export failed: {e}"))?;
    }
    Ok(sent)
}

/// Starts the simulation with `seed`, exporting to the gRPC receiver at `grpc`.
pub fn spawn(seed: u64, grpc: SocketAddr) -> Demo {
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let start = now_unix_ns();
        let mut sim = sim::Sim::new(seed, start);
        let endpoint = format!("http://{grpc}");
        let mut clients: Option<(TraceServiceClient<Channel>, MetricsServiceClient<Channel>)> =
            None;
        let mut tick = tokio::time::interval(EXPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_metrics = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            let now = now_unix_ns();
            let spans = sim.step(now);
            if clients.is_none() {
                match Channel::from_shared(endpoint.clone()) {
                    Ok(ep) => match ep.tcp_nodelay(true).connect().await {
                        Ok(ch) => {
                            clients = Some((
                                TraceServiceClient::new(ch.clone()),
                                MetricsServiceClient::new(ch),
                            ))
                        }
                        Err(e) => tracing::warn!("demo: cannot connect to {endpoint}: {e}"),
                    },
                    Err(e) => {
                        tracing::error!("demo: bad endpoint {endpoint}: {e}");
                        break;
                    }
                }
            }
            let Some((traces, metrics)) = clients.as_mut() else {
                continue;
            };
            if !spans.is_empty()
                && let Err(e) = traces.export(otlp::traces(&spans)).await
            {
                tracing::warn!(
                    "demo: trace export failed ({} spans dropped): {e}",
                    spans.len()
                );
            }
            if now.saturating_sub(last_metrics) >= 1_000_000_000 {
                last_metrics = now;
                if let Err(e) = metrics
                    .export(otlp::metrics(&sim.gauges(now), now, start))
                    .await
                {
                    tracing::warn!("demo: metrics export failed: {e}");
                }
            }
        }
    });
    Demo { stop, task }
}
