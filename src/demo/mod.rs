//! `faultline demo`: a built-in simulated system that exports real OTLP over loopback to
//! faultline's own receivers — traces over gRPC, metrics over HTTP (protobuf), as an application
//! with an OTel SDK and a Micrometer OTLP registry would — so the whole pipeline runs (receivers
//! → decode → store → snapshot → rules → dashboard). `sim` is the deterministic simulation
//! (`services` its calls, `bulkhead` checkout's thread-pool bulkhead), [`Driver`] what is sent at
//! each tick, `otlp` the export requests, `rng` the seeded generator. No terminal code here.

pub mod bulkhead;
pub mod otlp;
pub mod rng;
mod services;
pub mod sim;

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::store::task::now_unix_ns;

/// How often the simulation exports traces.
pub const EXPORT_EVERY: Duration = Duration::from_millis(200);
/// How often it exports metrics.
pub const METRICS_EVERY: Duration = Duration::from_secs(1);

/// What the demo exports, tick by tick, without the network: the live demo, and tests that run
/// the same story in simulated time.
#[derive(Debug)]
pub struct Driver {
    sim: sim::Sim,
    start: u64,
    last_metrics: Option<u64>,
}

impl Driver {
    /// The simulation with `seed`, starting at `start_ns`.
    pub fn new(seed: u64, start_ns: u64) -> Driver {
        Driver {
            sim: sim::Sim::new(seed, start_ns),
            start: start_ns,
            last_metrics: None,
        }
    }

    /// Advances to `now_ns`: the spans that ended by then (`None` when there are none), and
    /// checkout's metrics when [`METRICS_EVERY`] has passed since the last ones.
    pub fn tick(
        &mut self,
        now_ns: u64,
    ) -> (
        Option<ExportTraceServiceRequest>,
        Option<ExportMetricsServiceRequest>,
    ) {
        let spans = self.sim.step(now_ns);
        let traces = (!spans.is_empty()).then(|| otlp::traces(&spans));
        let every = METRICS_EVERY.as_nanos() as u64;
        let metrics = self
            .last_metrics
            .is_none_or(|last| now_ns.saturating_sub(last) >= every)
            .then(|| {
                self.last_metrics = Some(now_ns);
                otlp::metrics(&self.sim.gauges(now_ns), now_ns, self.start)
            });
        (traces, metrics)
    }

    /// The simulation.
    pub fn sim(&self) -> &sim::Sim {
        &self.sim
    }
}

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
    let mut driver = Driver::new(seed, start);
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
        let (spans, gauges) = driver.tick(t);
        if let Some(req) = spans {
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
            sent += req
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>();
        }
        if let Some(req) = gauges {
            metrics
                .export(req)
                .await
                .map_err(|e| format!("metrics export failed: {e}"))?;
        }
    }
    Ok(sent)
}

/// Starts the simulation with `seed`, exporting traces to the OTLP/gRPC receiver at `grpc` and
/// metrics to the OTLP/HTTP receiver at `http`.
pub fn spawn(seed: u64, grpc: SocketAddr, http: SocketAddr) -> Demo {
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut driver = Driver::new(seed, now_unix_ns());
        let endpoint = format!("http://{grpc}");
        let metrics_url = format!("http://{http}/v1/metrics");
        let web = reqwest::Client::new();
        let mut traces: Option<TraceServiceClient<Channel>> = None;
        let mut tick = tokio::time::interval(EXPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            let (spans, metrics) = driver.tick(now_unix_ns());
            if traces.is_none() {
                match Channel::from_shared(endpoint.clone()) {
                    Ok(ep) => match ep.tcp_nodelay(true).connect().await {
                        Ok(ch) => traces = Some(TraceServiceClient::new(ch)),
                        Err(e) => tracing::warn!("demo: cannot connect to {endpoint}: {e}"),
                    },
                    Err(e) => {
                        tracing::error!("demo: bad endpoint {endpoint}: {e}");
                        break;
                    }
                }
            }
            if let (Some(client), Some(req)) = (traces.as_mut(), spans)
                && let Err(e) = client.export(req).await
            {
                tracing::warn!("demo: trace export failed: {e}");
            }
            if let Some(req) = metrics {
                let sent = web
                    .post(&metrics_url)
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(req.encode_to_vec())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                if let Err(e) = sent {
                    tracing::warn!("demo: metrics export to {metrics_url} failed: {e}");
                }
            }
        }
    });
    Demo { stop, task }
}
