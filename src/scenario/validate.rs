//! Checks that need more than one field, or a whole value, after deserialization: ranges
//! (`min <= max`), weights that are all zero, model-dependent load fields, thresholds, and
//! the upper bounds of [`super::bounds`]. Every problem is collected, not just the first;
//! each names the path of the field to fix, and [`super::source::Document`] adds the line.
//! Checks a single value can make alone (units, signs, fractions) happen while deserializing,
//! in [`super::units`].

use super::bounds::Bounds;
use super::error::Problem;
use super::keyspace::{Distribution, Keyspace, ValueSize, KEY_GROUP};
use super::origin::{Latency, OriginSpec};
use super::sections::Sections;
use super::target::{MaxmemoryPolicy, TargetKind, TargetSpec, Topology};
use super::threshold::{guide_defaults, Metric, Threshold};
use super::workload::{self, Batch, OpFile, OpSpec, MAX_BATCH, PIPELINE_OPS};
use super::Scenario;
use std::collections::BTreeMap;

/// Largest value size: the value pool is this plus 2 MiB, allocated once per run.
pub const MAX_VALUE_SIZE: u64 = 64 << 20;

/// Validates the typed sections and resolves defaults, collecting every problem (a section
/// that failed to type is skipped, its problem already collected). `default_name` is used
/// when the file gives none.
pub(crate) fn resolve(file: Sections, default_name: &str) -> Result<Scenario, Vec<Problem>> {
    let mut problems = file.problems;
    let mut keep = |r: Result<(), Problem>| {
        if let Err(p) = r {
            problems.push(p);
        }
    };
    let name = match file.name {
        Some(n) if n.trim().is_empty() => {
            keep(Err(Problem::new("name", "must not be empty")));
            n
        }
        Some(n) => n,
        None => default_name.to_string(),
    };
    let mut target = file.target;
    if let Some(t) = &mut target {
        keep(check_target(t));
    }
    if let Some(k) = &file.keyspace {
        keep(check_keyspace(k));
    }
    let ops = match resolve_ops(file.ops) {
        Ok(ops) => Some(ops),
        Err(found) => {
            found.into_iter().for_each(|p| keep(Err(p)));
            None
        }
    };
    if let (Some(k), Some(ops)) = (&file.keyspace, &ops) {
        keep(check_hash_tags(k, ops));
    }
    if let Some(o) = &file.origin {
        keep(check_origin(o));
    }
    let load = file.load.and_then(|l| match l.resolve() {
        Ok(l) => Some(l),
        Err(p) => {
            keep(Err(p));
            None
        }
    });
    let run_length = load
        .as_ref()
        .and_then(|l| l.duration.map(|d| l.warmup.saturating_add(d)));
    let faults = match super::faults::resolve(file.faults, run_length) {
        Ok(f) => Some(f),
        Err(found) => {
            found.into_iter().for_each(|p| keep(Err(p)));
            None
        }
    };
    if let (Some(t), Some(f)) = (&target, &faults) {
        keep(check_faults_against_target(t, f));
    }
    let thresholds = match (file.thresholds, &ops) {
        _ if !file.thresholds_ok => None,
        (None, _) => Some(guide_defaults()),
        (Some(exprs), ops) => match parse_thresholds(&exprs, ops.as_deref(), faults.as_deref()) {
            Ok(t) => Some(t),
            Err(found) => {
                found.into_iter().for_each(|p| keep(Err(p)));
                None
            }
        },
    };

    if let Some(Some(s)) = &file.sizing {
        super::sizing::check(s, &mut problems);
    }
    let mut bounds = Bounds::new(&mut problems);
    bounds.name(&name);
    if let Some(t) = &target {
        bounds.target(t);
    }
    if let Some(k) = &file.keyspace {
        bounds.keyspace(k);
    }
    for (i, op) in ops.iter().flatten().enumerate() {
        bounds.op(&format!("ops[{i}]"), op);
    }
    if let Some(o) = &file.origin {
        bounds.origin(o);
    }
    if let Some(l) = &load {
        bounds.load(l);
    }

    match (
        target,
        file.keyspace,
        ops,
        file.cache,
        file.origin,
        load,
        thresholds,
        faults,
        file.sizing,
    ) {
        (
            Some(target),
            Some(keyspace),
            Some(ops),
            Some(cache),
            Some(origin),
            Some(load),
            Some(thresholds),
            Some(faults),
            Some(sizing),
        ) if problems.is_empty() => Ok(Scenario {
            name,
            description: file.description,
            target,
            keyspace,
            ops,
            cache,
            origin,
            load,
            thresholds,
            faults,
            sizing,
        }),
        _ => Err(problems),
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
        if crate::cache::sentinel::is_sentinel_url(url) {
            if let Err(e) = crate::cache::sentinel::parse(url) {
                return Err(Problem::new("target.url", e.to_string()));
            }
        } else if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Problem::new(
                "target.url",
                "must start with redis://, rediss:// or redis+sentinel:// (omit it to use REDIS_URL or an embedded server)",
            ));
        }
        match t.server.topology {
            Topology::Single => {}
            Topology::Sentinel => return Err(Problem::new(
                "target.server.topology",
                "\"sentinel\" starts redline's own Sentinel topology, so it cannot be combined with target.url (for your own sentinels use target.url = \"redis+sentinel://host:port/master-name\")",
            )),
            Topology::Cluster => return Err(Problem::new(
                "target.server.topology",
                "\"cluster\" starts redline's own Redis Cluster, so it cannot be combined with target.url (for your own cluster use target.url = \"redis+cluster://host:port,host:port\")",
            )),
        }
    }
    if t.server.topology != Topology::Single && t.kind == TargetKind::Memory {
        return Err(Problem::new(
            "target.server.topology",
            format!(
                "\"{}\" needs Redis: it cannot be combined with target.kind = \"memory\"",
                t.server.topology.as_str()
            ),
        ));
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

/// `keyspace.hash_tags` keeps a batch in one slot by drawing its keys from one group of
/// [`KEY_GROUP`] keys under one tag: a batch larger than a group, or a prefix whose own
/// braces would take the tag's place, cannot.
fn check_hash_tags(k: &Keyspace, ops: &[OpSpec]) -> Result<(), Problem> {
    if !k.hash_tags {
        return Ok(());
    }
    if k.prefix.contains(['{', '}']) {
        return Err(Problem::new(
            "keyspace.prefix",
            "must not contain { or } with hash_tags: Redis hashes the first {...} of a key, so \
             the prefix's braces would replace the group's tag",
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let max = match op.batch {
            Batch::Fixed(n) => n,
            Batch::Range { max, .. } => max,
        };
        if workload::is_batched(op.kind) && max > KEY_GROUP {
            return Err(Problem::new(
                format!("ops[{i}].batch"),
                format!(
                    "at most {KEY_GROUP} keys with keyspace.hash_tags (got {max}): a batch draws \
                     its keys from one group of {KEY_GROUP} keys sharing a hash tag; use a smaller \
                     batch or hash_tags = false (batches split by slot)"
                ),
            ));
        }
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

/// Resolves every entry, collecting the problems of each. An entry that did not type
/// (`None`, its problem already collected) is skipped, and then no list results.
fn resolve_ops(ops: Vec<Option<OpFile>>) -> Result<Vec<OpSpec>, Vec<Problem>> {
    if ops.is_empty() {
        return Err(vec![Problem::new(
            "ops",
            "at least one operation is required: add [[ops]] with kind and weight",
        )]);
    }
    let mut problems = Vec::new();
    let all_typed = ops.iter().all(Option::is_some);
    if all_typed {
        if let Err(p) = check_weights(
            "ops",
            ops.iter()
                .flatten()
                .enumerate()
                .map(|(i, op)| (format!("ops[{i}].weight"), op.weight)),
        ) {
            problems.push(p);
        }
    }
    let mut resolved = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        let Some(op) = op else { continue };
        match resolve_op(&format!("ops[{i}]"), op) {
            Ok(op) => resolved.push(op),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() && all_typed {
        Ok(resolved)
    } else {
        Err(problems)
    }
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

/// The fault a per-fault expectation refers to: the one it names, or the only one.
fn fault_of(
    expr: &str,
    named: Option<String>,
    faults: &[super::FaultSpec],
) -> Result<String, String> {
    let names = || {
        faults
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (named, faults) {
        (_, []) => Err(format!(
            "{expr:?} is about a fault, but the scenario has no [[faults]]"
        )),
        (Some(n), _) if faults.iter().any(|f| f.name == n) => Ok(n),
        (Some(n), _) => Err(format!(
            "{expr:?} names fault `{n}`, which is not in [[faults]] (faults: {})",
            names()
        )),
        (None, [only]) => Ok(only.name.clone()),
        (None, _) => Err(format!(
            "{expr:?} must name the fault it is about, like {}[{}], because the scenario has several ({})",
            expr.split(['<', '>', '=']).next().unwrap_or("").trim(),
            faults[0].name,
            names()
        )),
    }
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

/// What the scenario itself says about where faults can apply: none on the in-memory store,
/// process faults only on a server redline starts (no `target.url`). A URL given on the
/// command line or in REDIS_URL is checked when the target is opened, before any load.
fn check_faults_against_target(t: &TargetSpec, faults: &[super::FaultSpec]) -> Result<(), Problem> {
    use super::target::TargetKind;
    for (i, f) in faults.iter().enumerate() {
        let kind = f.kind.name().as_str();
        if t.kind == TargetKind::Memory {
            return Err(Problem::new(
                format!("faults[{i}]"),
                format!(
                    "fault `{}` ({kind}) cannot apply to target.kind = \"memory\": there is no Redis to fault",
                    f.name
                ),
            ));
        }
        if f.kind.class() == super::FaultClass::Process && t.url.is_some() {
            return Err(Problem::new(
                format!("faults[{i}]"),
                format!(
                    "fault `{}` ({kind}) needs a redis-server redline starts, but target.url names a server \
                     redline did not start: remove target.url, or use client_pause or oom",
                    f.name
                ),
            ));
        }
        if matches!(f.kind, super::FaultKind::ClusterFailover { .. })
            && t.server.topology != Topology::Cluster
        {
            return Err(Problem::new(
                format!("faults[{i}]"),
                format!(
                    "fault `{}` ({kind}) fails over a primary of redline's own Redis Cluster: set \
                     target.server.topology = \"cluster\"",
                    f.name
                ),
            ));
        }
    }
    Ok(())
}

/// Parses every threshold; `ops` is `None` when the workload did not resolve (then whether a
/// per-operation threshold names an operation in it cannot be checked), `faults` likewise
/// for the fault a breaker expectation names.
fn parse_thresholds(
    exprs: &[String],
    ops: Option<&[OpSpec]>,
    faults: Option<&[super::FaultSpec]>,
) -> Result<Vec<Threshold>, Vec<Problem>> {
    let (parsed, problems): (Vec<_>, Vec<_>) = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            let path = format!("thresholds[{i}]");
            let mut t = Threshold::parse(expr)
                .map_err(|e| Problem::new(&path, format!("{expr:?}: {e}")))?;
            if let (true, Some(faults)) = (t.metric.is_per_fault(), faults) {
                t.fault = Some(
                    fault_of(expr, t.fault.take(), faults).map_err(|m| Problem::new(&path, m))?,
                );
            }
            if let (Metric::Latency { op: Some(op), .. }, Some(ops)) = (t.metric, ops) {
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
        .partition(Result::is_ok);
    if problems.is_empty() {
        Ok(parsed.into_iter().flatten().collect())
    } else {
        Err(problems.into_iter().filter_map(Result::err).collect())
    }
}
