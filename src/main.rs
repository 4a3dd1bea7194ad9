//! The `faultline` binary: parses the command line and hands over to `app`.

use std::process::ExitCode;

use clap::Parser;
use faultline::app;
use faultline::cli::{Cli, Command};

// mimalloc: ingest allocates many small, short-lived objects; glibc malloc spent a quarter of the
// decode path in malloc/free/consolidate (measured with perf on benches/ingest.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("faultline: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result: Result<ExitCode, String> = runtime.block_on(async move {
        match cli.command {
            Some(Command::Record(args)) => app::record(args).await.map(|()| ExitCode::SUCCESS).map_err(|e| e.to_string()),
            Some(Command::Report(args)) => app::report(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(other) => Err(format!("{} is not available in this build yet", command_name(&other))),
            None => Err("watch is not available in this build yet; try `faultline record` or `faultline report`".into()),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Watch(_) => "watch",
        Command::Review(_) => "review",
        Command::Lint(_) => "lint",
        Command::Report(_) => "report",
        Command::Record(_) => "record",
        Command::Demo(_) => "demo",
        Command::Rules(_) => "rules",
    }
}
