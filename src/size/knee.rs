//! The knee study: the highest open-model rate that holds the scenario's latency and error
//! targets, found by a search, not a fixed list of rates.
//!
//! [`Search`] brackets first — the first step at the start rate, then doubling while steps
//! pass (up to `sizing.max_rate`) — and then bisects between the highest rate that passed
//! and the lowest that failed until (failed − passed) / passed is at most
//! `sizing.resolution`. A step passes when every knee threshold holds, nothing was dropped
//! and the generator kept its schedule. A step whose generator fell behind is run again (up
//! to [`SATURATED_RETRIES`] times); if it keeps falling behind the search ends: the limit found is then redline's, not
//! Redis's, and the study says so — unless the lag cannot have changed the step's result:
//! it held its targets despite the lag ([`held_despite_lag`]) or failed by more than the
//! lag explains ([`failed_beyond_lag`]). The runs share one key
//! prefix (the first step preloads when the scenario asks for it), so each step starts with
//! the cache as the previous one left it; the keys are removed at the end.

use super::plan::Plan;
use super::report::{KneeLimit, KneeStep, KneeStudy, Waits};
use crate::engine::{self, RunOptions};
use crate::report::format;
use crate::report::summary::RunSummary;
use crate::report::verdict::Verdict;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use crate::target::Target;

/// Times a step whose generator fell behind (and whose result the lag could have decided)
/// is run again before the search ends as the generator's limit.
pub const SATURATED_RETRIES: usize = 2;

/// What one step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// The generator could not keep the schedule.
    Saturated,
    /// A stop request interrupted it.
    Interrupted,
}

/// The search: which rate to try next, given what the steps so far came to.
#[derive(Debug, Clone)]
pub struct Search {
    next: Option<f64>,
    max_rate: f64,
    resolution: f64,
    /// Highest rate that passed.
    pub passed: Option<f64>,
    /// Lowest rate that failed.
    pub failed: Option<f64>,
    /// Why it ended, once it has.
    pub ended: Option<KneeLimit>,
}

impl Search {
    /// A search starting at `start`, never above `max_rate`, bisecting to `resolution`.
    pub fn new(start: f64, max_rate: f64, resolution: f64) -> Search {
        Search {
            next: Some(start.min(max_rate)),
            max_rate,
            resolution,
            passed: None,
            failed: None,
            ended: None,
        }
    }

    /// The next rate to run, or None when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        self.next
    }

    /// Records `outcome` of the step at `rate` and decides the next one.
    pub fn record(&mut self, rate: f64, outcome: Outcome) {
        let end = |s: &mut Search, why| {
            s.next = None;
            s.ended = Some(why);
        };
        match outcome {
            Outcome::Interrupted => return end(self, KneeLimit::Interrupted),
            Outcome::Saturated => return end(self, KneeLimit::Generator),
            Outcome::Pass => self.passed = Some(self.passed.map_or(rate, |p| p.max(rate))),
            Outcome::Fail => self.failed = Some(self.failed.map_or(rate, |f| f.min(rate))),
        }
        match (self.passed, self.failed) {
            (None, Some(_)) => end(self, KneeLimit::FirstStepFailed),
            (Some(p), None) if p >= self.max_rate => end(self, KneeLimit::MaxRate),
            (Some(p), None) => self.next = Some((p * 2.0).min(self.max_rate)),
            (Some(p), Some(f)) if (f - p) / p <= self.resolution => end(self, KneeLimit::Target),
            (Some(p), Some(f)) => match round_rate((p + f) / 2.0) {
                // Rates are rounded: when no rounded rate lies strictly between the two
                // ends, the bracket cannot narrow further (it would rerun an end forever).
                mid if mid <= p || mid >= f => end(self, KneeLimit::Target),
                mid => self.next = Some(mid),
            },
            (None, None) => unreachable!("a pass or a fail was just recorded"),
        }
    }

    /// (failed − passed) / passed, the bracket's width; 0 when either end is missing.
    pub fn width(&self) -> f64 {
        match (self.passed, self.failed) {
            (Some(p), Some(f)) if p > 0.0 => (f - p) / p,
            _ => 0.0,
        }
    }
}

/// Rates are whole operations per second (fractions below 10 ops/s).
fn round_rate(r: f64) -> f64 {
    if r >= 10.0 {
        r.round()
    } else {
        (r * 100.0).round() / 100.0
    }
}

/// Runs the search against `target`. Steps share the run id `run_id`; their keys are
/// removed at the end (also after a stop, unless a second one asks to skip cleanup).
pub async fn run(
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    run_id: &str,
    shutdown: &Shutdown,
    on_step: &mut (dyn FnMut(&KneeStep) + Send),
) -> Result<KneeStudy, engine::EngineError> {
    let mut search = Search::new(plan.start_rate, plan.spec.max_rate, plan.spec.resolution);
    let mut steps = Vec::new();
    let mut summaries: Vec<(f64, RunSummary)> = Vec::new();
    let opts = RunOptions {
        run_id: Some(run_id.to_string()),
        keep_keys: true,
        seed: None,
        ..RunOptions::default()
    };
    // An engine error (the server went away) ends the search; the keys are removed first.
    let mut failure = None;
    'search: while let Some(rate) = search.next_rate() {
        if shutdown.is_stopping() {
            search.record(rate, Outcome::Interrupted);
            break;
        }
        let step_scenario =
            plan.knee_step(scenario, rate, steps.is_empty() && scenario.load.preload);
        let mut summary =
            match engine::run(&step_scenario, target, &opts, shutdown.clone(), &mut |_| {}).await {
                Ok(s) => s,
                Err(e) => {
                    failure = Some(e);
                    break 'search;
                }
            };
        let (mut step, mut outcome) = judge(rate, &summary);
        for _ in 0..SATURATED_RETRIES {
            if outcome != Outcome::Saturated || shutdown.is_stopping() {
                break;
            }
            // Again: a moment's contention on the load machine must not end a sizing.
            on_step(&step);
            steps.push(step);
            summary =
                match engine::run(&step_scenario, target, &opts, shutdown.clone(), &mut |_| {})
                    .await
                {
                    Ok(s) => s,
                    Err(e) => {
                        failure = Some(e);
                        break 'search;
                    }
                };
            (step, outcome) = judge(rate, &summary);
        }
        on_step(&step);
        search.record(rate, outcome);
        steps.push(step);
        summaries.push((rate, summary));
    }
    if let Some(admin) = target.admin() {
        let prefix = format!(
            "{}{}{run_id}:",
            target.key_prefix(),
            scenario.keyspace.prefix
        );
        engine::cleanup::remove_run_keys(admin, &prefix, false, shutdown).await;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let limit = search.ended.unwrap_or(KneeLimit::Interrupted);
    let at_knee = search.passed.map(|knee| {
        let at = steps
            .iter()
            .rev()
            .find(|s| s.rate_per_s == knee && s.passed);
        let above = search
            .failed
            .and_then(|f| summaries.iter().find(|(r, _)| *r == f));
        where_time_went(at, above.map(|(r, s)| (*r, s)))
    });
    let first_bottleneck = summaries
        .first()
        .and_then(|(_, s)| s.backlog.bottleneck.clone());
    let message = message(&search, limit, plan, steps.first(), first_bottleneck);
    Ok(KneeStudy {
        knee_per_s: search.passed,
        failed_at_per_s: search.failed,
        limit,
        resolution: (search.width() * 1000.0).round() / 1000.0,
        steps,
        at_knee: at_knee.flatten(),
        message,
    })
}

/// One step's row and what it came to.
pub fn judge(rate: f64, s: &RunSummary) -> (KneeStep, Outcome) {
    let lat = &s.latency.overall;
    let dropped = s.backlog.dropped + s.backlog.interrupted;
    let ops = s.totals.ops.max(1) as f64;
    let real_failure = failed_beyond_lag(s);
    let outcome = if s.aborted {
        Outcome::Interrupted
    } else if !s.generator.saturated {
        if s.verdict == Verdict::Pass {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    } else if real_failure.is_some() {
        Outcome::Fail
    } else if held_despite_lag(s, rate) {
        Outcome::Pass
    } else {
        Outcome::Saturated
    };
    let step = KneeStep {
        rate_per_s: rate,
        throughput_per_s: s.totals.throughput,
        measured_s: s.measured_s,
        p50_us: lat.response.p50_us,
        p95_us: lat.response.p95_us,
        p99_us: lat.response.p99_us,
        service_p95_us: lat.service.p95_us,
        error_rate: s.totals.error_rate,
        dropped,
        saturated: s.generator.saturated,
        passed: outcome == Outcome::Pass,
        reason: match outcome {
            Outcome::Pass => None,
            Outcome::Fail if s.generator.saturated => real_failure,
            _ => s.verdict_reason.clone(),
        },
        waits: Waits {
            in_flight_wait_p99_us: s.backlog.in_flight_wait_p99_us,
            redis_wait_p99_us: s.backlog.redis_wait_p99_us,
            origin_wait_p99_us: s.origin.queue_wait_p99_us,
            origin_calls_per_op: ((s.totals.origin_calls as f64 / ops) * 1000.0).round() / 1000.0,
        },
    };
    (step, outcome)
}

/// A failure of a step whose generator fell behind that the lag cannot explain: operations
/// dropped, or a latency threshold still failing with the generator's worst lag taken off
/// the measured value (the lag delays an operation by at most that much). On a busy
/// machine a step far over the knee is then still a failure, not a saturated generator.
fn failed_beyond_lag(s: &RunSummary) -> Option<String> {
    let b = &s.backlog;
    if b.dropped + b.interrupted > 0 {
        return Some(format!(
            "{} operations dropped or cut off: the target did not take the load",
            format::count(b.dropped + b.interrupted)
        ));
    }
    let lag = s.generator.schedule_lag_max_us as f64;
    s.thresholds
        .iter()
        .filter(|t| t.failed() && matches!(t.metric, crate::scenario::Metric::Latency { .. }))
        .find_map(|t| {
            let measured = t.measured?;
            let threshold = crate::scenario::Threshold::parse(&t.expr).ok()?;
            (!threshold.passes(measured - lag)).then(|| {
                format!(
                    "{} failed (measured {}, still {} without the generator's worst lag of {})",
                    t.expr,
                    format::us(measured as u64),
                    format::us((measured - lag).max(0.0) as u64),
                    format::us(lag as u64)
                )
            })
        })
}

/// Whether a step whose generator fell behind held its targets all the same: the lag only
/// adds to response times (they are measured from the intended start), so thresholds that
/// held with it held without it — provided the load was really offered (the achieved rate
/// within [`DELIVERED`] of the rate) and nothing was dropped.
fn held_despite_lag(s: &RunSummary, rate: f64) -> bool {
    s.backlog.dropped + s.backlog.interrupted == 0
        && s.thresholds.iter().all(|t| !t.failed())
        && s.totals.throughput >= DELIVERED * rate
}

/// Share of the offered rate a step whose generator lagged must still have achieved.
pub const DELIVERED: f64 = 0.9;

/// Where the time went at the knee and what gave out in the first step above it.
fn where_time_went(at: Option<&KneeStep>, above: Option<(f64, &RunSummary)>) -> Option<String> {
    let at = at?;
    let mut text = format!(
        "At the knee ({}): response p95 {}, of which service (Redis, network and origin \
         from the actual send) p95 {}; waits p99 — in-flight slots {}, Redis command slots \
         {}, origin connections {}; {} origin loads per operation",
        format::per_second(at.rate_per_s),
        format::us(at.p95_us),
        format::us(at.service_p95_us),
        format::us(at.waits.in_flight_wait_p99_us),
        format::us(at.waits.redis_wait_p99_us),
        format::us(at.waits.origin_wait_p99_us),
        at.waits.origin_calls_per_op,
    );
    if let Some((rate, s)) = above {
        let why = s
            .backlog
            .bottleneck
            .clone()
            .or_else(|| s.verdict_reason.clone())
            .unwrap_or_else(|| "a threshold failed".to_string());
        text.push_str(&format!(". Above it ({}): {why}", format::per_second(rate)));
    }
    text.push('.');
    Some(text)
}

/// What the search found, or why it found nothing, and what to change.
fn message(
    search: &Search,
    limit: KneeLimit,
    plan: &Plan,
    first: Option<&KneeStep>,
    first_bottleneck: Option<String>,
) -> String {
    let targets: Vec<&str> = plan
        .knee_thresholds
        .iter()
        .map(|t| t.expr.as_str())
        .collect();
    let targets = targets.join(", ");
    let knee = search.passed.map(format::per_second).unwrap_or_default();
    match limit {
        KneeLimit::Target => format!(
            "{knee} is the highest rate that held {targets} (the next step, {}, did not; \
             resolution {})",
            search.failed.map(format::per_second).unwrap_or_default(),
            format::percent(plan.spec.resolution, 0)
        ),
        KneeLimit::MaxRate => format!(
            "every step up to sizing.max_rate ({knee}) held {targets}: the knee is higher; \
             raise sizing.max_rate to find it"
        ),
        KneeLimit::Generator => match search.passed {
            Some(_) => format!(
                "the load generator could not keep its schedule above {knee}: that is \
                 redline's limit on this machine, not Redis's — the knee is at least {knee}; \
                 run redline on a bigger machine or from several to find Redis's"
            ),
            None => format!(
                "the load generator could not keep its schedule at the first step ({}): \
                 nothing was measured about Redis; lower sizing.start_rate or run redline \
                 on a bigger machine",
                format::per_second(plan.start_rate)
            ),
        },
        KneeLimit::FirstStepFailed if first.is_some_and(|s| s.throughput_per_s == 0.0) => format!(
            "the first step ({}) completed no operation, so it measured nothing: raise \
             sizing.start_rate, sizing.step or sizing.step_ops so that a step holds operations, \
             or check that the target answers",
            format::per_second(plan.start_rate)
        ),
        KneeLimit::FirstStepFailed => {
            let why = first
                .and_then(|s| s.reason.clone())
                .unwrap_or_else(|| format!("it did not hold {targets}"));
            let lacked = first_bottleneck.map_or_else(
                || "or look at where the time went in that step (sizing.md)".to_string(),
                |b| format!("or give the system what it lacked ({b})"),
            );
            // A rate that rounds to nothing is no advice (and sizing.start_rate refuses it).
            let lower = match round_rate(plan.start_rate / 4.0) {
                r if r > 0.0 => format!("lower the first rate (--set sizing.start_rate={r}), "),
                _ => String::new(),
            };
            format!(
                "the first step ({}) already failed: {why}. No knee was found below it: \
                 {lower}relax the targets, {lacked}",
                format::per_second(plan.start_rate),
            )
        }
        KneeLimit::Interrupted => match search.passed {
            Some(_) => format!(
                "interrupted: {knee} held {targets} before the stop; the knee is at least that"
            ),
            None => "interrupted before any step held the targets".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a system that holds every rate up to `capacity`.
    fn search(capacity: f64, start: f64, max: f64, resolution: f64) -> (Search, Vec<f64>) {
        let mut s = Search::new(start, max, resolution);
        let mut tried = Vec::new();
        while let Some(rate) = s.next_rate() {
            tried.push(rate);
            let outcome = if rate <= capacity {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            s.record(rate, outcome);
            assert!(tried.len() < 100, "the search must end");
        }
        (s, tried)
    }

    #[test]
    fn brackets_by_doubling_then_bisects_to_the_resolution() {
        let (s, tried) = search(41_000.0, 1_000.0, 1e6, 0.05);
        assert_eq!(&tried[..7], &[1e3, 2e3, 4e3, 8e3, 16e3, 32e3, 64e3]);
        assert_eq!(s.ended, Some(KneeLimit::Target));
        let (p, f) = (s.passed.unwrap(), s.failed.unwrap());
        assert!(p <= 41_000.0 && f > 41_000.0);
        assert!((f - p) / p <= 0.05 && p >= 41_000.0 / 1.05, "{p} {f}");
    }

    #[test]
    fn a_bracket_narrower_than_the_rounding_ends_instead_of_rerunning_an_end() {
        // 19 passes, 20 fails: 5.3 % > 5 %, but the midpoint 19.5 rounds to 20 — it used
        // to rerun 20 forever.
        let (s, tried) = search(19.5, 10.0, 1e6, 0.05);
        assert_eq!(s.ended, Some(KneeLimit::Target));
        assert_eq!((s.passed, s.failed), (Some(19.0), Some(20.0)));
        assert_eq!(tried.iter().filter(|r| **r == 20.0).count(), 1, "{tried:?}");
        // The same below 10 ops/s, where rates are rounded to hundredths.
        let (s, _) = search(0.015, 0.01, 1e6, 0.05);
        assert_eq!(s.ended, Some(KneeLimit::Target));
    }

    #[test]
    fn a_first_step_without_operations_says_it_measured_nothing() {
        let toml = "[keyspace]\nkeys = 10\n[[ops]]\nkind = \"get\"\nweight = 1\n\
                    [load]\nmodel = \"open\"\nrate = 0.01\nduration = \"1s\"\n";
        let scenario =
            crate::scenario::parse_str(toml, crate::scenario::Format::Toml, "t.toml", &[])
                .expect("parses");
        let plan = Plan::new(&scenario);
        let mut s = Search::new(plan.start_rate, 1e6, 0.1);
        s.record(0.01, Outcome::Fail);
        let empty = KneeStep {
            rate_per_s: 0.01,
            throughput_per_s: 0.0,
            measured_s: 1.0,
            p50_us: 0,
            p95_us: 0,
            p99_us: 0,
            service_p95_us: 0,
            error_rate: None,
            dropped: 0,
            saturated: false,
            passed: false,
            reason: Some("no data".into()),
            waits: Waits::default(),
        };
        let m = message(&s, KneeLimit::FirstStepFailed, &plan, Some(&empty), None);
        assert!(m.contains("completed no operation"), "{m}");
        assert!(!m.contains("start_rate=0"), "{m}");
        let failed = KneeStep {
            throughput_per_s: 0.01,
            ..empty
        };
        let m = message(&s, KneeLimit::FirstStepFailed, &plan, Some(&failed), None);
        assert!(
            m.contains("already failed") && !m.contains("start_rate=0"),
            "{m}"
        );
    }

    #[test]
    fn a_first_step_that_fails_ends_the_search_without_a_knee() {
        let (s, tried) = search(100.0, 1_000.0, 1e6, 0.05);
        assert_eq!(tried, [1_000.0]);
        assert_eq!(
            (s.ended, s.passed),
            (Some(KneeLimit::FirstStepFailed), None)
        );
    }

    #[test]
    fn the_search_stops_at_max_rate() {
        let (s, tried) = search(1e9, 1_000.0, 5_000.0, 0.05);
        assert_eq!(tried, [1e3, 2e3, 4e3, 5e3]);
        assert_eq!((s.ended, s.passed), (Some(KneeLimit::MaxRate), Some(5e3)));
    }

    #[test]
    fn saturation_ends_the_search_and_names_the_generator() {
        let mut s = Search::new(1_000.0, 1e6, 0.05);
        s.record(1_000.0, Outcome::Pass);
        s.record(2_000.0, Outcome::Saturated);
        assert_eq!(
            (s.ended, s.passed, s.next_rate()),
            (Some(KneeLimit::Generator), Some(1e3), None)
        );
    }
}
