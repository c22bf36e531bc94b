//! Whether reports can be merged: every one a shard's report of the same run (same run id,
//! same scenario once each shard's share is put back to the whole run's load, same shard
//! count), each shard exactly once. Schema versions are checked when the files are read
//! ([`report::json::read`](crate::report::json::read)).

use super::MergeError;
use crate::report::summary::ShardInfo;
use crate::report::RunSummary;
use serde_json::Value;

/// A report with its file name, for messages.
pub struct Input<'a> {
    /// Where it was read from.
    pub name: &'a str,
    /// The report.
    pub report: &'a RunSummary,
}

/// The shard section of a report, or why it cannot be merged.
fn shard_of<'a>(input: &Input<'a>) -> Result<&'a ShardInfo, MergeError> {
    if input.report.merged.is_some() {
        return Err(MergeError::Mismatch(format!(
            "{} is already a merged report: merge the shards' own report.json files",
            input.name
        )));
    }
    input.report.shard.as_ref().ok_or_else(|| {
        MergeError::Mismatch(format!(
            "{} is not a shard's report (it was run without --shard): only the shards of one \
             run can be merged",
            input.name
        ))
    })
}

/// The scenario a shard ran with its load put back to the whole run's.
pub fn whole_scenario(report: &RunSummary, shard: &ShardInfo) -> Value {
    let mut config = report.scenario.config.clone();
    if let Some(load) = config.get_mut("load") {
        *load = shard.run_load.clone();
    }
    config
}

/// The first path at which `a` and `b` differ (`load.connections`), `None` when equal.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let here = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if let Some(d) = first_difference(va, vb, &here(k)) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_difference(va, vb, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "(the whole scenario)".into()
        } else {
            path.into()
        }),
    }
}

/// Checks that `inputs` are every shard of one run; returns the shard count.
pub fn compatible(inputs: &[Input<'_>]) -> Result<u32, MergeError> {
    let first = inputs
        .first()
        .ok_or_else(|| MergeError::Mismatch("no reports to merge".into()))?;
    let first_shard = shard_of(first)?;
    let first_config = whole_scenario(first.report, first_shard);
    let count = first_shard.count;
    let mut seen: Vec<Option<&str>> = vec![None; count as usize];
    for input in inputs {
        let shard = shard_of(input)?;
        let r = input.report;
        if r.target.run_id != first.report.target.run_id {
            return Err(MergeError::Mismatch(format!(
                "reports of different runs: {} has run id {:?}, {} has {:?}",
                first.name, first.report.target.run_id, input.name, r.target.run_id
            )));
        }
        if r.scenario.name != first.report.scenario.name {
            return Err(MergeError::Mismatch(format!(
                "reports of different scenarios: {} ran {:?}, {} ran {:?}",
                first.name, first.report.scenario.name, input.name, r.scenario.name
            )));
        }
        if let Some(path) = first_difference(&first_config, &whole_scenario(r, shard), "") {
            return Err(MergeError::Mismatch(format!(
                "reports of different scenarios: {} and {} differ in {path}",
                first.name, input.name
            )));
        }
        if shard.count != count {
            return Err(MergeError::Mismatch(format!(
                "{} is shard {}/{} but {} is shard {}/{}: the shards of one run share one count",
                input.name, shard.index, shard.count, first.name, first_shard.index, count
            )));
        }
        let slot = seen.get_mut(shard.index as usize).ok_or_else(|| {
            MergeError::Mismatch(format!(
                "{} names shard {}/{}, which does not exist",
                input.name, shard.index, shard.count
            ))
        })?;
        if let Some(other) = slot {
            return Err(MergeError::Mismatch(format!(
                "{other} and {} are both shard {}/{count}: give each shard's report once",
                input.name, shard.index
            )));
        }
        *slot = Some(input.name);
    }
    let missing: Vec<String> = (seen.iter().enumerate())
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Mismatch(format!(
            "shard(s) {} missing: a merged report covers every shard of the run",
            missing.join(", ")
        )));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = json!({"load": {"rate": 1, "stages": [1, 2]}, "name": "x"});
        assert_eq!(first_difference(&a, &a.clone(), ""), None);
        let b = json!({"load": {"rate": 2, "stages": [1, 2]}, "name": "x"});
        assert_eq!(first_difference(&a, &b, "").as_deref(), Some("load.rate"));
        let c = json!({"load": {"rate": 1, "stages": [1, 3]}, "name": "x"});
        assert_eq!(
            first_difference(&a, &c, "").as_deref(),
            Some("load.stages[1]")
        );
        let d = json!({"load": {"rate": 1, "stages": [1, 2]}, "name": "x", "extra": true});
        assert_eq!(first_difference(&a, &d, "").as_deref(), Some("extra"));
    }
}
