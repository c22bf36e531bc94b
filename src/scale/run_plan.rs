//! [`ScalePlan`]: `redline run`'s scale-out options (`--shard`, `--run-id`, `--start-at`,
//! `--shard-wait`), checked before anything starts, and what they give the engine: the
//! shard's share of the scenario, the coordination with the other shards, and the report's
//! `shard` section.

use super::coordinate::{RedisPeers, DEFAULT_WAIT, MAX_WAIT};
use super::shard::Shard;
use super::start;
use crate::engine::peers::Peers;
use crate::report::summary::ShardInfo;
use crate::scenario::keyspace::forbidden_prefix_char;
use crate::scenario::Scenario;
use crate::target::Lookup;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The scale-out options as given, before checking.
#[derive(Debug, Clone, Default)]
pub struct ScaleArgs<'a> {
    /// `--shard INDEX/COUNT`.
    pub shard: Option<&'a str>,
    /// `--run-id ID`.
    pub run_id: Option<&'a str>,
    /// `--start-at TIME`.
    pub start_at: Option<&'a str>,
    /// `--shard-wait DURATION`.
    pub wait: Option<&'a str>,
}

/// The checked scale-out options of one run.
#[derive(Debug, Clone)]
pub struct ScalePlan {
    /// This generator's shard; `None` for a lone generator.
    pub shard: Option<Shard>,
    /// The run id every shard shares; `None`: a random one.
    pub run_id: Option<String>,
    /// When the load starts.
    pub start_at: Option<DateTime<Utc>>,
    /// Bound on each wait for the other shards.
    pub wait: Duration,
}

/// A scale-out option that cannot be used (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl ScalePlan {
    /// Checks the options; the shard comes from `--shard`, else from the Indexed Job's
    /// `JOB_COMPLETION_INDEX` and `REDLINE_SHARD_COUNT` in `env`.
    pub fn new(
        args: &ScaleArgs<'_>,
        env: Lookup<'_>,
        now: DateTime<Utc>,
    ) -> Result<ScalePlan, PlanError> {
        let shard = match args.shard {
            Some(text) => Some(text.parse::<Shard>().map_err(|e| PlanError(e.0))?),
            None => Shard::from_env(env).map_err(|e| PlanError(e.0))?,
        };
        let run_id = args.run_id.map(str::to_string);
        if let Some(id) = &run_id {
            if id.is_empty() || id.len() > 64 || forbidden_prefix_char(id).is_some() {
                return Err(PlanError(format!(
                    "--run-id must be 1 to 64 characters without whitespace or * ? [ ] \\ \
                     (it becomes part of the key prefix); got {id:?}"
                )));
            }
        }
        if shard.is_some_and(|s| s.count > 1) && run_id.is_none() {
            return Err(PlanError(
                "--shard needs --run-id (or REDLINE_RUN_ID): the same id for every shard, so \
                 that they share one key prefix and their reports merge"
                    .into(),
            ));
        }
        let start_at = match args.start_at {
            Some(text) => Some(start::parse(text, now).map_err(|e| PlanError(e.0))?),
            None => None,
        };
        let wait = match args.wait {
            None => DEFAULT_WAIT,
            Some(text) => {
                let wait = humantime::parse_duration(text.trim()).map_err(|e| {
                    PlanError(format!(
                        "--shard-wait must be a duration like 10m ({e}): {text:?}"
                    ))
                })?;
                if wait.is_zero() || wait > MAX_WAIT {
                    return Err(PlanError(format!(
                        "--shard-wait must be more than 0s and at most {} min (got {text})",
                        MAX_WAIT.as_secs() / 60
                    )));
                }
                wait
            }
        };
        Ok(ScalePlan {
            shard,
            run_id,
            start_at,
            wait,
        })
    }

    /// True when other generators share the run.
    pub fn sharded(&self) -> bool {
        self.shard.is_some_and(|s| s.count > 1)
    }

    /// Turns `scenario` (the whole run) into this shard's share and returns the report's
    /// `shard` section; `None` without `--shard`.
    pub fn apply(&self, scenario: &mut Scenario) -> Result<Option<ShardInfo>, PlanError> {
        let Some(shard) = self.shard else {
            return Ok(None);
        };
        let run_load = serde_json::to_value(&scenario.load).unwrap_or_default();
        shard.split(scenario).map_err(|e| PlanError(e.0))?;
        Ok(Some(ShardInfo {
            index: shard.index,
            count: shard.count,
            run_load,
            start_at: self.start_at,
        }))
    }

    /// What the engine waits on before and after its load; `None` when nothing is to be
    /// waited for (no shards, no start time).
    pub fn peers(&self) -> Option<Arc<dyn Peers>> {
        if !self.sharded() && self.start_at.is_none() {
            return None;
        }
        let shard = self.shard.unwrap_or(Shard { index: 0, count: 1 });
        Some(Arc::new(RedisPeers::new(shard, self.start_at, self.wait)))
    }

    /// The shard as the metrics label it: `INDEX/COUNT`, `0/1` for a lone generator.
    pub fn label(&self) -> String {
        self.shard
            .unwrap_or(Shard { index: 0, count: 1 })
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_sharded_run_needs_a_run_id_and_checks_every_option() {
        let now = Utc::now();
        let plan = |a: ScaleArgs<'_>| ScalePlan::new(&a, &none, now);
        let e = plan(ScaleArgs {
            shard: Some("0/3"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("--run-id"), "{e}");
        let ok = plan(ScaleArgs {
            shard: Some("1/3"),
            run_id: Some("r1"),
            ..Default::default()
        })
        .expect("valid");
        assert!(ok.sharded());
        assert_eq!(ok.label(), "1/3");
        let e = plan(ScaleArgs {
            run_id: Some("a b"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("--run-id"), "{e}");
        let e = plan(ScaleArgs {
            wait: Some("2h"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("--shard-wait"), "{e}");
        let e = plan(ScaleArgs {
            start_at: Some("yesterday"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("--start-at"), "{e}");
        let lone = plan(ScaleArgs::default()).expect("valid");
        assert!(lone.peers().is_none() && lone.label() == "0/1");
    }
}
