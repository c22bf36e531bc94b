//! `[[ops]]`: the weighted operation mix — which cache operations run, how often, with which
//! TTL and codec, and how many keys a batch operation touches. `OpFile` is an entry as
//! written; [`OpSpec`] is the entry with every default resolved.

use super::units;
use crate::op::OpKind;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Operations a pipeline may carry: single-key commands with no read-then-write step.
pub const PIPELINE_OPS: [OpKind; 3] = [OpKind::Get, OpKind::Set, OpKind::Del];

/// Largest batch redline builds: bigger MGETs block a single-threaded Redis for too long to
/// be a realistic cache workload.
pub const MAX_BATCH: u64 = 10_000;

/// The codec vocabulary is the cache layer's own, so the engine passes it through unchanged.
pub use crate::cache::Codec;

/// How many keys one batch operation (mget, mset, pipeline) touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Batch {
    /// Always this many: `batch = 10`.
    Fixed(u64),
    /// Uniform between the bounds, inclusive: `batch = { min = 2, max = 20 }`.
    Range { min: u64, max: u64 },
}

/// Batch size of mget/mset/pipeline entries that do not give one.
pub const DEFAULT_BATCH: Batch = Batch::Fixed(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRange {
    #[serde(deserialize_with = "units::positive")]
    min: u64,
    #[serde(deserialize_with = "units::positive")]
    max: u64,
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Batch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of keys (10) or a range ({ min = 2, max = 20 })")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Batch, E> {
                units::positive(de::value::U64Deserializer::<E>::new(v)).map(Batch::Fixed)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Batch, E> {
                units::positive(de::value::I64Deserializer::<E>::new(v)).map(Batch::Fixed)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Batch, A::Error> {
                let r = BatchRange::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Batch::Range {
                    min: r.min,
                    max: r.max,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// One resolved entry of the operation mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpSpec {
    /// The operation.
    #[serde(deserialize_with = "op_kind")]
    pub kind: OpKind,
    /// Relative weight in the mix (>= 0; 0 keeps the entry but never picks it).
    pub weight: f64,
    /// TTL of written keys.
    #[serde(with = "units::duration")]
    pub ttl: Duration,
    /// Codec for written values at or above `compress_threshold`.
    pub codec: Codec,
    /// Values smaller than this are written uncompressed.
    pub compress_threshold: u64,
    /// Keys per call: 1 for single-key operations.
    pub batch: Batch,
    /// For `pipeline`: relative weights of the commands inside it (get, set, del);
    /// `None` for every other operation.
    #[serde(deserialize_with = "op_weights", default)]
    pub pipeline_mix: Option<BTreeMap<OpKind, f64>>,
}

/// An `[[ops]]` entry as written, before defaults that depend on `kind` are applied.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpFile {
    #[serde(deserialize_with = "op_kind")]
    pub kind: OpKind,
    pub weight: f64,
    #[serde(default = "default_ttl", with = "units::duration")]
    pub ttl: Duration,
    #[serde(default)]
    pub codec: Codec,
    #[serde(
        default = "default_compress_threshold",
        deserialize_with = "units::size"
    )]
    pub compress_threshold: u64,
    #[serde(default)]
    pub batch: Option<Batch>,
    #[serde(default, deserialize_with = "op_weights")]
    pub pipeline_mix: Option<BTreeMap<OpKind, f64>>,
}

/// The guide's MEDIUM TTL.
fn default_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_compress_threshold() -> u64 {
    1024
}

/// Inner mix of a pipeline that does not give one.
pub fn default_pipeline_mix() -> BTreeMap<OpKind, f64> {
    BTreeMap::from([(OpKind::Get, 80.0), (OpKind::Set, 20.0)])
}

/// True for operations that take a `batch`.
pub fn is_batched(kind: OpKind) -> bool {
    matches!(kind, OpKind::Mget | OpKind::Mset | OpKind::Pipeline)
}

const OP_NAMES: &str =
    "get, set, get_or_set, del (or invalidate), del_pattern, mget, mset or pipeline";

fn op_kind<'de, D: Deserializer<'de>>(d: D) -> Result<OpKind, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = OpKind;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an operation name: {OP_NAMES}")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<OpKind, E> {
            OpKind::from_name(v)
                .ok_or_else(|| E::custom(format!("unknown operation `{v}`: use {OP_NAMES}")))
        }
    }
    d.deserialize_str(V)
}

/// `{ get = 80, set = 20 }`: operation names to weights.
fn op_weights<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<OpKind, f64>>, D::Error> {
    struct Name(OpKind);
    impl<'de> Deserialize<'de> for Name {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            op_kind(d).map(Name)
        }
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<BTreeMap<OpKind, f64>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table of operation weights, like { get = 80, set = 20 }")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(V)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(Name(kind)) = map.next_key()? {
                let weight: f64 = map.next_value()?;
                if out.insert(kind, weight).is_some() {
                    return Err(de::Error::custom(format!(
                        "`{}` is given twice (invalidate is del)",
                        kind.name()
                    )));
                }
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V)
}
