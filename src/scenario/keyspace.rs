//! `[keyspace]`: how many keys the workload touches, which ones are hot (the access
//! distribution), and what the values look like (sizes and content). The samplers that draw
//! from these live in [`super::dist`].

use super::units;
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `[keyspace]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyspace {
    /// Number of distinct keys; key indices are `0..keys`.
    #[serde(deserialize_with = "units::positive")]
    pub keys: u64,
    /// Namespace of every key. The engine appends a run-unique part, so concurrent runs and
    /// the end-of-run cleanup (SCAN MATCH prefix*) never touch other data.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Which keys are requested how often.
    #[serde(default, deserialize_with = "distribution")]
    pub distribution: Distribution,
    /// Size of each written value.
    #[serde(default)]
    pub value_size: ValueSize,
    /// What written values contain; it decides how well compression codecs do.
    #[serde(default, deserialize_with = "value_content")]
    pub value_content: ValueContent,
    /// Redis Cluster hash tags: each group of [`KEY_GROUP`] keys shares one tag
    /// (`{w<group>}:<index>` instead of `w<group>:<index>`), and a batch (mget, mset,
    /// pipeline) draws its keys from one group, so it is one command to one node. Off, a
    /// batch's keys are spread and the store splits it by hash slot.
    #[serde(default)]
    pub hash_tags: bool,
}

/// Keys per group: key `i` is in group `i / KEY_GROUP`; `del_pattern` removes one group,
/// and with [`Keyspace::hash_tags`] a group shares one hash tag.
pub const KEY_GROUP: u64 = 100;

fn default_prefix() -> String {
    "redline:".to_string()
}

/// The first character that may not appear in a key prefix, if any: whitespace and the glob
/// metacharacters `* ? [ ] \`. The end-of-run cleanup deletes `SCAN MATCH prefix*`; a
/// metacharacter would make that pattern match other keys, or miss the run's own (a `[`
/// prefix left every key behind). One rule for `keyspace.prefix`, REDIS_KEY_PREFIX and run ids.
pub fn forbidden_prefix_char(prefix: &str) -> Option<char> {
    prefix
        .chars()
        .find(|c| c.is_whitespace() || "*?[]\\".contains(*c))
}

/// The access distribution over key indices. Written as a table with `kind`, or as just the
/// kind's name when its parameters keep their defaults (`distribution = "zipfian"`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Zipfian popularity: rank r has weight 1/r^exponent, and ranks are mapped to keys by a
    /// seeded permutation so hot keys are spread out (not clustered at 0) and every key is
    /// reachable.
    Zipfian {
        /// Skew; YCSB's default 0.99. Higher is more skewed.
        #[serde(default = "default_exponent")]
        exponent: f64,
    },
    /// `hot_keys` of the keys (the lowest indices) take `hot_requests` of the requests.
    Hotspot {
        /// Fraction of keys that are hot, in (0, 1].
        #[serde(default = "default_hot_keys", with = "units::fraction")]
        hot_keys: f64,
        /// Fraction of requests that go to hot keys, in 0..=1.
        #[serde(default = "default_hot_requests", with = "units::fraction")]
        hot_requests: f64,
    },
    /// Keys in order 0, 1, 2, ... wrapping around: a scan, the worst case for an LRU.
    Sequential,
}

fn default_exponent() -> f64 {
    0.99
}
fn default_hot_keys() -> f64 {
    0.2
}
fn default_hot_requests() -> f64 {
    0.8
}

impl Distribution {
    fn from_name(name: &str) -> Option<Distribution> {
        Some(match name {
            "uniform" => Distribution::Uniform,
            "zipfian" => Distribution::Zipfian {
                exponent: default_exponent(),
            },
            "hotspot" => Distribution::Hotspot {
                hot_keys: default_hot_keys(),
                hot_requests: default_hot_requests(),
            },
            "sequential" => Distribution::Sequential,
            _ => return None,
        })
    }
}

/// What written values contain.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueContent {
    /// Random bytes: incompressible, the worst case for codecs.
    #[default]
    Random,
    /// JSON-like records, as a cache of API responses holds.
    Json {
        /// 0..=1: the share of field values drawn from a small repeated vocabulary rather
        /// than random characters. 0 compresses little, 1 compresses very well.
        #[serde(default = "default_compressibility", with = "units::fraction")]
        compressibility: f64,
    },
}

fn default_compressibility() -> f64 {
    0.7
}

impl ValueContent {
    fn from_name(name: &str) -> Option<ValueContent> {
        match name {
            "random" => Some(ValueContent::Random),
            "json" => Some(ValueContent::Json {
                compressibility: default_compressibility(),
            }),
            _ => None,
        }
    }
}

/// Sizes of written values, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ValueSize {
    /// Every value this size: `value_size = "1KiB"`.
    Fixed(u64),
    /// Uniform between the bounds, inclusive: `value_size = { min = "100B", max = "4KiB" }`.
    Uniform { min: u64, max: u64 },
    /// A weighted choice: `value_size = [{ size = "1KiB", weight = 90 }, ...]`.
    Weighted(Vec<WeightedSize>),
}

impl Default for ValueSize {
    fn default() -> Self {
        ValueSize::Fixed(1024)
    }
}

impl ValueSize {
    /// The largest size this can produce.
    pub fn max(&self) -> u64 {
        match self {
            ValueSize::Fixed(n) => *n,
            ValueSize::Uniform { max, .. } => *max,
            ValueSize::Weighted(w) => w.iter().map(|w| w.size).max().unwrap_or(0),
        }
    }
}

/// One entry of a weighted value-size list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSize {
    /// The size in bytes.
    #[serde(deserialize_with = "units::size")]
    pub size: u64,
    /// Relative weight (>= 0; the weights need not sum to anything in particular).
    pub weight: f64,
}

/// The table form `{ min, max }` of [`ValueSize::Uniform`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeRange {
    #[serde(deserialize_with = "units::size")]
    min: u64,
    #[serde(deserialize_with = "units::size")]
    max: u64,
}

impl<'de> Deserialize<'de> for ValueSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a size (\"1KiB\"), a range ({ min, max }) or a weighted list ([{ size, weight }])",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueSize, E> {
                units::size(v.into_deserializer()).map(ValueSize::Fixed)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueSize, E> {
                Ok(ValueSize::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueSize, E> {
                units::size(v.into_deserializer()).map(ValueSize::Fixed)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ValueSize, A::Error> {
                let r = SizeRange::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ValueSize::Uniform {
                    min: r.min,
                    max: r.max,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ValueSize, A::Error> {
                Vec::<WeightedSize>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(ValueSize::Weighted)
            }
        }
        d.deserialize_any(V)
    }
}

/// A tagged table, or the name of a kind whose parameters all have defaults.
struct TableOrName<T> {
    what: &'static str,
    names: &'static str,
    from_name: fn(&str) -> Option<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for TableOrName<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a {} name ({}) or a table with `kind`",
            self.what, self.names
        )
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_name)(v)
            .ok_or_else(|| E::custom(format!("unknown {} `{v}`: use {}", self.what, self.names)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

fn distribution<'de, D: Deserializer<'de>>(d: D) -> Result<Distribution, D::Error> {
    d.deserialize_any(TableOrName {
        what: "distribution",
        names: "uniform, zipfian, hotspot or sequential",
        from_name: Distribution::from_name,
    })
}

fn value_content<'de, D: Deserializer<'de>>(d: D) -> Result<ValueContent, D::Error> {
    d.deserialize_any(TableOrName {
        what: "value content",
        names: "random or json",
        from_name: ValueContent::from_name,
    })
}
