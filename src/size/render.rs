//! The sizing in words: the one-sentence recommendation, sizing.md, and the files of a
//! sizing folder (sizing.json, sizing.md and the plots).

use super::report::{KneeLimit, SizingReport};
use crate::report::format;
use std::io::{self, Write};
use std::path::Path;

/// The recommendation in one sentence, from whatever was measured: "For 2,000,000 keys of
/// ~2.0 KiB json at 5,000 ops/s with p95 < 50ms: maxmemory 6.0 GiB on one 8.0 GiB
/// instance; knee at 41,000 ops/s; 80% hits need 3.1 GiB."
pub fn recommendation(r: &SizingReport, content: &str) -> String {
    let t = &r.targets;
    let mut head = format!("For {} keys", format::count(t.keys));
    if let Some(m) = &r.memory {
        let codec = if m.codec == "none" {
            String::new()
        } else {
            format!(" ({})", m.codec)
        };
        head.push_str(&format!(
            " of ~{} {content}{codec}",
            format::bytes(m.value_bytes.round() as u64)
        ));
    }
    if let Some(rate) = t.rate_per_s {
        head.push_str(&format!(" at {}", format::per_second(rate)));
    }
    if !t.knee_thresholds.is_empty() {
        head.push_str(&format!(" with {}", t.knee_thresholds.join(", ")));
    }
    let mut parts = Vec::new();
    if let Some(m) = &r.memory {
        let max = format::bytes(m.recommended_maxmemory_bytes);
        parts.push(match (m.recommended_instance_bytes, m.cluster_shards) {
            (Some(i), _) => format!("maxmemory {max} on one {} instance", format::bytes(i)),
            (None, Some(n)) => {
                let largest = m
                    .instances
                    .iter()
                    .map(|i| i.instance_bytes)
                    .max()
                    .unwrap_or(0);
                format!(
                    "maxmemory {max} is more than one {} instance holds: a Redis Cluster of {n} \
                     such shards",
                    format::bytes(largest)
                )
            }
            (None, None) => format!("maxmemory {max}"),
        });
    }
    if let Some(k) = &r.knee {
        parts.push(match (k.knee_per_s, k.limit) {
            (Some(knee), KneeLimit::Generator) => format!(
                "knee at least {} (the load generator's limit, not Redis's)",
                format::per_second(knee)
            ),
            (Some(knee), KneeLimit::MaxRate) => {
                format!("knee above {}", format::per_second(knee))
            }
            (Some(knee), _) => format!("knee at {}", format::per_second(knee)),
            (None, KneeLimit::FirstStepFailed) => "no knee: the first step already failed".into(),
            (None, KneeLimit::Generator) => {
                "knee not measured (the load generator could not keep its schedule)".into()
            }
            (None, _) => "no knee measured".into(),
        });
        if let Some(rate) = t.rate_per_s {
            if k.knee_per_s.is_some_and(|knee| knee < rate) && k.limit != KneeLimit::Generator {
                parts.push(format!(
                    "{} is above the knee: one instance will not hold it",
                    format::per_second(rate)
                ));
            }
        }
    }
    if let Some(h) = &r.hit_rate {
        let target = format::percent(t.hit_rate, 0);
        parts.push(match h.memory_needed_bytes {
            Some(m) => format!("{target} hits need {}", format::bytes(m)),
            None if h.points.is_empty() => "hit rate not measured".into(),
            None => format!("{target} hits not reached even with the whole working set"),
        });
    }
    if parts.is_empty() {
        parts.push("nothing was measured".into());
    }
    let mut sentence = format!("{head}: {}.", parts.join("; "));
    if let Some(study) = &r.interrupted_in {
        sentence.push_str(&format!(
            " (Interrupted during the {study} study: partial.)"
        ));
    }
    sentence
}

/// sizing.md.
pub fn write_markdown(r: &SizingReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "# Sizing: {}\n", r.scenario)?;
    writeln!(out, "**{}**\n", r.recommendation)?;
    let t = &r.target;
    writeln!(
        out,
        "Target: {} (Redis {}{}). Sized for {} keys; runs used {}.\n",
        t.url.as_deref().unwrap_or("?"),
        t.server_version.as_deref().unwrap_or("?"),
        if t.embedded {
            ", started by redline"
        } else {
            ""
        },
        format::count(r.targets.keys),
        format::count(r.targets.run_keys),
    )?;
    for s in &r.skipped {
        writeln!(out, "- Skipped **{}**: {}", s.study, s.reason)?;
    }
    if let Some(study) = &r.interrupted_in {
        writeln!(
            out,
            "- **Interrupted** during the {study} study: what was measured so far is below."
        )?;
    }
    if let Some(m) = &r.memory {
        writeln!(out, "\n## Memory\n")?;
        writeln!(
            out,
            "{} sample keys: key ~{:.0} B, value ~{:.0} B stored ({:.0} B before codec `{}`).",
            format::count(m.sample_keys),
            m.key_bytes,
            m.value_bytes,
            m.raw_value_bytes,
            m.codec
        )?;
        writeln!(
            out,
            "Per key: **{:.0} B** (used_memory delta {:.0} B, MEMORY USAGE {:.0} B). Dataset \
             {} + {} server overhead → maxmemory **{}** at the {} memory target.\n",
            m.per_key_bytes,
            m.used_memory_per_key_bytes,
            m.memory_usage_per_key_bytes,
            format::bytes(m.dataset_bytes - m.overhead_bytes),
            format::bytes(m.overhead_bytes),
            format::bytes(m.recommended_maxmemory_bytes),
            format::percent(r.targets.memory, 0),
        )?;
        writeln!(out, "| instance | usable maxmemory | instances needed |")?;
        writeln!(out, "|---|---|---|")?;
        for i in &m.instances {
            writeln!(
                out,
                "| {} | {} | {} |",
                format::bytes(i.instance_bytes),
                format::bytes(i.usable_bytes),
                i.shards
            )?;
        }
        for n in &m.notes {
            writeln!(out, "\nNote: {n}")?;
        }
    }
    if let Some(k) = &r.knee {
        writeln!(out, "\n## Throughput knee\n")?;
        writeln!(out, "{}.\n", capitalized(&k.message))?;
        if let Some(at) = &k.at_knee {
            writeln!(out, "{at}\n")?;
        }
        writeln!(out, "![rate vs latency](rate-latency.svg)\n")?;
        writeln!(
            out,
            "| rate | achieved | p50 | p95 | p99 | errors | dropped | result |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
        let mut steps = k.steps.clone();
        steps.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
        for s in &steps {
            let result = if s.passed {
                "held".to_string()
            } else {
                s.reason.clone().unwrap_or_else(|| "failed".into())
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                format::per_second(s.rate_per_s),
                format::per_second(s.throughput_per_s),
                format::us(s.p50_us),
                format::us(s.p95_us),
                format::us(s.p99_us),
                format::percent_opt(s.error_rate, 2),
                format::count(s.dropped),
                result.replace('|', "/"),
            )?;
        }
    }
    if let Some(h) = &r.hit_rate {
        writeln!(out, "\n## Hit rate against memory\n")?;
        writeln!(
            out,
            "{} ({} at {}; working set {}).\n",
            capitalized(&h.message),
            h.policy,
            format::per_second(h.rate_per_s),
            format::bytes(h.working_set_bytes)
        )?;
        writeln!(out, "![memory vs hit rate](memory-hit-rate.svg)\n")?;
        if let Some(rate) = h
            .points
            .iter()
            .filter_map(|p| p.preload_keys_per_s)
            .reduce(f64::max)
        {
            writeln!(
                out,
                "Each run preloaded its {} keys first (pipelined, up to {} keys/s).\n",
                format::count(r.targets.run_keys),
                format::count(rate as u64)
            )?;
        }
        writeln!(
            out,
            "| share of working set | maxmemory | hit rate (Redis) | client hit rate | evicted | Redis failures |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for p in &h.points {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                format::percent(p.fraction, 0),
                format::bytes(p.maxmemory_bytes),
                format::percent_opt(p.hit_rate, 1),
                format::percent_opt(p.client_hit_rate, 1),
                format::count(p.evicted_keys),
                format::count(p.redis_failures)
            )?;
        }
    }
    Ok(())
}

/// Writes sizing.json, sizing.md and the plots into `dir`.
pub fn write_dir(r: &SizingReport, dir: &Path) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(r).map_err(io::Error::other)?;
    std::fs::write(dir.join("sizing.json"), json)?;
    let mut md = Vec::new();
    write_markdown(r, &mut md)?;
    std::fs::write(dir.join("sizing.md"), md)?;
    if let Some(k) = &r.knee {
        std::fs::write(
            dir.join("rate-latency.svg"),
            super::plot::rate_latency(k, &r.targets),
        )?;
    }
    if let Some(h) = &r.hit_rate {
        std::fs::write(
            dir.join("memory-hit-rate.svg"),
            super::plot::memory_hit_rate(h, r.targets.hit_rate),
        )?;
    }
    Ok(())
}

/// `text` with its first letter upper-case (messages start lower-case to fit in sentences).
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::report::*;

    /// A sizing with every study, as `redline size` writes it.
    pub(crate) fn sample() -> SizingReport {
        let step = |rate: f64, p95: u64, passed: bool| KneeStep {
            rate_per_s: rate,
            throughput_per_s: rate,
            measured_s: 5.0,
            p50_us: p95 / 3,
            p95_us: p95,
            p99_us: p95 * 2,
            service_p95_us: p95 / 2,
            error_rate: Some(0.0),
            dropped: 0,
            saturated: false,
            passed,
            reason: (!passed).then(|| "p95 < 50ms failed".to_string()),
            waits: Waits::default(),
        };
        SizingReport {
            schema: SCHEMA.into(),
            redline_version: "0".into(),
            started_at: chrono::Utc::now(),
            scenario: "s".into(),
            target: SizingTarget {
                url: Some("redis://127.0.0.1:1".into()),
                server_version: Some("7.0".into()),
                embedded: true,
            },
            recommendation: String::new(),
            targets: Targets {
                keys: 2_000_000,
                run_keys: 20_000,
                rate_per_s: Some(5_000.0),
                knee_thresholds: vec!["p95 < 50ms".into()],
                hit_rate: 0.8,
                memory: 0.8,
            },
            memory: Some(MemoryStudy {
                sample_keys: 10_000,
                key_bytes: 30.0,
                value_bytes: 2_048.0,
                raw_value_bytes: 2_048.0,
                codec: "none".into(),
                used_memory_per_key_bytes: 2_400.0,
                memory_usage_per_key_bytes: 2_300.0,
                per_key_bytes: 2_400.0,
                overhead_bytes: 1 << 20,
                dataset_bytes: 4_800_000_000,
                recommended_maxmemory_bytes: 6 << 30,
                instances: vec![InstanceFit {
                    instance_bytes: 8 << 30,
                    usable_bytes: 6 << 30,
                    shards: 1,
                }],
                recommended_instance_bytes: Some(8 << 30),
                cluster_shards: None,
                notes: Vec::new(),
            }),
            knee: Some(KneeStudy {
                knee_per_s: Some(41_000.0),
                failed_at_per_s: Some(44_000.0),
                limit: KneeLimit::Target,
                resolution: 0.07,
                steps: vec![
                    step(20_000.0, 2_000, true),
                    step(41_000.0, 9_000, true),
                    step(44_000.0, 90_000, false),
                ],
                at_knee: Some("At the knee …".into()),
                message: "41,000 ops/s is the highest rate".into(),
            }),
            hit_rate: Some(HitRateStudy {
                policy: "allkeys-lru".into(),
                rate_per_s: 5_000.0,
                working_set_bytes: 48_000_000,
                points: vec![HitRatePoint {
                    fraction: 0.5,
                    maxmemory_bytes: 24_000_000,
                    hit_rate: Some(0.85),
                    client_hit_rate: Some(0.85),
                    redis_failures: 0,
                    evicted_keys: 10,
                    keys_written: 100,
                    preload_keys_per_s: Some(250_000.0),
                }],
                fraction_needed: Some(0.4),
                memory_needed_bytes: Some(3_328_599_655),
                message: "80% hits need 40% of the working set".into(),
            }),
            skipped: Vec::new(),
            interrupted_in: None,
            duration_s: 60.0,
        }
    }

    #[test]
    fn the_recommendation_names_memory_instance_knee_and_hits_in_one_sentence() {
        let r = sample();
        let s = recommendation(&r, "JSON");
        assert_eq!(
            s,
            "For 2,000,000 keys of ~2.0 KiB JSON at 5,000 ops/s with p95 < 50ms: maxmemory \
             6.0 GiB on one 8.0 GiB instance; knee at 41,000 ops/s; 80% hits need 3.1 GiB."
        );
        let mut r = sample();
        r.knee.as_mut().unwrap().knee_per_s = Some(4_000.0);
        assert!(recommendation(&r, "JSON").contains("5,000 ops/s is above the knee"));
    }

    #[test]
    fn sizing_md_and_the_plots_render_every_study() {
        let r = sample();
        let mut md = Vec::new();
        write_markdown(&r, &mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        for part in [
            "## Memory",
            "## Throughput knee",
            "## Hit rate against memory",
            "| 41,000 ops/s |",
        ] {
            assert!(md.contains(part), "{part}:\n{md}");
        }
        let svg = crate::size::plot::rate_latency(r.knee.as_ref().unwrap(), &r.targets);
        assert!(
            svg.starts_with("<svg") && svg.contains("p95") && svg.contains("knee"),
            "{svg}"
        );
        let svg = crate::size::plot::memory_hit_rate(r.hit_rate.as_ref().unwrap(), 0.8);
        assert!(
            svg.starts_with("<svg") && svg.contains("target 80%"),
            "{svg}"
        );
    }
}
