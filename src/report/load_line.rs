//! The load a run ran, as one line for summary.md and the terminal: arrival model and rate or
//! clients, keys and their distribution, value sizes, the mix, connections, the in-flight
//! limit and the origin. Read from the resolved scenario kept in report.json
//! (`scenario.config`), so a re-rendered report says the same, and tolerant of fields it does
//! not know or that an older scenario model lacks (each part is left out, never guessed).

use super::format;
use serde_json::Value;

/// `"open model, 3,000 ops/s (poisson arrivals) for 30s after 5s warmup · 10,000 keys,
/// zipfian (exponent 0.99) · values 512 B–4.0 KiB · mix get_or_set 95, invalidate 5 ·
/// 8 connections × pipeline depth 32 · in-flight limit 1,000 · origin lognormal p50 20ms
/// p99 60ms, pool 64"`; `None` when the configuration holds none of it.
pub fn describe(config: &Value) -> Option<String> {
    let parts: Vec<String> = [
        arrival(&config["load"]),
        keys(&config["keyspace"]),
        values(&config["keyspace"]["value_size"]),
        mix(&config["ops"]),
        connections(&config["load"]),
        config["load"]["max_in_flight"]
            .as_u64()
            .map(|n| format!("in-flight limit {}", format::count(n))),
        origin(config),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// A rate or weight: whole numbers with separators, others with up to two decimals.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && (0.0..1e15).contains(&v) {
        format::count(v as u64)
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn arrival(load: &Value) -> Option<String> {
    let a = &load["arrival"];
    let mut text = match a["model"].as_str()? {
        "open" => {
            let mut t = format!("open model, {} ops/s", number(a["rate"].as_f64()?));
            if let Some(p) = a["pacing"].as_str() {
                t.push_str(&format!(" ({p} arrivals)"));
            }
            t
        }
        "ramp" => {
            let stages = a["stages"].as_array()?;
            let to = stages.last().and_then(|s| s["target"].as_f64());
            let mut t = format!(
                "open model ramping from {} ops/s",
                number(a["start_rate"].as_f64()?)
            );
            if let Some(to) = to {
                t.push_str(&format!(
                    " to {} ops/s in {}",
                    number(to),
                    format::plural(stages.len(), "stage")
                ));
            }
            t
        }
        "closed" => {
            let clients = a["clients"].as_u64()?;
            let mut t = format!(
                "closed model, {}",
                format::plural(clients as usize, "client")
            );
            if let Some(think) = a["think_time"].as_str() {
                t.push_str(&format!(" thinking {think}"));
            }
            t
        }
        other => format!("{other} model"),
    };
    if let Some(d) = load["duration"].as_str() {
        text.push_str(&format!(" for {d}"));
    }
    if let Some(n) = load["total_ops"].as_u64() {
        text.push_str(&format!(" (at most {} ops)", format::count(n)));
    }
    if let Some(w) = load["warmup"].as_str().filter(|w| *w != "0s") {
        text.push_str(&format!(" after {w} warmup"));
    }
    if load["preload"].as_bool() == Some(true) {
        text.push_str(", keys preloaded");
    }
    Some(text)
}

fn keys(keyspace: &Value) -> Option<String> {
    let n = keyspace["keys"].as_u64()?;
    let d = &keyspace["distribution"];
    let dist = match d["kind"].as_str() {
        Some("zipfian") => match d["exponent"].as_f64() {
            Some(e) => format!("zipfian (exponent {})", number(e)),
            None => "zipfian".to_string(),
        },
        Some("hotspot") => match (d["hot_keys"].as_f64(), d["hot_requests"].as_f64()) {
            (Some(k), Some(r)) => format!(
                "hotspot ({} of keys take {} of requests)",
                format::percent(k, 0),
                format::percent(r, 0)
            ),
            _ => "hotspot".to_string(),
        },
        Some(kind) => kind.to_string(),
        None => d.as_str().unwrap_or("uniform").to_string(),
    };
    Some(format!("{} keys, {dist}", format::count(n)))
}

fn values(size: &Value) -> Option<String> {
    let text = match size {
        Value::Number(n) => format::bytes(n.as_u64()?),
        Value::Object(range) => format!(
            "{}–{}",
            format::bytes(range.get("min")?.as_u64()?),
            format::bytes(range.get("max")?.as_u64()?)
        ),
        Value::Array(choices) => {
            let sizes: Vec<u64> = choices.iter().filter_map(|c| c["size"].as_u64()).collect();
            format!(
                "{} weighted sizes {}–{}",
                sizes.len(),
                format::bytes(*sizes.iter().min()?),
                format::bytes(*sizes.iter().max()?)
            )
        }
        _ => return None,
    };
    Some(format!("values {text}"))
}

fn mix(ops: &Value) -> Option<String> {
    let entries: Vec<String> = ops
        .as_array()?
        .iter()
        .filter_map(|o| {
            Some(format!(
                "{} {}",
                o["kind"].as_str()?,
                number(o["weight"].as_f64()?)
            ))
        })
        .collect();
    (!entries.is_empty()).then(|| format!("mix {}", entries.join(", ")))
}

fn connections(load: &Value) -> Option<String> {
    let n = load["connections"].as_u64()?;
    let mut text = format::plural(n as usize, "connection");
    if let Some(depth) = load["pipeline_depth"].as_u64() {
        text.push_str(&format!(" × pipeline depth {depth}"));
    }
    Some(text)
}

/// The origin, only when an operation goes to it (`get_or_set`).
fn origin(config: &Value) -> Option<String> {
    let uses_origin = config["ops"]
        .as_array()?
        .iter()
        .any(|o| o["kind"] == "get_or_set" && o["weight"].as_f64().is_some_and(|w| w > 0.0));
    if !uses_origin {
        return None;
    }
    let o = &config["origin"];
    let l = &o["latency"];
    let s = |k: &str| l[k].as_str().unwrap_or("?");
    let latency = match l["kind"].as_str()? {
        "fixed" => s("value").to_string(),
        "uniform" => format!("uniform {}–{}", s("min"), s("max")),
        "lognormal" => format!("lognormal p50 {} p99 {}", s("p50"), s("p99")),
        other => other.to_string(),
    };
    let mut text = format!("origin {latency}");
    if let Some(pool) = o["concurrency"].as_u64() {
        text.push_str(&format!(", pool {pool}"));
    }
    if let Some(e) = o["error_rate"].as_f64().filter(|e| *e > 0.0) {
        text.push_str(&format!(", {} errors", format::percent(e, 1)));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Format};

    fn resolved(toml: &str) -> Value {
        let s = scenario::parse_str(toml, Format::Toml, "t.toml", &[]).expect("valid scenario");
        serde_json::to_value(&s).expect("json")
    }

    #[test]
    fn open_cache_aside_names_every_knob() {
        let v = resolved(
            r#"
name = "x"
[keyspace]
keys = 10_000
distribution = { kind = "zipfian", exponent = 0.99 }
value_size = { min = "512B", max = "4KiB" }
[[ops]]
kind = "get_or_set"
weight = 95
[[ops]]
kind = "del"
weight = 5
[origin]
latency = { kind = "lognormal", p50 = "20ms", p99 = "60ms" }
concurrency = 64
[load]
model = "open"
rate = 3_000
arrivals = "poisson"
connections = 8
pipeline_depth = 32
warmup = "5s"
duration = "30s"
"#,
        );
        assert_eq!(
            describe(&v).expect("line"),
            "open model, 3,000 ops/s (poisson arrivals) for 30s after 5s warmup · \
             10,000 keys, zipfian (exponent 0.99) · values 512 B–4.0 KiB · \
             mix get_or_set 95, del 5 · 8 connections × pipeline depth 32 · \
             in-flight limit 1,000 · origin lognormal p50 20ms p99 60ms, pool 64"
        );
    }

    #[test]
    fn closed_model_names_clients_and_leaves_the_unused_origin_out() {
        let v = resolved(
            r#"
name = "x"
[keyspace]
keys = 100
distribution = "uniform"
value_size = "3B"
[[ops]]
kind = "get"
weight = 1
[load]
model = "closed"
clients = 50
connections = 50
preload = true
duration = "10s"
"#,
        );
        assert_eq!(
            describe(&v).expect("line"),
            "closed model, 50 clients for 10s, keys preloaded · 100 keys, uniform · \
             values 3 B · mix get 1 · 50 connections × pipeline depth 1 · in-flight limit 1,000"
        );
    }

    #[test]
    fn in_flight_limit_is_shown_when_the_config_has_one() {
        let mut v = resolved("name = \"x\"\n[keyspace]\nkeys = 1\n[[ops]]\nkind = \"get\"\nweight = 1\n[load]\nmodel = \"closed\"\nclients = 1\nduration = \"1s\"\n");
        v["load"]["max_in_flight"] = 1000.into();
        assert!(describe(&v)
            .expect("line")
            .contains("· in-flight limit 1,000"));
    }

    #[test]
    fn unknown_shapes_leave_parts_out() {
        assert_eq!(describe(&Value::Null), None);
        assert_eq!(
            describe(&serde_json::json!({"keyspace": {"keys": 5}})).as_deref(),
            Some("5 keys, uniform")
        );
    }
}
