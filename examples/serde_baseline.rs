//! The baseline of `scripts/capture-perf.sh`: a one-thread `serde_json` decode of an OTLP/JSON
//! trace capture into `opentelemetry-proto` types, line by line, as a plain reader would do it
//! (nothing kept, nothing applied). Prints the number of spans decoded.
//!
//!     cargo run --release --example serde_baseline -- CAPTURE.jsonl

use std::io::BufRead;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

// The same allocator as the faultline binary, so the comparison is of the decoding.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: serde_baseline CAPTURE.jsonl")?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
    let (mut line, mut spans) = (Vec::new(), 0usize);
    while r.read_until(b'\n', &mut line)? > 0 {
        let req: ExportTraceServiceRequest = serde_json::from_slice(&line)?;
        spans += req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum::<usize>();
        line.clear();
    }
    println!("{spans} spans");
    Ok(())
}
