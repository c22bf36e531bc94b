//! [`Shard`]: which share of a run one generator takes (`--shard INDEX/COUNT`, or on
//! Kubernetes an Indexed Job's `JOB_COMPLETION_INDEX` with `REDLINE_SHARD_COUNT`), and
//! [`Shard::split`], which turns the whole run's scenario into that share.
//!
//! The scenario describes the whole run, so that N generators put on Redis the load one
//! would: the open model's rate (and every ramp stage) is divided by COUNT; the closed
//! model's clients, the connections, `load.max_in_flight` and `load.total_ops` are divided
//! as integers, the remainder going to the lowest indices (10 clients over 3 shards are
//! 4, 3, 3). Connections and in-flight slots never drop below one per generator. Only
//! shard 0 preloads. Everything else (keyspace, mix, durations) is the same for every shard.

use crate::scenario::{Arrival, Scenario};
use crate::target::Lookup;
use std::fmt;
use std::str::FromStr;

/// Most generators one run may have (a bound on markers and merge inputs).
pub const MAX_SHARDS: u32 = 1_024;

/// Environment variable an Indexed Job sets to the pod's index.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";
/// Environment variable carrying the Job's `completions` (Kubernetes does not expose it).
pub const COUNT_VAR: &str = "REDLINE_SHARD_COUNT";

/// One generator's place among the run's generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index; shard 0 preloads and removes the keys.
    pub index: u32,
    /// Number of generators, 1 to [`MAX_SHARDS`].
    pub count: u32,
}

/// A `--shard` value or shard variables that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(pub String);

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// A shard, checked: `index < count <= MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError(format!(
                "the shard count must be 1 to {MAX_SHARDS} (got {count})"
            )));
        }
        if index >= count {
            return Err(ShardError(format!(
                "shard index {index} is out of range: indices of {count} shards are 0 to {}",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// The shard from the Indexed Job's variables, `None` when `JOB_COMPLETION_INDEX` is
    /// unset. Both must be set together, as whole numbers.
    pub fn from_env(env: Lookup<'_>) -> Result<Option<Shard>, ShardError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (index, count) = match (var(INDEX_VAR), var(COUNT_VAR)) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ShardError(format!(
                    "{INDEX_VAR} is set (an Indexed Job) but {COUNT_VAR} is not: set it to the \
                     Job's completions, or pass --shard INDEX/COUNT"
                )))
            }
            (None, Some(_)) => {
                return Err(ShardError(format!(
                    "{COUNT_VAR} is set but {INDEX_VAR} is not: pass --shard INDEX/COUNT"
                )))
            }
            (Some(i), Some(n)) => (i, n),
        };
        let number = |name: &str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| ShardError(format!("{name} must be a whole number (got {v:?})")))
        };
        Shard::new(number(INDEX_VAR, &index)?, number(COUNT_VAR, &count)?).map(Some)
    }

    /// This shard's part of `total` when it is divided as evenly as integers allow, the
    /// remainder going to the lowest indices.
    pub fn share(&self, total: u64) -> u64 {
        let (n, i) = (u64::from(self.count), u64::from(self.index));
        total / n + u64::from(i < total % n)
    }

    /// Turns the whole run's scenario into this shard's share of it (see the module docs).
    /// A count that leaves some shard no client or no operation is an error.
    pub fn split(&self, scenario: &mut Scenario) -> Result<(), ShardError> {
        let n = f64::from(self.count);
        let load = &mut scenario.load;
        match &mut load.arrival {
            Arrival::Open { rate, .. } => *rate /= n,
            Arrival::Ramp {
                start_rate, stages, ..
            } => {
                *start_rate /= n;
                for stage in stages {
                    stage.target /= n;
                }
            }
            Arrival::Closed { clients, .. } => {
                if (*clients as u64) < u64::from(self.count) {
                    return Err(ShardError(format!(
                        "load.clients = {clients} cannot be shared by {} shards: every shard \
                         needs at least one client",
                        self.count
                    )));
                }
                *clients = self.share(*clients as u64) as usize;
            }
        }
        if let Some(total) = load.total_ops {
            if total < u64::from(self.count) {
                return Err(ShardError(format!(
                    "load.total_ops = {total} cannot be shared by {} shards: every shard needs \
                     at least one operation",
                    self.count
                )));
            }
            load.total_ops = Some(self.share(total));
        }
        load.connections = (self.share(load.connections as u64) as usize).max(1);
        load.max_in_flight = (self.share(load.max_in_flight as u64) as usize).max(1);
        load.preload &= self.index == 0;
        Ok(())
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `INDEX/COUNT`, e.g. `0/3`.
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || {
            ShardError(format!(
                "--shard must be INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3 (got {s:?})"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse::<u32>().map_err(|_| bad())?;
        let count = n.trim().parse::<u32>().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_str;

    fn scenario(load: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\n[keyspace]\nkeys = 10\n[[ops]]\nkind = \"get\"\nweight = 1\n\
             [load]\n{load}\nduration = \"2s\"\n"
        );
        parse_str(&text, crate::scenario::Format::Toml, "t.toml", &[]).expect("valid scenario")
    }

    #[test]
    fn flags_parse_and_are_checked() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/3", "-1/3", "0/5000", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.0.contains("shard"), "{bad}: {e}");
        }
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
    }

    #[test]
    fn the_indexed_job_fills_the_shard_and_half_a_pair_is_an_error() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let both = env(&[(INDEX_VAR, "2"), (COUNT_VAR, "4")]);
        assert_eq!(
            Shard::from_env(&both),
            Ok(Some(Shard { index: 2, count: 4 }))
        );
        assert_eq!(Shard::from_env(&env(&[])), Ok(None));
        let e = Shard::from_env(&env(&[(INDEX_VAR, "1")])).unwrap_err();
        assert!(e.0.contains(COUNT_VAR), "{e}");
        let e = Shard::from_env(&env(&[(INDEX_VAR, "4"), (COUNT_VAR, "4")])).unwrap_err();
        assert!(e.0.contains("out of range"), "{e}");
        let e = Shard::from_env(&env(&[(INDEX_VAR, "x"), (COUNT_VAR, "4")])).unwrap_err();
        assert!(e.0.contains("whole number"), "{e}");
    }

    #[test]
    fn shares_add_up_and_the_remainder_goes_to_the_lowest_indices() {
        let shares: Vec<u64> = (0..3)
            .map(|i| Shard { index: i, count: 3 }.share(10))
            .collect();
        assert_eq!(shares, [4, 3, 3]);
        for total in [0, 1, 7, 99, 1_000] {
            let sum: u64 = (0..7)
                .map(|i| Shard { index: i, count: 7 }.share(total))
                .sum();
            assert_eq!(sum, total);
        }
    }

    #[test]
    fn the_open_model_divides_its_rate_and_only_shard_0_preloads() {
        let whole = scenario("model = \"open\"\nrate = 3000\nconnections = 8\npreload = true");
        let mut parts = Vec::new();
        for i in 0..3 {
            let mut s = whole.clone();
            Shard { index: i, count: 3 }.split(&mut s).expect("split");
            parts.push(s.load);
        }
        for p in &parts {
            assert_eq!(p.arrival.rate_at(std::time::Duration::ZERO), Some(1000.0));
        }
        let conns: Vec<usize> = parts.iter().map(|p| p.connections).collect();
        assert_eq!(conns, [3, 3, 2]);
        let preloads: Vec<bool> = parts.iter().map(|p| p.preload).collect();
        assert_eq!(preloads, [true, false, false]);
    }

    #[test]
    fn the_closed_model_divides_its_clients_and_refuses_too_few() {
        let whole = scenario("model = \"closed\"\nclients = 50\nconnections = 50");
        let mut s = whole.clone();
        Shard { index: 2, count: 3 }.split(&mut s).expect("split");
        assert!(matches!(
            s.load.arrival,
            Arrival::Closed { clients: 16, .. }
        ));
        assert_eq!(s.load.connections, 16);
        let few = scenario("model = \"closed\"\nclients = 2");
        let e = Shard { index: 0, count: 3 }
            .split(&mut few.clone())
            .unwrap_err();
        assert!(e.0.contains("load.clients = 2"), "{e}");
    }
}
