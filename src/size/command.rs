//! `redline size SCENARIO [--redis URL] [--out DIR] [--force] [--set path=value]... [--quiet]`:
//! the command-line glue. The scenario is checked first (every problem at once, exit 2),
//! the folder settled before any load, the target opened once — an embedded server starts
//! without a maxmemory, so only the hit-rate study limits memory — and the sizing written
//! there, also when a stop request cut it short (exit 3).

use super::{exit_code, size, SizeError};
use crate::cli::SizeArgs;
use crate::out_dir;
use crate::scenario::{self, TargetKind};
use crate::shutdown::Shutdown;
use crate::target::{self, Target, TargetError, TargetRequest};
use anyhow::Context;
use rand::Rng;

/// Runs `redline size`; returns the exit code (0 sized, 1 the knee's first step failed,
/// 2 usage or connection error, 3 interrupted or nothing measured about Redis).
pub async fn command(SizeArgs { common: args }: SizeArgs) -> anyhow::Result<u8> {
    let shutdown = Shutdown::on_signals().context("cannot install the SIGINT/SIGTERM handlers")?;
    let scenario = match scenario::load_file_all(&args.scenario, &args.overrides) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors.all() {
                eprintln!("error: {e}");
            }
            return Ok(crate::commands::EXIT_ERROR);
        }
    };
    if scenario.target.kind == TargetKind::Memory {
        anyhow::bail!(
            "{}: target.kind = \"memory\": redline size measures a Redis server, not the \
             in-memory fallback (set target.kind to \"managed\" or \"redis\")",
            args.scenario.display()
        );
    }
    if scenario.sizing.is_none() {
        // Validation bounds the knee search of a `[sizing]` table; without one the defaults
        // apply, from the scenario's own rate.
        let load_rate = match scenario.load.arrival {
            scenario::load::Arrival::Open { rate, .. } => Some(rate),
            _ => None,
        };
        let defaults = scenario::sizing::SizingSpec::default();
        if let Some(p) = scenario::sizing::knee_search_problem(&defaults, load_rate) {
            anyhow::bail!("{}: {}: {}", args.scenario.display(), p.path, p.message);
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    if let Some(out) = args.out.as_deref() {
        if out.join("sizing.json").exists() && !args.force {
            anyhow::bail!(
                "{} already holds a sizing (sizing.json): choose another --out or pass --force",
                out.display()
            );
        }
    }
    let dir = out_dir::prepare(
        args.out.as_deref(),
        &format!("{}-size", scenario.name),
        &stamp,
        args.force,
    )?;
    // The embedded server starts unlimited: the memory and knee studies must not evict;
    // the hit-rate study sets maxmemory itself.
    let mut spec = scenario.target.clone();
    spec.server.maxmemory = None;
    let request = TargetRequest {
        flag_url: args.redis.as_deref(),
        spec: &spec,
    };
    let target = match Target::open_until(&request, &target::process_env, &shutdown).await {
        Ok(t) => t,
        Err(TargetError::Interrupted(phase)) => {
            eprintln!("size interrupted while {phase}: nothing was measured");
            return Ok(crate::commands::EXIT_INTERRUPTED);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(why) = target.fallback_reason() {
        anyhow::bail!("{}: {why}", SizeError::NoRedis);
    }
    let quiet = args.quiet;
    let mut progress = move |line: String| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let run_id = format!("size{:06x}", rand::rng().random::<u32>() & 0xFF_FFFF);
    let report = size(&scenario, &target, &run_id, &shutdown, &mut progress).await;
    // Stops a server redline started before the results are written.
    drop(target);
    let report = match report {
        Err(SizeError::Incomplete { measured, cause }) => {
            super::render::write_dir(&measured, &dir)
                .with_context(|| format!("cannot write the sizing to {}", dir.display()))?;
            eprintln!("error: {cause}");
            eprintln!("what was measured before is in {}", dir.display());
            return Ok(crate::commands::EXIT_ERROR);
        }
        r => r?,
    };
    super::render::write_dir(&report, &dir)
        .with_context(|| format!("cannot write the sizing to {}", dir.display()))?;
    if !quiet {
        println!("{}", report.recommendation);
        for s in &report.skipped {
            println!("skipped {}: {}", s.study, s.reason);
        }
        if let Some(k) = &report.knee {
            println!("knee: {}", k.message);
        }
        println!("sizing: {}", dir.display());
    }
    Ok(exit_code(&report))
}
