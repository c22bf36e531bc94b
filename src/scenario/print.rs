//! `redline validate --print`: a resolved [`Scenario`] written back as a scenario file, with
//! every default filled in, so a user sees exactly what a run will do — and the printed text
//! is itself a valid scenario file that resolves to the same scenario (secrets print as
//! `***`).

use super::Scenario;
use serde::Serialize;
use serde_json::{Map, Value};

/// The file form, in the order the README documents the sections.
#[derive(Serialize)]
struct Printed {
    name: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    description: Value,
    thresholds: Value,
    target: Value,
    keyspace: Value,
    ops: Value,
    cache: Value,
    origin: Value,
    load: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    faults: Vec<Value>,
    #[serde(skip_serializing_if = "Value::is_null")]
    sizing: Value,
}

impl Scenario {
    /// The scenario as a scenario file (TOML), every default filled in.
    pub fn to_toml(&self) -> String {
        let printed = self.to_file_form();
        toml::to_string(&printed).expect("a resolved scenario is always representable in TOML")
    }

    fn to_file_form(&self) -> Printed {
        let ops: Vec<Value> = self
            .ops
            .iter()
            .map(|op| {
                let mut v = json(op);
                if !super::workload::is_batched(op.kind) {
                    // Single-key operations have no batch field in files.
                    if let Value::Object(m) = &mut v {
                        m.remove("batch");
                    }
                }
                v
            })
            .collect();
        let mut target = json(&self.target);
        for path in [&["fallback", "max_bytes"][..], &["server", "maxmemory"]] {
            readable_size_at(&mut target, path);
        }
        let mut keyspace = json(&self.keyspace);
        if let Some(sizes) = keyspace.get_mut("value_size") {
            match sizes {
                Value::Array(items) => items
                    .iter_mut()
                    .for_each(|item| readable_size_at(item, &["size"])),
                Value::Object(_) => {
                    readable_size_at(sizes, &["min"]);
                    readable_size_at(sizes, &["max"]);
                }
                fixed => readable_size_at(fixed, &[]),
            }
        }
        let mut ops = ops;
        ops.iter_mut()
            .for_each(|op| readable_size_at(op, &["compress_threshold"]));
        Printed {
            name: Value::from(self.name.clone()),
            description: self.description.clone().map_or(Value::Null, Value::from),
            thresholds: self.thresholds.iter().map(|t| t.expr.clone()).collect(),
            target,
            keyspace,
            ops: Value::Array(ops),
            cache: json(&self.cache),
            origin: json(&self.origin),
            load: load_file_form(json(&self.load)),
            faults: self.faults.iter().map(json).collect(),
            sizing: self.sizing.as_ref().map_or(Value::Null, |s| {
                let mut v = json(s);
                if let Some(Value::Array(sizes)) = v.get_mut("instance_sizes") {
                    sizes.iter_mut().for_each(|b| readable_size_at(b, &[]));
                }
                v
            }),
        }
    }
}

/// `LoadSpec` as written: the arrival's fields at the top of `[load]` (`model`, `rate`,
/// `stages`, `start_rate`, `clients`, `think_time`, and `arrivals` for its pacing); every
/// other field passes through unchanged.
fn load_file_form(load: Value) -> Value {
    let Value::Object(mut map) = load else {
        return Value::Null;
    };
    if let Some(Value::Object(arrival)) = map.remove("arrival") {
        let mut out = Map::new();
        for (key, value) in arrival {
            let key = match key.as_str() {
                "model" => match value.as_str() {
                    Some("ramp") => {
                        out.insert("model".into(), "open".into());
                        continue;
                    }
                    _ => key,
                },
                "pacing" => "arrivals".to_string(),
                _ => key,
            };
            out.insert(key, value);
        }
        out.extend(map);
        map = out;
    }
    Value::Object(map)
}

/// The byte count at `path` written with a binary unit when it is a whole number of one
/// (`67108864` → `"64MiB"`), as scenario files write sizes.
fn readable_size_at(value: &mut Value, path: &[&str]) {
    let Some(slot) = path.iter().try_fold(value, |v, key| v.get_mut(*key)) else {
        return;
    };
    if let Some(bytes) = slot.as_u64() {
        *slot = Value::from(readable_size(bytes));
    }
}

fn readable_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 3] = [("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

fn json<T: Serialize>(section: &T) -> Value {
    without_nulls(serde_json::to_value(section).expect("scenario sections serialize"))
}

/// Drops `null` fields (absent options) recursively: TOML has no null.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_with_units_that_read_back() {
        for (bytes, text) in [
            (67_108_864, "64MiB"),
            (1024, "1KiB"),
            (1536, "1536B"),
            (0, "0B"),
            (3 << 30, "3GiB"),
        ] {
            assert_eq!(readable_size(bytes), text);
            assert_eq!(super::super::units::parse_size(text), Ok(bytes), "{text}");
        }
    }
}
