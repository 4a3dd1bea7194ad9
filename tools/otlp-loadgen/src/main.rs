//! `loadgen`: an OTLP trace load generator and its ceiling baseline.
//!
//! * `--mode send`: replay pre-encoded `ExportTraceServiceRequest` batches to a receiver over
//!   OTLP/gRPC or OTLP/HTTP-protobuf, closed loop (as fast as acks return) or open loop
//!   (`--rate` spans/s), and print one JSON line of results.
//! * `--mode decode`: decode the very same bytes with plain `prost` on one thread; this is the
//!   ceiling baseline that receiver throughput is divided by.
//! * `--mode sink`: a null receiver (HTTP/1.1 + h2, gRPC or HTTP) that drains request bodies and
//!   acks without decoding; used to show that the generator is not the bottleneck.
//!
//! The corpus is deterministic (`--seed`), so separate invocations use identical bytes; the JSON
//! line carries a digest of the corpus to prove it.

mod corpus;
mod sink;

use corpus::{Corpus, Shape as CorpusShape};

use bytes::{BufMut, Bytes};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use serde_json::json;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(Parser, Debug)]
#[command(version, about = "OTLP trace load generator, prost-decode baseline and null sink")]
struct Args {
    /// send: load a receiver; decode: prost-decode ceiling on one thread; sink: null receiver.
    #[arg(long, value_enum, default_value_t = Mode::Send)]
    mode: Mode,
    /// Receiver address, `host:port` or `http://host:port[/path]`. Defaults: grpc
    /// http://127.0.0.1:4317, http http://127.0.0.1:4318/v1/traces (path defaults to /v1/traces).
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    /// Spans per request.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Number of distinct pre-encoded batches, replayed round-robin.
    #[arg(long, default_value_t = 64)]
    distinct: usize,
    /// Send every replay with the same ids (a receiver that keeps spans then sees duplicates).
    /// Default: each replay of a batch XORs its trace, span and parent ids with the replay
    /// number, so every sent span is new and parent links stay consistent.
    #[arg(long)]
    repeat_ids: bool,
    /// Replay number of the first batch sent (fresh ids only): runs against the same receiver
    /// give each a different value, so a later run never repeats an earlier run's ids.
    #[arg(long, default_value_t = 0)]
    first_round: u64,
    /// Requests in flight at once (HTTP: one keep-alive connection each).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// gRPC only: HTTP/2 connections the in-flight requests are spread over.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Measured duration. Default 10 s, unless --spans is given.
    #[arg(long)]
    seconds: Option<f64>,
    /// Stop after this many measured spans have been sent (instead of, or as well as, --seconds).
    #[arg(long)]
    spans: Option<u64>,
    /// Open loop at this many spans/s (latency counted from the intended send time, so
    /// coordinated omission is corrected). Without it: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of load (or decoding) before measuring starts; not counted.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Tokio worker threads (1 = current-thread runtime; pin with taskset).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// gRPC only: use opentelemetry-proto's generated TraceServiceClient, which clones and
    /// re-encodes the message on every call (costs generator CPU). Default: replay raw bytes.
    #[arg(long)]
    typed: bool,
    /// Per-request timeout in seconds (a timeout counts as an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Corpus seed; the same seed gives byte-identical batches.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// spans: every span its own trace (old dates, unpaired). traces: 10-span traces across
    /// services (frontend SERVER root; 3 CLIENT calls answered by SERVER spans of other services,
    /// each with a database CLIENT span), spans grouped per service into requests as SDKs send
    /// them, so a call's two sides arrive in different requests; dated at corpus build time.
    #[arg(long, value_enum, default_value_t = Shape::Spans)]
    shape: Shape,
    /// sink only: address to listen on (gRPC and HTTP on the same port).
    #[arg(long, default_value = "127.0.0.1:4317")]
    listen: String,
}

#[derive(Copy, Clone, Debug, PartialEq, ValueEnum)]
enum Shape {
    Spans,
    Traces,
}

impl From<Shape> for CorpusShape {
    fn from(s: Shape) -> CorpusShape {
        match s {
            Shape::Spans => CorpusShape::Spans,
            Shape::Traces => CorpusShape::Traces,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, ValueEnum)]
enum Mode {
    Send,
    Decode,
    Sink,
}

#[derive(Copy, Clone, Debug, PartialEq, ValueEnum)]
enum Protocol {
    Grpc,
    Http,
}

// ---------------------------------------------------------------------------------------------
// decode mode: the ceiling baseline
// ---------------------------------------------------------------------------------------------

fn run_decode(args: &Args, corpus: &Corpus) -> serde_json::Value {
    let secs = args.seconds.unwrap_or(10.0);
    // Decode (and drop) batches round-robin for `dur`; returns (spans, bytes, elapsed).
    let pass = |dur: f64, mut k: usize| {
        let t = Instant::now();
        let (mut spans, mut bytes) = (0u64, 0u64);
        while t.elapsed().as_secs_f64() < dur {
            for _ in 0..8 {
                let b = &corpus.bodies[k % corpus.bodies.len()];
                k += 1;
                let req = ExportTraceServiceRequest::decode(black_box(&b[..])).expect("corpus decodes");
                spans += req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len() as u64).sum::<u64>();
                bytes += b.len() as u64;
                black_box(req);
            }
        }
        (spans, bytes, t.elapsed().as_secs_f64(), k)
    };
    let k = if args.warmup > 0.0 { pass(args.warmup, 0).3 } else { 0 };
    let cpu0 = cpu_seconds();
    let (spans, bytes, el, _) = pass(secs, k);
    let cpu = cpu_seconds() - cpu0;
    json!({
        "mode": "decode",
        "seconds": round3(el),
        "spans": spans,
        "spans_per_s": (spans as f64 / el).round(),
        "mib_per_s": round3(bytes as f64 / el / 1048576.0),
        "cpu_pct": (cpu / el * 1000.0).round() / 10.0,
        "corpus": corpus.json(),
    })
}

// ---------------------------------------------------------------------------------------------
// send mode: transports
// ---------------------------------------------------------------------------------------------

const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// gRPC codec that writes pre-encoded request bytes as-is and decodes the (tiny) response.
/// The generated `TraceServiceClient` hard-codes `ProstCodec`, which would re-encode the
/// message on every call; this codec posts the same bytes to the same method path instead.
#[derive(Clone, Copy)]
struct RawCodec {
    max_body: usize,
}
impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        *self
    }
    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}
impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
    fn buffer_settings(&self) -> BufferSettings {
        // Room for a whole body plus the 5-byte gRPC frame header: no regrowth per request.
        BufferSettings::new(self.max_body + 16, 1 << 20)
    }
}
impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        ExportTraceServiceResponse::decode(src).map(Some).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// What one request came back with.
enum Outcome {
    /// Acked; `rejected` = partial_success.rejected_spans.
    Ok { rejected: i64 },
    /// Back-pressure: gRPC RESOURCE_EXHAUSTED / UNAVAILABLE, HTTP 429 / 503.
    Refused,
    Error(String),
}

fn grpc_outcome(r: Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status>) -> Outcome {
    match r {
        Ok(resp) => Outcome::Ok { rejected: resp.into_inner().partial_success.map_or(0, |p| p.rejected_spans) },
        Err(s) if matches!(s.code(), tonic::Code::ResourceExhausted | tonic::Code::Unavailable) => Outcome::Refused,
        Err(s) => Outcome::Error(format!("grpc {:?}: {}", s.code(), s.message())),
    }
}

/// One in-flight slot. gRPC slots share HTTP/2 channels; each HTTP slot owns a keep-alive
/// HTTP/1.1 connection (reconnected after an error).
enum Slot {
    Grpc(tonic::client::Grpc<Channel>),
    GrpcTyped(TraceServiceClient<Channel>),
    Http { authority: String, path: String, conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> },
}

impl Slot {
    /// After a timeout: an HTTP/1.1 connection with an abandoned request cannot be reused.
    /// (A dropped gRPC call just resets its own HTTP/2 stream.)
    fn reset(&mut self) {
        if let Slot::Http { conn, .. } = self {
            *conn = None;
        }
    }

    async fn send(&mut self, corpus: &Corpus, k: usize, codec: RawCodec, fresh_ids: bool, first_round: u64) -> Outcome {
        let i = k % corpus.bodies.len();
        let round = if fresh_ids { first_round + (k / corpus.bodies.len()) as u64 } else { 0 };
        match self {
            Slot::Grpc(g) => {
                if let Err(e) = g.ready().await {
                    return Outcome::Error(format!("grpc channel not ready: {e}"));
                }
                let path = http::uri::PathAndQuery::from_static(TRACE_EXPORT_PATH);
                grpc_outcome(g.unary(tonic::Request::new(corpus.body(i, round)), path, codec).await)
            }
            Slot::GrpcTyped(c) => grpc_outcome(c.export(corpus.msgs[i].clone()).await),
            Slot::Http { authority, path, conn } => {
                if conn.as_ref().is_none_or(|c| c.is_closed()) {
                    match http_connect(authority).await {
                        Ok(c) => *conn = Some(c),
                        Err(e) => return Outcome::Error(format!("http connect: {e}")),
                    }
                }
                let c = conn.as_mut().unwrap();
                let req = http::Request::post(path.as_str())
                    .header(http::header::HOST, authority.as_str())
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(corpus.body(i, round)))
                    .expect("valid request");
                let out = async {
                    c.ready().await?;
                    let resp = c.send_request(req).await?;
                    let status = resp.status();
                    let body = resp.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>((status, body))
                }
                .await;
                match out {
                    Ok((s, body)) if s.is_success() => Outcome::Ok {
                        rejected: ExportTraceServiceResponse::decode(body).ok().and_then(|r| r.partial_success).map_or(0, |p| p.rejected_spans),
                    },
                    Ok((s, _)) if s.as_u16() == 429 || s.as_u16() == 503 => Outcome::Refused,
                    Ok((s, body)) => Outcome::Error(format!("http {s}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))),
                    Err(e) => {
                        *conn = None;
                        Outcome::Error(format!("http: {e}"))
                    }
                }
            }
        }
    }
}

async fn http_connect(addr: &str) -> std::io::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(tx)
}

/// Split `--endpoint` into (base URL without path, host:port, path).
fn parse_endpoint(args: &Args) -> (String, String, String) {
    let default = match args.protocol {
        Protocol::Grpc => "http://127.0.0.1:4317",
        Protocol::Http => "http://127.0.0.1:4318/v1/traces",
    };
    let raw = args.endpoint.clone().unwrap_or_else(|| default.to_string());
    let raw = if raw.contains("://") { raw } else { format!("http://{raw}") };
    let uri: http::Uri = raw.parse().expect("--endpoint must be host:port or http://host:port[/path]");
    let authority = uri.authority().expect("--endpoint needs host:port").to_string();
    let path = match uri.path() {
        "" | "/" => "/v1/traces".to_string(),
        p => p.to_string(),
    };
    (format!("http://{authority}"), authority, path)
}

async fn make_slots(args: &Args) -> Result<Vec<Slot>, String> {
    let (base, authority, path) = parse_endpoint(args);
    let mut slots = Vec::with_capacity(args.concurrency);
    match args.protocol {
        Protocol::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..args.connections.max(1) {
                let ep = Endpoint::from_shared(base.clone()).map_err(|e| e.to_string())?.tcp_nodelay(true);
                channels.push(ep.connect().await.map_err(|e| format!("connect {base}: {e:?}"))?);
            }
            for i in 0..args.concurrency {
                let ch = channels[i % channels.len()].clone();
                slots.push(if args.typed {
                    Slot::GrpcTyped(TraceServiceClient::new(ch))
                } else {
                    Slot::Grpc(tonic::client::Grpc::new(ch))
                });
            }
        }
        Protocol::Http => {
            for _ in 0..args.concurrency {
                let conn = http_connect(&authority).await.map_err(|e| format!("connect {authority}: {e}"))?;
                slots.push(Slot::Http { authority: authority.clone(), path: path.clone(), conn: Some(conn) });
            }
        }
    }
    Ok(slots)
}

// ---------------------------------------------------------------------------------------------
// send mode: the dispatcher
// ---------------------------------------------------------------------------------------------

/// Counters and the ack-latency histogram (microseconds), shared by all request tasks.
struct Stats {
    spans_sent: u64,
    spans_acked: u64,
    requests_ok: u64,
    refused: u64,
    errors: u64,
    rejected_spans: i64,
    first_error: Option<String>,
    lat_us: Histogram<u64>,
}

async fn run_send(args: &Args, corpus: Arc<Corpus>) -> serde_json::Value {
    let codec = RawCodec { max_body: corpus.bodies.iter().map(|b| b.len()).max().unwrap_or(0) };
    let fresh_ids = !args.repeat_ids;
    let first_round = args.first_round;
    let slots = match make_slots(args).await {
        Ok(s) => s,
        Err(e) => return json!({"mode": "send", "fatal": e}),
    };
    // The pool of idle slots doubles as the concurrency limit: a request can only start when
    // a slot is free, and it hands the slot back when its ack (or error) arrives.
    let (pool_tx, mut pool_rx) = tokio::sync::mpsc::channel::<Slot>(args.concurrency);
    for s in slots {
        pool_tx.send(s).await.ok();
    }
    let stats = Arc::new(Mutex::new(Stats {
        spans_sent: 0,
        spans_acked: 0,
        requests_ok: 0,
        refused: 0,
        errors: 0,
        rejected_spans: 0,
        first_error: None,
        lat_us: Histogram::new_with_bounds(1, 120_000_000, 3).unwrap(),
    }));

    let batch = corpus.spans_per_batch as u64;
    let seconds = args.seconds.or(if args.spans.is_some() { None } else { Some(10.0) });
    let interval = args.rate.map(|r| batch as f64 / r); // seconds between requests
    let timeout = Duration::from_secs_f64(args.timeout);
    let t0 = tokio::time::Instant::now();
    let measure_from = t0 + Duration::from_secs_f64(args.warmup);
    let deadline = seconds.map(|s| measure_from + Duration::from_secs_f64(s));
    let mut cpu0: Option<f64> = if args.warmup > 0.0 { None } else { Some(cpu_seconds()) };
    let (mut k, mut measured_spans) = (0usize, 0u64);

    loop {
        // Open loop: request k is due at t0 + k*interval, whether or not the receiver kept up.
        let due = match interval {
            Some(iv) => {
                let due = t0 + Duration::from_secs_f64(iv * k as f64);
                tokio::time::sleep_until(due).await;
                Some(due)
            }
            None => None,
        };
        let mut slot = pool_rx.recv().await.expect("pool never closes");
        let now = tokio::time::Instant::now();
        let reference = due.unwrap_or(now); // open loop: latency from the intended time
        // Stop at the deadline even if overdue (open-loop) requests are still queued: the
        // shortfall shows up as spans_offered > spans_sent.
        if deadline.is_some_and(|d| now >= d) || args.spans.is_some_and(|n| measured_spans >= n) {
            pool_tx.send(slot).await.ok();
            break;
        }
        let measured = reference >= measure_from;
        if measured {
            if cpu0.is_none() {
                cpu0 = Some(cpu_seconds());
            }
            measured_spans += batch;
        }
        let (corpus, stats, pool_tx) = (corpus.clone(), stats.clone(), pool_tx.clone());
        tokio::spawn(async move {
            let out = match tokio::time::timeout(timeout, slot.send(&corpus, k, codec, fresh_ids, first_round)).await {
                Ok(o) => o,
                Err(_) => {
                    slot.reset();
                    Outcome::Error("timeout".into())
                }
            };
            let lat = reference.elapsed();
            pool_tx.send(slot).await.ok();
            if !measured {
                return;
            }
            let mut s = stats.lock().unwrap();
            s.spans_sent += batch;
            match out {
                Outcome::Ok { rejected } => {
                    s.requests_ok += 1;
                    s.spans_acked += batch;
                    s.rejected_spans += rejected;
                    s.lat_us.saturating_record(lat.as_micros() as u64);
                }
                Outcome::Refused => s.refused += 1,
                Outcome::Error(e) => {
                    s.errors += 1;
                    s.first_error.get_or_insert(e);
                }
            }
        });
        k += 1;
    }
    // Wait for every in-flight request: all slots back in the pool.
    for _ in 0..args.concurrency {
        drop(pool_rx.recv().await);
    }
    let end = tokio::time::Instant::now();
    let elapsed = end.saturating_duration_since(measure_from).as_secs_f64();
    let cpu = cpu_seconds() - cpu0.unwrap_or_else(cpu_seconds);
    let s = stats.lock().unwrap();
    let q = |p: f64| round3(s.lat_us.value_at_quantile(p) as f64 / 1000.0);
    // Open loop: requests due in [measure_from, deadline), i.e. what the schedule asked for.
    let offered = match (interval, deadline) {
        (Some(iv), Some(d)) => {
            let due_before = |t: tokio::time::Instant| ((t - t0).as_secs_f64() / iv).ceil() as u64;
            Some((due_before(d) - due_before(measure_from)) * batch)
        }
        _ => None,
    };
    json!({
        "mode": "send",
        "protocol": format!("{:?}", args.protocol).to_lowercase() + if args.typed { "-typed" } else { "" },
        "endpoint": args.endpoint,
        "loop": if interval.is_some() { "open" } else { "closed" },
        "fresh_ids": fresh_ids && !args.typed,
        "target_spans_per_s": args.rate,
        "concurrency": args.concurrency,
        "seconds": round3(elapsed),
        "spans_per_s_acked": (s.spans_acked as f64 / elapsed).round(),
        "spans_offered": offered,
        "spans_sent": s.spans_sent,
        "spans_acked": s.spans_acked,
        "requests_ok": s.requests_ok,
        "refused": s.refused,
        "errors": s.errors,
        "rejected_spans": s.rejected_spans,
        "first_error": s.first_error,
        "ack_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999), "max": round3(s.lat_us.max() as f64 / 1000.0)},
        "gen_cpu_pct": (cpu / elapsed * 1000.0).round() / 10.0,
        "corpus": corpus.json(),
    })
}

// ---------------------------------------------------------------------------------------------
// helpers and main
// ---------------------------------------------------------------------------------------------

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn main() {
    let args = Args::parse();
    assert!(args.batch > 0 && args.distinct > 0 && args.concurrency > 0, "--batch, --distinct, --concurrency must be > 0");
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    }
    .expect("tokio runtime");

    let out = match args.mode {
        Mode::Sink => rt.block_on(sink::run(&args.listen)),
        Mode::Decode => run_decode(&args, &Corpus::build(args.distinct, args.batch, args.seed, false, args.shape.into())),
        Mode::Send => {
            let corpus = Arc::new(Corpus::build(args.distinct, args.batch, args.seed, args.typed, args.shape.into()));
            rt.block_on(run_send(&args, corpus))
        }
    };
    println!("{out}");
    if out.get("fatal").is_some() {
        std::process::exit(1);
    }
}
