//! `redline size`: capacity sizing, measured. One target (an embedded server unless a URL
//! is given), opened once and reused by every run; three studies, each an ordinary
//! [`engine::run`](crate::engine::run) (or a few commands) under its own key prefix:
//!
//! - [`memory`]: bytes per key of the scenario's profile → maxmemory and instances.
//! - [`knee`]: the highest open-model rate that holds the latency and error targets
//!   (bracket, then bisect).
//! - [`hit_rate`]: hit rate and evictions at several maxmemory settings → memory for the
//!   hit-rate target (only on a server redline started).
//!
//! [`plan`] resolves targets and step lengths from the scenario, [`report`] is sizing.json,
//! [`render`] the sentence and sizing.md, [`plot`] the SVG plots, [`command`] the CLI glue.
//! A stop request (SIGINT/SIGTERM) ends the study in progress; what was measured so far is
//! still written, and the sizing says which study was interrupted.

pub mod command;
pub mod hit_rate;
pub mod knee;
pub mod memory;
pub mod plan;
pub mod plot;
pub mod render;
pub mod report;

use crate::engine::EngineError;
use crate::scenario::sizing::Study;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use crate::target::Target;
use plan::Plan;
use report::{KneeLimit, SizingReport, SizingTarget, Skipped, Targets};
use std::time::Instant;

/// Why a sizing could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    /// The target has no Redis server (the in-memory store).
    #[error(
        "redline size measures a Redis server, and this target has none: install \
         redis-server (redline then starts one) or pass --redis URL"
    )]
    NoRedis,
    /// A command of the sizing itself (INFO, CONFIG, the memory sample) failed.
    #[error("{0}")]
    Redis(String),
    /// A run could not be carried out.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Progress, one line per finished step, for the terminal.
pub type Progress<'a> = &'a mut (dyn FnMut(String) + Send);

/// Runs every study `scenario` asks for against `target`. `run_id` names the sizing's key
/// prefixes (`<prefix><run_id>m:` for the memory sample, `…k:` for the knee, `…h<i>:` for
/// the hit-rate runs).
pub async fn size(
    scenario: &Scenario,
    target: &Target,
    run_id: &str,
    shutdown: &Shutdown,
    progress: Progress<'_>,
) -> Result<SizingReport, SizeError> {
    if target.admin().is_none() {
        return Err(SizeError::NoRedis);
    }
    let started = Instant::now();
    let plan = Plan::new(scenario);
    let mut r = empty_report(scenario, target, &plan);
    let embedded = target.embedded().is_some();

    let mut per_key = None;
    if plan.runs(Study::Memory) || plan.runs(Study::HitRate) {
        let prefix = format!(
            "{}{}{run_id}m:",
            target.key_prefix(),
            scenario.keyspace.prefix
        );
        match memory::measure(scenario, &plan, target, &prefix, shutdown).await? {
            Some(sample) => {
                let study =
                    memory::extrapolate(&sample, &plan, memory::codec_name(scenario), embedded);
                progress(format!(
                    "memory: {:.0} B per key → maxmemory {}",
                    study.per_key_bytes,
                    crate::report::format::bytes(study.recommended_maxmemory_bytes)
                ));
                per_key = Some(study.per_key_bytes);
                r.memory = Some(study);
            }
            None => r.interrupted_in = Some(Study::Memory.name().into()),
        }
    }

    if plan.runs(Study::Knee) && r.interrupted_in.is_none() {
        let mut on_step = |s: &report::KneeStep| {
            let verdict = if s.passed {
                "held".to_string()
            } else {
                s.reason.clone().unwrap_or_else(|| "failed".into())
            };
            progress(format!(
                "knee: {} → p95 {}, p99 {}: {verdict}",
                crate::report::format::per_second(s.rate_per_s),
                crate::report::format::us(s.p95_us),
                crate::report::format::us(s.p99_us)
            ));
        };
        let id = format!("{run_id}k");
        let study = knee::run(scenario, &plan, target, &id, shutdown, &mut on_step).await?;
        if study.limit == KneeLimit::Interrupted {
            r.interrupted_in = Some(Study::Knee.name().into());
        }
        r.knee = Some(study);
    }

    if plan.runs(Study::HitRate) && r.interrupted_in.is_none() {
        match (hit_rate::cannot_run(scenario, target), per_key) {
            (Some(reason), _) => r.skipped.push(Skipped {
                study: Study::HitRate.name().into(),
                reason,
            }),
            (None, None) => {}
            (None, Some(per_key)) => {
                let rate = hit_rate_rate(&plan, r.knee.as_ref().and_then(|k| k.knee_per_s));
                let mut on_point = |p: &report::HitRatePoint| {
                    progress(format!(
                        "hit rate: maxmemory {} of the working set → {} hits, {} evicted",
                        crate::report::format::percent(p.fraction, 0),
                        crate::report::format::percent_opt(p.hit_rate, 1),
                        crate::report::format::count(p.evicted_keys)
                    ));
                };
                let id = format!("{run_id}h");
                let study = hit_rate::run(
                    scenario,
                    &plan,
                    target,
                    per_key,
                    rate,
                    &id,
                    shutdown,
                    &mut on_point,
                )
                .await?;
                if shutdown.is_stopping() {
                    r.interrupted_in = Some(Study::HitRate.name().into());
                }
                r.hit_rate = Some(study);
            }
        }
    }
    if shutdown.is_stopping() && r.interrupted_in.is_none() {
        r.interrupted_in = Some("cleanup".into());
    }
    finish(&mut r, scenario, started);
    Ok(r)
}

/// The hit-rate runs' rate: the rate production expects (else the search's first rate),
/// but at most 80 % of the knee when one was found, so latency stays out of the picture.
fn hit_rate_rate(plan: &Plan, knee: Option<f64>) -> f64 {
    let wanted = plan.rate.unwrap_or(plan.start_rate);
    match knee {
        Some(k) => wanted.min(k * 0.8).max(1.0),
        None => wanted,
    }
}

/// A report with the targets filled in and no study yet.
pub fn empty_report(scenario: &Scenario, target: &Target, plan: &Plan) -> SizingReport {
    let mut skipped: Vec<Skipped> = Study::ALL
        .iter()
        .filter(|s| !plan.runs(**s))
        .map(|s| Skipped {
            study: s.name().into(),
            reason: "not in sizing.studies".into(),
        })
        .collect();
    skipped.sort_by(|a, b| a.study.cmp(&b.study));
    SizingReport {
        schema: report::SCHEMA.into(),
        redline_version: env!("CARGO_PKG_VERSION").into(),
        started_at: chrono::Utc::now(),
        scenario: scenario.name.clone(),
        target: SizingTarget {
            url: target.redacted_url(),
            server_version: target.server_version().map(str::to_string),
            embedded: target.embedded().is_some(),
        },
        recommendation: String::new(),
        targets: Targets {
            keys: plan.keys,
            run_keys: scenario.keyspace.keys,
            rate_per_s: plan.rate,
            knee_thresholds: plan
                .knee_thresholds
                .iter()
                .map(|t| t.expr.clone())
                .collect(),
            hit_rate: plan.hit_rate_target,
            memory: plan.memory_target,
        },
        memory: None,
        knee: None,
        hit_rate: None,
        skipped,
        interrupted_in: None,
        duration_s: 0.0,
    }
}

/// Fills in the sentence and the duration.
pub fn finish(r: &mut SizingReport, scenario: &Scenario, started: Instant) {
    let content = match scenario.keyspace.value_content {
        crate::scenario::ValueContent::Json { .. } => "JSON",
        crate::scenario::ValueContent::Random => "random bytes",
    };
    r.duration_s = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    r.recommendation = render::recommendation(r, content);
}

/// The exit code of a sizing: 3 when interrupted, or when the generator saturated before
/// any step held (nothing about Redis was measured); 1 when the knee search's first step
/// already failed; 0 otherwise.
pub fn exit_code(r: &SizingReport) -> u8 {
    if r.interrupted_in.is_some() {
        return 3;
    }
    match r.knee.as_ref() {
        Some(k) if k.limit == KneeLimit::FirstStepFailed => 1,
        Some(k) if k.limit == KneeLimit::Generator && k.knee_per_s.is_none() => 3,
        _ => 0,
    }
}
