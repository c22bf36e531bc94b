//! Checks that need more than one field, or a whole value, after deserialization: ranges
//! (`min <= max`), weights that are all zero, model-dependent load fields, thresholds. Each
//! check reports the path of the field to fix; [`super::source::Document`] adds the line.
//! Checks a single value can make alone (units, signs, fractions) happen while deserializing,
//! in [`super::units`].

use super::error::Problem;
use super::keyspace::{Distribution, Keyspace, ValueSize};
use super::load::LoadFile;
use super::origin::{Latency, OriginSpec};
use super::target::{MaxmemoryPolicy, TargetSpec};
use super::threshold::{guide_defaults, Metric, Threshold};
use super::workload::{self, Batch, OpFile, OpSpec, MAX_BATCH, PIPELINE_OPS};
use super::Scenario;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Largest value size: the value pool is this plus 2 MiB, allocated once per run.
pub const MAX_VALUE_SIZE: u64 = 64 << 20;

/// The scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    target: TargetSpec,
    keyspace: Keyspace,
    #[serde(default)]
    ops: Vec<OpFile>,
    #[serde(default)]
    origin: OriginSpec,
    load: LoadFile,
    #[serde(default)]
    thresholds: Option<Vec<String>>,
}

impl ScenarioFile {
    /// Validates and resolves defaults. `default_name` is used when the file gives none.
    pub(crate) fn resolve(self, default_name: &str) -> Result<Scenario, Problem> {
        let name = match self.name {
            Some(n) if n.trim().is_empty() => {
                return Err(Problem::new("name", "must not be empty"))
            }
            Some(n) => n,
            None => default_name.to_string(),
        };
        let mut target = self.target;
        check_target(&mut target)?;
        check_keyspace(&self.keyspace)?;
        let ops = resolve_ops(self.ops)?;
        check_origin(&self.origin)?;
        let load = self.load.resolve()?;
        let thresholds = match self.thresholds {
            None => guide_defaults(),
            Some(exprs) => parse_thresholds(&exprs, &ops)?,
        };
        Ok(Scenario {
            name,
            description: self.description,
            target,
            keyspace: self.keyspace,
            ops,
            origin: self.origin,
            load,
            thresholds,
        })
    }
}

fn positive_duration(path: &str, d: std::time::Duration) -> Result<(), Problem> {
    if d.is_zero() {
        return Err(Problem::new(path, "must be longer than 0s"));
    }
    Ok(())
}

fn check_target(t: &mut TargetSpec) -> Result<(), Problem> {
    if let Some(url) = &t.url {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Problem::new(
                "target.url",
                "must start with redis:// or rediss:// (omit it to use REDIS_URL or an embedded server)",
            ));
        }
    }
    positive_duration("target.response_timeout", t.response_timeout)?;
    positive_duration("target.connect_timeout", t.connect_timeout)?;
    positive_duration("target.breaker.reset_timeout", t.breaker.reset_timeout)?;
    if let Some(d) = t.breaker.slow_call_threshold {
        positive_duration("target.breaker.slow_call_threshold", d)?;
    }
    if t.fallback.max_bytes == 0 {
        return Err(Problem::new(
            "target.fallback.max_bytes",
            "must be greater than 0",
        ));
    }
    let server = &mut t.server;
    match (server.maxmemory, server.maxmemory_policy) {
        (Some(0), _) => {
            return Err(Problem::new(
                "target.server.maxmemory",
                "must be greater than 0 (omit it for no limit)",
            ))
        }
        (Some(_), None) => server.maxmemory_policy = Some(MaxmemoryPolicy::AllkeysLru),
        (None, Some(_)) => {
            return Err(Problem::new(
                "target.server.maxmemory_policy",
                "has no effect without target.server.maxmemory",
            ))
        }
        _ => {}
    }
    Ok(())
}

fn check_weights<'a>(
    path: &str,
    weights: impl Iterator<Item = (String, f64)> + 'a,
) -> Result<(), Problem> {
    let mut total = 0.0;
    for (item, w) in weights {
        if !(w.is_finite() && w >= 0.0) {
            return Err(Problem::new(item, format!("must be 0 or more (got {w})")));
        }
        total += w;
    }
    if total <= 0.0 {
        return Err(Problem::new(
            path,
            "the weights are all 0: at least one must be positive",
        ));
    }
    Ok(())
}

fn check_keyspace(k: &Keyspace) -> Result<(), Problem> {
    if let Some(c) = super::keyspace::forbidden_prefix_char(&k.prefix) {
        return Err(Problem::new(
            "keyspace.prefix",
            format!("must not contain {c:?}: the end-of-run cleanup matches prefix* and would reach other keys"),
        ));
    }
    match k.distribution {
        Distribution::Zipfian { exponent } if !(exponent.is_finite() && exponent > 0.0) => {
            return Err(Problem::new(
                "keyspace.distribution.exponent",
                format!("must be greater than 0 (got {exponent}); 0.99 is YCSB's default"),
            ));
        }
        Distribution::Hotspot { hot_keys, .. } if hot_keys <= 0.0 => {
            return Err(Problem::new(
                "keyspace.distribution.hot_keys",
                "must be greater than 0",
            ));
        }
        _ => {}
    }
    let sizes = "keyspace.value_size";
    match &k.value_size {
        ValueSize::Uniform { min, max } if min > max => {
            return Err(Problem::new(
                format!("{sizes}.min"),
                format!("must not exceed max ({min} > {max} bytes)"),
            ));
        }
        ValueSize::Weighted(list) if list.is_empty() => {
            return Err(Problem::new(
                sizes,
                "the list needs at least one { size, weight }",
            ));
        }
        ValueSize::Weighted(list) => check_weights(
            sizes,
            list.iter()
                .enumerate()
                .map(|(i, w)| (format!("{sizes}[{i}].weight"), w.weight)),
        )?,
        _ => {}
    }
    if k.value_size.max() > MAX_VALUE_SIZE {
        return Err(Problem::new(
            sizes,
            format!(
                "values are limited to 64MiB (got {} bytes)",
                k.value_size.max()
            ),
        ));
    }
    Ok(())
}

fn check_batch(path: &str, batch: Batch) -> Result<(), Problem> {
    let (min, max) = match batch {
        Batch::Fixed(n) => (n, n),
        Batch::Range { min, max } => (min, max),
    };
    if min > max {
        return Err(Problem::new(
            format!("{path}.min"),
            format!("must not exceed max ({min} > {max})"),
        ));
    }
    if max > MAX_BATCH {
        return Err(Problem::new(
            path,
            format!("at most {MAX_BATCH} keys per batch (got {max})"),
        ));
    }
    Ok(())
}

fn resolve_ops(ops: Vec<OpFile>) -> Result<Vec<OpSpec>, Problem> {
    if ops.is_empty() {
        return Err(Problem::new(
            "ops",
            "at least one operation is required: add [[ops]] with kind and weight",
        ));
    }
    check_weights(
        "ops",
        ops.iter()
            .enumerate()
            .map(|(i, op)| (format!("ops[{i}].weight"), op.weight)),
    )?;
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| resolve_op(&format!("ops[{i}]"), op))
        .collect()
}

fn resolve_op(path: &str, op: OpFile) -> Result<OpSpec, Problem> {
    let name = op.kind.name();
    if op.ttl < std::time::Duration::from_millis(1) {
        return Err(Problem::new(format!("{path}.ttl"), "must be at least 1ms"));
    }
    let batch = match (workload::is_batched(op.kind), op.batch) {
        (true, Some(b)) => {
            check_batch(&format!("{path}.batch"), b)?;
            b
        }
        (true, None) => workload::DEFAULT_BATCH,
        (false, Some(_)) => {
            return Err(Problem::new(
                format!("{path}.batch"),
                format!("only mget, mset and pipeline take a batch, not {name}"),
            ))
        }
        (false, None) => Batch::Fixed(1),
    };
    let pipeline_mix = match (op.kind, op.pipeline_mix) {
        (crate::op::OpKind::Pipeline, mix) => {
            let mix = mix.unwrap_or_else(workload::default_pipeline_mix);
            check_pipeline_mix(&format!("{path}.pipeline_mix"), &mix)?;
            Some(mix)
        }
        (_, Some(_)) => {
            return Err(Problem::new(
                format!("{path}.pipeline_mix"),
                format!("only pipeline takes a pipeline_mix, not {name}"),
            ))
        }
        (_, None) => None,
    };
    Ok(OpSpec {
        kind: op.kind,
        weight: op.weight,
        ttl: op.ttl,
        codec: op.codec,
        compress_threshold: op.compress_threshold,
        batch,
        pipeline_mix,
    })
}

fn check_pipeline_mix(path: &str, mix: &BTreeMap<crate::op::OpKind, f64>) -> Result<(), Problem> {
    if let Some(kind) = mix.keys().find(|k| !PIPELINE_OPS.contains(k)) {
        return Err(Problem::new(
            format!("{path}.{}", kind.name()),
            "a pipeline carries only get, set and del",
        ));
    }
    check_weights(
        path,
        mix.iter()
            .map(|(k, w)| (format!("{path}.{}", k.name()), *w)),
    )
}

fn check_origin(o: &OriginSpec) -> Result<(), Problem> {
    match o.latency {
        Latency::Uniform { min, max } if min > max => Err(Problem::new(
            "origin.latency.min",
            format!("must not exceed max ({min:?} > {max:?})"),
        )),
        Latency::Lognormal { p50, .. } if p50.is_zero() => {
            Err(Problem::new("origin.latency.p50", "must be longer than 0s"))
        }
        Latency::Lognormal { p50, p99 } if p99 < p50 => Err(Problem::new(
            "origin.latency.p99",
            format!("must not be shorter than p50 ({p99:?} < {p50:?})"),
        )),
        _ => Ok(()),
    }
}

fn parse_thresholds(exprs: &[String], ops: &[OpSpec]) -> Result<Vec<Threshold>, Problem> {
    exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            let path = format!("thresholds[{i}]");
            let t = Threshold::parse(expr)
                .map_err(|e| Problem::new(&path, format!("{expr:?}: {e}")))?;
            if let Metric::Latency { op: Some(op), .. } = t.metric {
                if !ops.iter().any(|s| s.kind == op) {
                    return Err(Problem::new(
                        path,
                        format!(
                            "{expr:?}: `{}` is not in the workload, so it is never measured",
                            op.name()
                        ),
                    ));
                }
            }
            Ok(t)
        })
        .collect()
}
