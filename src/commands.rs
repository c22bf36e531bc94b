//! The glue between parsed command-line arguments and the library: build options, call the
//! library, print, and return the exit code (0 pass, 1 threshold failed, 2 error,
//! 3 inconclusive).

use crate::check::{self, CheckOptions};
use crate::cli::{CheckArgs, RunArgs, ValidateArgs};
use crate::engine::{self, RunOptions};
use crate::report::{self, terminal, verdict};
use crate::scenario;
use crate::target::{self, Target, TargetRequest};
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Exit code: usage, scenario or connection error.
pub const EXIT_ERROR: u8 = 2;

/// `redline run`.
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let scenario = scenario::load_file(&args.scenario, &args.overrides)?;
    let request = TargetRequest {
        flag_url: args.redis.as_deref(),
        spec: &scenario.target,
    };
    let target = Target::open(&request, &target::process_env).await?;
    if let Some(why) = target.fallback_reason() {
        // One line, even with --quiet: a run that measures the wrong thing must say so.
        eprintln!(
            "warning: {why}; measuring the in-memory fallback instead, so the verdict will be \
             inconclusive (pass --redis URL, or set target.kind = \"memory\" to measure it on purpose)"
        );
    }
    let opts = RunOptions {
        run_id: None,
        keep_keys: args.keep_keys,
        seed: None,
    };
    let live = !args.quiet && std::io::stdout().is_terminal();
    let mut on_tick = move |line: &report::aggregate::LiveLine| {
        if live {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\x1b[K", terminal::live_line(line));
            let _ = err.flush();
        }
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let summary = engine::run(&scenario, &target, &opts, shutdown, &mut on_tick).await?;
    // Stops a server redline started, before the report is written.
    drop(target);
    if live {
        eprintln!();
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario.name, &summary));
    report::write_run_dir(&summary, &dir)
        .with_context(|| format!("cannot write the report to {}", dir.display()))?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        terminal::write_summary(&summary, &mut out)?;
        writeln!(out, "report: {}", dir.display())?;
    }
    Ok(verdict::exit_code(summary.verdict) as u8)
}

fn default_out(name: &str, summary: &report::summary::RunSummary) -> PathBuf {
    let stamp = summary.started_at.format("%Y%m%d-%H%M%S");
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// `redline check`.
pub async fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let opts = CheckOptions {
        url: args.redis,
        json: args.json,
    };
    let mut out = std::io::stdout().lock();
    let passed = check::run(&opts, &target::process_env, &mut out).await?;
    Ok(if passed { 0 } else { EXIT_ERROR })
}

/// `redline validate`.
pub fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let mut failed = 0;
    for file in &args.files {
        match scenario::load_file(file, &args.overrides) {
            Ok(s) => println!("ok: {} ({})", file.display(), s.name),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { EXIT_ERROR })
}
