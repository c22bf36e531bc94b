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
    /// A later study failed: what the earlier ones measured is kept, to be written.
    #[error("{cause}")]
    Incomplete {
        measured: Box<SizingReport>,
        cause: Box<SizeError>,
    },
}

/// `cause`, carrying `r` when an earlier study measured something.
fn incomplete(
    mut r: SizingReport,
    study: Study,
    scenario: &Scenario,
    started: Instant,
    cause: SizeError,
) -> SizeError {
    if r.memory.is_none() && r.knee.is_none() {
        return cause;
    }
    r.failed_in = Some(report::Failed {
        study: study.name().into(),
        error: cause.to_string(),
    });
    finish(&mut r, scenario, started);
    SizeError::Incomplete {
        measured: Box::new(r),
        cause: Box::new(cause),
    }
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
    if target.is_cluster() {
        return Err(SizeError::Redis(
            "redline size measures one Redis server (its maxmemory sweep sets CONFIG on it), \
             and this target is a Redis Cluster: size one node with redis://host:port, or a \
             single embedded server"
                .into(),
        ));
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
        let study = match knee::run(scenario, &plan, target, &id, shutdown, &mut on_step).await {
            Ok(s) => s,
            Err(e) => return Err(incomplete(r, Study::Knee, scenario, started, e.into())),
        };
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
                let run = hit_rate::run(
                    scenario,
                    &plan,
                    target,
                    per_key,
                    rate,
                    &id,
                    shutdown,
                    &mut on_point,
                );
                let study = match run.await {
                    Ok(s) => s,
                    Err(e) => return Err(incomplete(r, Study::HitRate, scenario, started, e)),
                };
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

/// The studies `sizing.studies` leaves out, each with the reason.
fn not_run(plan: &Plan) -> Vec<Skipped> {
    let mut skipped: Vec<Skipped> = Study::ALL
        .iter()
        // The hit-rate study needs bytes per key: the memory study then runs all the same.
        .filter(|s| {
            let needed = **s == Study::Memory && plan.runs(Study::HitRate);
            !plan.runs(**s) && !needed
        })
        .map(|s| Skipped {
            study: s.name().into(),
            reason: "not in sizing.studies".into(),
        })
        .collect();
    skipped.sort_by(|a, b| a.study.cmp(&b.study));
    skipped
}

/// A report with the targets filled in and no study yet.
pub fn empty_report(scenario: &Scenario, target: &Target, plan: &Plan) -> SizingReport {
    let skipped = not_run(plan);
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
        failed_in: None,
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

/// The exit code of a sizing: 3 when interrupted, or when nothing about Redis's throughput
/// was measured (the generator saturated before any step held, or the first step completed
/// no operation); 1 when the knee search's first step already failed; 0 otherwise.
pub fn exit_code(r: &SizingReport) -> u8 {
    if r.interrupted_in.is_some() {
        return 3;
    }
    match r.knee.as_ref() {
        Some(k)
            if k.limit == KneeLimit::FirstStepFailed
                && k.steps.first().is_some_and(|s| s.throughput_per_s == 0.0) =>
        {
            3
        }
        Some(k) if k.limit == KneeLimit::FirstStepFailed => 1,
        Some(k) if k.limit == KneeLimit::Generator && k.knee_per_s.is_none() => 3,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_step_that_completed_nothing_is_inconclusive_not_a_failure() {
        let mut r = render::tests::sample();
        assert_eq!(exit_code(&r), 0);
        let k = r.knee.as_mut().unwrap();
        (k.knee_per_s, k.limit) = (None, KneeLimit::FirstStepFailed);
        k.steps.truncate(1);
        assert_eq!(exit_code(&r), 1);
        r.knee.as_mut().unwrap().steps[0].throughput_per_s = 0.0;
        assert_eq!(exit_code(&r), 3);
    }

    #[test]
    fn a_later_study_that_fails_keeps_what_the_earlier_ones_measured() {
        let scenario = crate::scenario::parse_str(
            "[keyspace]\nkeys = 10\n[[ops]]\nkind = \"get\"\nweight = 1\n\
             [load]\nmodel = \"open\"\nrate = 10\nduration = \"1s\"\n",
            crate::scenario::Format::Toml,
            "t.toml",
            &[],
        )
        .unwrap();
        let mut r = render::tests::sample();
        r.hit_rate = None;
        let cause = || SizeError::Redis("CONFIG SET maxmemory failed: gone".into());
        let e = incomplete(
            r.clone(),
            Study::HitRate,
            &scenario,
            Instant::now(),
            cause(),
        );
        let SizeError::Incomplete { measured, cause: c } = e else {
            panic!("the measured studies must be kept: {e}")
        };
        assert!(measured.memory.is_some() && measured.knee.is_some());
        let failed = measured.failed_in.as_ref().unwrap();
        assert_eq!(failed.study, "hit_rate");
        assert!(failed.error.contains("gone") && c.to_string().contains("gone"));
        assert!(measured
            .recommendation
            .contains("The hit_rate study failed: partial"));
        let mut md = Vec::new();
        render::write_markdown(&measured, &mut md).unwrap();
        assert!(String::from_utf8(md)
            .unwrap()
            .contains("**Failed** during the hit_rate"));
        // Nothing measured before: the error alone.
        (r.memory, r.knee) = (None, None);
        let e = incomplete(r, Study::Knee, &scenario, Instant::now(), cause());
        assert!(matches!(e, SizeError::Redis(_)), "{e}");
    }

    #[test]
    fn memory_measured_for_the_hit_rate_study_is_not_listed_as_skipped() {
        let scenario = |studies: &str| {
            let toml = format!(
                "[keyspace]\nkeys = 10\n[[ops]]\nkind = \"get\"\nweight = 1\n\
                 [load]\nmodel = \"open\"\nrate = 10\nduration = \"1s\"\n\
                 [sizing]\nstudies = {studies}\n"
            );
            crate::scenario::parse_str(&toml, crate::scenario::Format::Toml, "t.toml", &[]).unwrap()
        };
        let names = |studies: &str| -> Vec<String> {
            not_run(&Plan::new(&scenario(studies)))
                .into_iter()
                .map(|s| s.study)
                .collect()
        };
        assert_eq!(names("[\"hit_rate\"]"), ["knee"]);
        assert_eq!(names("[\"knee\"]"), ["hit_rate", "memory"]);
    }
}
