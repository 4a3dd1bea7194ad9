//! Writes a synthetic capture (OTLP/JSON lines) with realistic trace structure for measuring
//! `faultline lint` and `faultline report` (`scripts/lint-perf.sh`, `scripts/capture-perf.sh`):
//!
//!     cargo run --release --example gen_capture -- OUT.jsonl [SPANS]
//!
//! The generator is `benches/common/capture_gen.rs` (shared with `benches/capture_load.rs`).

#[path = "../benches/common/capture_gen.rs"]
mod capture_gen;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "capture.jsonl".into());
    let target: u64 = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let (spans, traces) = capture_gen::write_capture(&mut w, target)?;
    eprintln!("wrote {spans} spans in {traces} traces to {out}");
    Ok(())
}
