//! The glue between parsed command-line arguments and the library: build options, call the
//! library, print, and return the exit code (0 pass, 1 threshold failed, 2 error,
//! 3 inconclusive).

use crate::cache::sweep;
use crate::check::{self, CheckOptions};
use crate::cli::{CheckArgs, CleanArgs, MergeArgs, RunArgs, ValidateArgs};
use crate::engine::{self, RunOptions};
use crate::out_dir;
use crate::report::live::{LiveMode, LiveView};
use crate::report::summary::CleanupOutcome;
use crate::report::{self, terminal, verdict, RenderOptions};
use crate::scale::metrics::LiveMetrics;
use crate::scale::run_plan::{ScaleArgs, ScalePlan};
use crate::scenario;
use crate::shutdown::Shutdown;
use crate::target::{self, Target, TargetError, TargetRequest};
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

/// Exit code: usage, scenario or connection error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: interrupted by SIGINT/SIGTERM (inconclusive).
pub const EXIT_INTERRUPTED: u8 = 3;

/// `redline run`. SIGINT and SIGTERM stop the run in any phase: the first writes the partial
/// report and removes the run's keys, the second skips that cleanup (exit 3 either way).
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let shutdown = Shutdown::on_signals().context("cannot install the SIGINT/SIGTERM handlers")?;
    let mut scenario = match scenario::load_file_all(&args.scenario, &args.overrides) {
        Ok(s) => s,
        Err(errors) => return Ok(print_errors(&errors)),
    };
    let scale = ScaleArgs {
        shard: args.shard.as_deref(),
        run_id: args.run_id.as_deref(),
        start_at: args.start_at.as_deref(),
        wait: args.shard_wait.as_deref(),
    };
    let plan = ScalePlan::new(&scale, &target::process_env, chrono::Utc::now())?;
    // The scenario describes the whole run; this generator runs its shard's share.
    let shard_info = plan.apply(&mut scenario)?;
    let run_id = plan
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{:08x}", rand::random::<u32>()));
    // Bound before any load, so a busy port is an error, not a run nobody can watch.
    let metrics = match args.metrics_addr {
        Some(addr) => {
            let m = Arc::new(LiveMetrics::new(&scenario.name, &run_id, &plan.label()));
            let server =
                (m.serve(addr).await).with_context(|| format!("cannot serve metrics on {addr}"))?;
            if !args.quiet {
                eprintln!("metrics: http://{}/metrics", server.local_addr());
            }
            Some((m, server))
        }
        None => None,
    };
    // A bad baseline is refused before any load.
    let gate = crate::gate::RunGate::prepare(&args.gate, &scenario.name)?;
    // The report folder is settled before any load, so a bad --out loses no results.
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    let existed = args.out.as_deref().is_some_and(|p| p.exists());
    let dir = out_dir::prepare(args.out.as_deref(), &scenario.name, &stamp, args.force)?;
    // A run that ends without a report leaves no empty folder made for it (remove_dir only
    // removes an empty one).
    let discard_dir = || {
        if !existed {
            let _ = std::fs::remove_dir(&dir);
        }
    };
    let request = TargetRequest {
        flag_url: args.redis.as_deref(),
        spec: &scenario.target,
    };
    // Ok(target), or the phase a stop request interrupted.
    let opened = match Target::open_until(&request, &target::process_env, &shutdown).await {
        Ok(target) => Ok(target),
        Err(TargetError::Interrupted(phase)) => Err(phase),
        Err(e) => {
            discard_dir();
            return Err(e.into());
        }
    };
    if let Some(t) = opened.as_ref().ok().filter(|_| plan.sharded()) {
        if t.embedded().is_some() || t.provider() != report::Provider::Redis {
            discard_dir();
            anyhow::bail!(
                "a sharded run needs one Redis server every shard shares: pass --redis URL \
                 (or REDIS_URL); an embedded server or the in-memory store is each \
                 generator's own"
            );
        }
    }
    if let Some(why) = opened.as_ref().ok().and_then(|t| t.fallback_reason()) {
        // One line, even with --quiet: a run that measures the wrong thing must say so.
        eprintln!(
            "warning: {why}; measuring the in-memory fallback instead, so the verdict will be \
             inconclusive (pass --redis URL, or set target.kind = \"memory\" to measure it on purpose)"
        );
    }
    let opts = RunOptions {
        run_id: Some(run_id.clone()),
        keep_keys: args.keep_keys,
        peers: plan.peers(),
        observer: metrics.as_ref().map(|(m, _)| m.clone() as _),
        ..RunOptions::default()
    };
    // Warmup plus the measured phase: the live view's "left"; unknown for a run stopped by
    // operation count alone.
    let planned = scenario.load.duration.map(|d| d + scenario.load.warmup);
    let mode = LiveMode::choose(args.quiet, std::io::stderr().is_terminal());
    let mut view = LiveView::stderr(mode, planned);
    let mut on_tick = |line: &report::aggregate::LiveLine| view.tick(line);
    let summary = match opened {
        Ok(mut target) => {
            // A drill's network faults (and redis_calls_while_open) need the fault proxy
            // between the cache layer and Redis; it stops with the target.
            if crate::chaos::needs_proxy(&scenario) && target.admin().is_some() {
                if let Err(e) = target.place_fault_proxy() {
                    discard_dir();
                    return Err(e.into());
                }
            }
            let summary = match engine::run(&scenario, &target, &opts, shutdown, &mut on_tick).await
            {
                Ok(summary) => summary,
                Err(e) => {
                    discard_dir();
                    return Err(e.into());
                }
            };
            // Stops a server redline started, before the report is written.
            drop(target);
            summary
        }
        Err(phase) => engine::aborted_before_load(&scenario, phase, unopened(&scenario, &run_id)),
    };
    let mut summary = summary;
    summary.shard = shard_info;
    view.finish();
    // Said on stderr even with --quiet: someone has to remove those keys.
    let left = summary
        .cleanup
        .as_ref()
        .filter(|c| matches!(c.outcome, CleanupOutcome::Skipped | CleanupOutcome::Failed));
    if let Some(sentence) = left.and_then(|c| c.sentence()) {
        eprintln!("warning: {sentence}");
    }
    report::write_report_json(&summary, &dir)
        .with_context(|| format!("cannot write the report to {}", dir.display()))?;
    let render = RenderOptions { png: args.png };
    report::render_all(&summary, gate.baseline(), &dir, &render)
        .with_context(|| format!("cannot write the report to {}", dir.display()))?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        terminal::write_summary(&summary, &mut out)?;
        writeln!(out, "report: {}", dir.display())?;
    }
    let code = verdict::exit_code(summary.verdict) as u8;
    gate.finish(&summary, &dir, code, args.quiet)
}

/// `redline merge`: one report from a sharded run's reports; exits with the merged
/// verdict's code (2 when the reports cannot be merged).
pub fn merge(args: MergeArgs) -> anyhow::Result<u8> {
    let summary = crate::scale::merge::from_files(&args.reports)?;
    let dir = out_dir::prepare(Some(&args.out), &summary.scenario.name, "", args.force)?;
    report::write_run_dir(&summary, &dir)
        .with_context(|| format!("cannot write the report to {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    terminal::write_summary(&summary, &mut out)?;
    writeln!(out, "report: {}", dir.display())?;
    Ok(verdict::exit_code(summary.verdict) as u8)
}

/// What a report says about a target that was never opened (the run was interrupted while
/// its server started or while connecting).
fn unopened(scenario: &scenario::Scenario, run_id: &str) -> report::summary::TargetInfo {
    report::summary::TargetInfo {
        kind: scenario.target.kind,
        provider: report::summary::Provider::Redis,
        server_version: None,
        url: None,
        warning: None,
        run_id: run_id.to_string(),
        key_prefix: None,
        cluster_batches: None,
    }
}

/// Prints every problem of a scenario, one `error:` line each; returns the exit code.
fn print_errors(errors: &scenario::ScenarioErrors) -> u8 {
    for e in errors.all() {
        eprintln!("error: {e}");
    }
    EXIT_ERROR
}

/// `redline check`.
pub async fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let shutdown = Shutdown::on_signals().context("cannot install the SIGINT/SIGTERM handlers")?;
    let opts = CheckOptions {
        url: args.redis,
        json: args.json,
        shutdown: shutdown.clone(),
    };
    let mut out = std::io::stdout().lock();
    // A stop ends the check where it is: dropping it stops an embedded server (its dir
    // removed). The check is polled first so that a start in progress sees the stop
    // through `opts.shutdown` and is cancelled before the check is dropped. The check's
    // keys carry a TTL of a minute at most, so none outlive an interrupted check for long.
    let result = tokio::select! {
        biased;
        r = check::run(&opts, &target::process_env, &mut out) => Some(r),
        _ = shutdown.stopping() => None,
    };
    match result {
        Some(Ok(passed)) => Ok(if passed { 0 } else { EXIT_ERROR }),
        Some(Err(e)) if !shutdown.is_stopping() => Err(e),
        _ => {
            let cause = shutdown
                .cause()
                .map_or("a stop request".into(), |c| c.to_string());
            eprintln!(
                "check interrupted by {cause}: not every check ran \
                 (its test keys expire within a minute)"
            );
            Ok(EXIT_INTERRUPTED)
        }
    }
}

/// `redline clean`: removes every key under one literal prefix with SCAN + UNLINK.
pub async fn clean(args: CleanArgs) -> anyhow::Result<u8> {
    let prefix = sweep::KeyPrefix::new(&args.prefix)?;
    let spec = scenario::TargetSpec::default();
    let request = TargetRequest {
        flag_url: Some(&args.redis),
        spec: &spec,
    };
    // The same resolution as `run` (REDIS_PASSWORD, REDIS_TLS_ENABLED, ... apply). PREFIX is
    // the whole prefix, as reports name it: REDIS_KEY_PREFIX is already part of it.
    let target = Target::open(&request, &target::process_env).await?;
    let (Some(admin), Some(url)) = (target.admin(), target.redacted_url()) else {
        anyhow::bail!("`redline clean` needs a Redis server (--redis URL)");
    };
    let removed = admin
        .del_pattern(&prefix.pattern(), sweep::DEFAULT_BATCH)
        .await
        .with_context(|| format!("cannot remove the keys under `{prefix}` at {url}"))?;
    println!("removed {removed} key(s) under `{prefix}` at {url}");
    Ok(0)
}

/// `redline validate`: every problem of every file; with `--print`, each valid file
/// resolved (every default filled in) as a scenario file.
pub fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        match scenario::load_file_all(file, &args.overrides) {
            Ok(s) if args.print => {
                writeln!(out, "# {} ({}), resolved", file.display(), s.name)?;
                writeln!(out, "{}", s.to_toml())?;
            }
            Ok(s) => writeln!(out, "ok: {} ({})", file.display(), s.name)?,
            Err(errors) => {
                print_errors(&errors);
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { EXIT_ERROR })
}
