//! Values with units in scenario files: durations (`"250ms"`, `"5m"`, humantime syntax),
//! sizes (`"4KiB"`, `"64MiB"` or plain integers of bytes), fractions (`0.8` or `"80%"`) and
//! positive whole numbers. Each is a serde helper used with `#[serde(with = ...)]` or
//! `deserialize_with`, so a bad value fails during deserialization with the path of its field
//! and a message saying what is allowed.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;
use std::time::Duration;

/// Longest duration any field accepts (365 days), so no later arithmetic on clocks can
/// overflow; most fields have a tighter limit (see `bounds`).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a humantime duration such as `"250ms"`, `"10s"`, `"5m"` or `"1h 30m"`, at most
/// [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write it like \"250ms\", \"10s\" or \"5m\"")
    })?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration {text:?} is longer than 365 days, the longest any field accepts"
        ));
    }
    Ok(d)
}

/// Renders a duration the way [`parse_duration`] reads it (`"5m"`, `"1s 500ms"`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Parses a size: plain bytes (`"4096"`) or a number with a unit (`"4KiB"`, `"1.5 MiB"`,
/// `"10MB"`; binary units are powers of 1024, SI units powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| {
            format!("invalid size {text:?}; write bytes (4096) or a size with a unit (\"4KiB\", \"64MiB\")")
        })
}

/// A duration field: a humantime string. A bare number is refused because its unit would be
/// a guess.
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration with a unit, like \"250ms\" or \"5m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "a duration needs a unit: write \"{v}s\" or \"{v}ms\", not {v}"
        )))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "a duration needs a unit and cannot be negative (got {v})"
        )))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "a duration needs a unit: write it like \"250ms\" (got {v})"
        )))
    }
}

/// Newtype so `Option<Duration>` fields can reuse [`DurationVisitor`].
struct Dur(Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor).map(Dur)
    }
}

/// `#[serde(with = "units::duration")]` for `Duration` fields.
pub mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Dur::deserialize(d).map(|x| x.0)
    }
}

/// `#[serde(default, with = "units::opt_duration")]` for `Option<Duration>` fields.
pub mod opt_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<Dur>::deserialize(d).map(|o| o.map(|x| x.0))
    }
}

/// A size field: an integer of bytes or a string with a unit.
struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size: bytes (4096) or a string with a unit (\"4KiB\")")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_size(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("a size cannot be negative (got {v})")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "a size in bytes must be a whole number (got {v}); for fractions use a unit, like \"1.5MiB\""
        )))
    }
}

/// Newtype so sizes work inside `Option` and derived helper structs.
pub(crate) struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor).map(Size)
    }
}

/// `deserialize_with = "units::size"` for `u64` byte fields (serialized as plain integers).
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Size::deserialize(d).map(|s| s.0)
}

/// `deserialize_with = "units::opt_size"` for `Option<u64>` byte fields.
pub fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<Size>::deserialize(d).map(|o| o.map(|s| s.0))
}

/// A fraction in 0..=1, written as a number (`0.8`) or a percentage string (`"80%"`).
struct FractionVisitor;

impl FractionVisitor {
    fn check<E: de::Error>(v: f64) -> Result<f64, E> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(E::custom(format!("must be between 0 and 1 (got {v})")))
        }
    }
}

impl Visitor<'_> for FractionVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a fraction between 0 and 1 (0.8) or a percentage (\"80%\")")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Self::check(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Self::check(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Self::check(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_percent(v).map_err(E::custom).and_then(Self::check)
    }
}

/// Parses `"80%"` or `"0.8"` into 0.8 (no range check).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v / scale),
        _ => Err(format!(
            "invalid fraction {text:?}; write a number like 0.8 or a percentage like \"80%\""
        )),
    }
}

/// `#[serde(with = "units::fraction")]` for `f64` fields in 0..=1.
pub mod fraction {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(FractionVisitor)
    }
}

/// A whole number greater than zero (counts: keys, clients, connections, ...).
struct PositiveVisitor;

impl Visitor<'_> for PositiveVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number greater than 0")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v == 0 {
            Err(E::custom("must be greater than 0 (got 0)"))
        } else {
            Ok(v)
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("must be greater than 0 (got {v})"))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "must be a whole number greater than 0 (got {v})"
        )))
    }
}

/// Newtype so positive counts work inside `Option`.
struct Positive(u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PositiveVisitor).map(Positive)
    }
}

fn narrow<T: TryFrom<u64>, E: de::Error>(v: u64) -> Result<T, E> {
    T::try_from(v).map_err(|_| E::custom(format!("is too large (got {v})")))
}

/// `deserialize_with = "units::positive"` for count fields (`u32`, `u64`, `usize`).
pub fn positive<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    narrow(Positive::deserialize(d)?.0)
}

/// `deserialize_with = "units::opt_positive"` for optional count fields.
pub fn opt_positive<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<Positive>::deserialize(d)?
        .map(|p| narrow(p.0))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_round_trip() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration(" 1h 30m "), Ok(Duration::from_secs(5400)));
        let d = Duration::from_millis(1500);
        assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        assert!(parse_duration("5").unwrap_err().contains("250ms"));
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
        for huge in ["366d", "600y", "18446744073709551615s"] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("365 days"), "{huge}: {e}");
        }
    }

    #[test]
    fn sizes_parse_units_and_plain_bytes() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4 KiB"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-4KiB").is_err());
    }

    #[test]
    fn percentages_and_fractions() {
        assert_eq!(parse_percent("80%"), Ok(0.8));
        assert_eq!(parse_percent("0.25"), Ok(0.25));
        assert!(parse_percent("eighty").is_err());
    }

    #[test]
    fn json_values_go_through_the_visitors() {
        use serde_json::json;
        let d: Duration = duration::deserialize(&json!("10s")).unwrap();
        assert_eq!(d, Duration::from_secs(10));
        let e = duration::deserialize(&json!(10)).unwrap_err().to_string();
        assert!(e.contains("needs a unit"), "{e}");
        assert_eq!(size(&json!("1KiB")).unwrap(), 1024);
        assert_eq!(size(&json!(512)).unwrap(), 512);
        assert!(size(&json!(-1)).is_err());
        assert_eq!(fraction::deserialize(&json!("5%")).unwrap(), 0.05);
        let e = fraction::deserialize(&json!(1.5)).unwrap_err().to_string();
        assert!(e.contains("between 0 and 1"), "{e}");
        assert_eq!(positive::<_, usize>(&json!(3)).unwrap(), 3);
        let e = positive::<_, u64>(&json!(0)).unwrap_err().to_string();
        assert!(e.contains("greater than 0"), "{e}");
        assert!(positive::<_, u32>(&json!(u64::MAX)).is_err());
        assert_eq!(opt_positive::<_, u64>(&json!(null)).unwrap(), None);
    }
}
