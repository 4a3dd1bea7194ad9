//! The `faultline` binary: parses the command line and hands over to `app`.

use std::process::ExitCode;

use clap::Parser;
use faultline::cli::{Cli, Command};
use faultline::{app, tui};

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
    let ui = faultline::tui::UiOptions {
        theme: cli.theme.clone(),
        log_file: cli.log_file.clone(),
    };
    let result: Result<ExitCode, String> = runtime.block_on(async move {
        let done = |r: Result<(), faultline::tui::TuiError>| {
            r.map(|()| ExitCode::SUCCESS).map_err(|e| e.to_string())
        };
        match cli.command {
            Some(Command::Watch(args)) => done(tui::watch(args, ui).await),
            Some(Command::Review(args)) => done(tui::review(args, ui).await),
            Some(Command::Demo(args)) => done(tui::demo(args, ui).await),
            Some(Command::Record(args)) => app::record(args)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.to_string()),
            Some(Command::Report(args)) => app::report(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(Command::Lint(args)) => app::lint(args)
                .await
                .map(|out| {
                    print!("{}", out.output);
                    ExitCode::from(out.exit)
                })
                .map_err(|e| e.to_string()),
            Some(Command::Alerts(args)) => app::alerts(args)
                .map(|out| {
                    print!("{}", out.output);
                    ExitCode::from(out.exit)
                })
                .map_err(|e| e.to_string()),
            Some(Command::Rules(args)) => app::rules(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            None => done(tui::watch(cli.watch, ui).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            for line in e.lines() {
                eprintln!("faultline: error: {line}");
            }
            ExitCode::from(2)
        }
    }
}
