//! The `redline` binary: parse the command line, build the runtime, call the library and map
//! the outcome to an exit code (0 pass, 1 threshold failed, 2 error, 3 inconclusive).

use clap::Parser;
use redline::cli::{Cli, Command};
use std::process::ExitCode;

// The load engine allocates small buffers per command from many tasks at once; glibc's
// arena locks showed up in profiles, mimalloc's thread-local heaps do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The proxy on its own copies bytes on one thread: no wakeups across worker threads per
    // forwarded chunk, and it leaves the other cores to the load and to Redis.
    let runtime = match &cli.command {
        Command::Proxy(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::anyhow!(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => redline::commands::run(*args).await,
            Command::Check(args) => redline::commands::check(args).await,
            Command::Validate(args) => redline::commands::validate(args),
            Command::Clean(args) => redline::commands::clean(args).await,
            Command::Proxy(args) => redline::chaos::proxy::command::run(args).await,
            Command::Merge(args) => redline::commands::merge(args),
            Command::Compare(args) => redline::gate::compare_reports(args),
            Command::Report(args) => redline::rerender::run(args),
            Command::Size(args) => redline::size::command::command(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    if e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}
