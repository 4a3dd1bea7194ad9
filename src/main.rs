//! The `faultline` binary: parses the command line and hands over to `app`.

use std::process::ExitCode;

use faultline::app::{self, dashboard};
use faultline::cli::layers::{LayerError, parse_from};
use faultline::cli::{Command, print};

// mimalloc: ingest allocates many small, short-lived objects; glibc malloc spent a quarter of the
// decode path in malloc/free/consolidate (measured with perf on benches/ingest.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    faultline::ingest::tls_files::install_default_provider();
    let cli = match parse_from(std::env::args_os().collect()) {
        Ok((cli, _)) => cli,
        Err(LayerError::Clap(e)) => e.exit(),
        Err(LayerError::Config(e)) => return fail(&e.to_string()),
    };
    // The dashboards log to a file (the terminal is theirs); the other commands to stderr.
    let headless = !matches!(
        cli.command,
        None | Some(Command::Watch(_) | Command::Review(_) | Command::Demo(_))
    );
    if headless {
        app::init_stderr_logging(cli.log_file.as_deref());
    }
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
    let ui = dashboard::UiOptions {
        theme: cli.theme.clone(),
        log_file: cli.log_file.clone(),
    };
    let result: Result<ExitCode, String> = runtime.block_on(async move {
        let done = |r: Result<(), dashboard::DashboardError>| {
            r.map(|()| ExitCode::SUCCESS).map_err(|e| e.to_string())
        };
        match cli.command {
            Some(Command::Watch(args)) => done(dashboard::watch(args, ui).await),
            Some(Command::Review(args)) => done(dashboard::review(args, ui).await),
            Some(Command::Demo(args)) => done(dashboard::demo(args, ui).await),
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
            Some(Command::Trace(args)) => app::trace(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(Command::Compare(args)) => app::compare(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(Command::Rules(args)) => app::rules(args)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(Command::Config(args)) => print::config(&args.action)
                .map(|out| {
                    print!("{out}");
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.to_string()),
            Some(Command::Completions(args)) => {
                print!("{}", print::completions(args.shell));
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Man) => print::man()
                .and_then(|page| {
                    use std::io::Write;
                    std::io::stdout().write_all(&page)
                })
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.to_string()),
            None => done(dashboard::watch(cli.watch, ui).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Prints an error, one `faultline: error:` line per line of it; exit 2.
fn fail(e: &str) -> ExitCode {
    for line in e.lines() {
        eprintln!("faultline: error: {line}");
    }
    ExitCode::from(2)
}
