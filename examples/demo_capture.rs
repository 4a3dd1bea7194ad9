//! Sends `SECONDS` (default 120) of the demo system's traffic, ending now, to an OTLP/gRPC
//! receiver as fast as it accepts it: a quick way to make a capture to try `faultline review` on.
//!
//! ```sh
//! faultline record --out /tmp/demo.jsonl --otlp-grpc 127.0.0.1:4417 --otlp-http 127.0.0.1:0 &
//! cargo run --example demo_capture -- 127.0.0.1:4417 120
//! kill %1 && faultline review /tmp/demo.jsonl
//! ```

use std::net::SocketAddr;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!(
            "usage: demo_capture ADDR [SECONDS] [SEED]   (ADDR: the OTLP/gRPC receiver, e.g. 127.0.0.1:4317)"
        );
        return std::process::ExitCode::from(2);
    };
    let seconds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(120);
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo_capture: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(faultline::demo::backfill(seed, addr, seconds)) {
        Ok(n) => {
            eprintln!(
                "demo_capture: sent {n} spans ({seconds} s of traffic, seed {seed}) to {addr}"
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo_capture: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
