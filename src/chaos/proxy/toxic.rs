//! [`Toxic`]: one fault the proxy applies to the bytes of one direction, named and
//! parameterised as Toxiproxy's toxics, so its users (and its HTTP clients) feel at home.
//!
//! The JSON shape is Toxiproxy's: `{"name": "lag", "type": "latency", "stream":
//! "downstream", "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 10}}`. Every value
//! is checked against a bound when the toxic is added ([`Toxic::validate`]), so a toxic can
//! neither overflow a clock nor size a buffer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest latency, jitter or timeout a toxic may hold (ms): longer is an outage, which the
/// `timeout` toxic (0 = forever) already expresses.
pub const MAX_TOXIC_MS: u64 = 24 * 3600 * 1000;
/// Largest slice for the slicer (bytes).
pub const MAX_SLICE_BYTES: u64 = 1 << 20;
/// Longest delay between slices (µs).
pub const MAX_SLICE_DELAY_US: u64 = 60_000_000;
/// Highest bandwidth (KB/s): 100 GB/s is beyond any link.
pub const MAX_RATE_KBPS: u64 = 100_000_000;
/// Longest toxic name.
pub const MAX_NAME_BYTES: usize = 200;

/// Which direction of a connection a toxic acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client → Redis (commands).
    Upstream,
    /// Redis → client (replies). Toxiproxy's default.
    #[default]
    Downstream,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        })
    }
}

/// What a toxic does, with Toxiproxy's type names and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
pub enum ToxicKind {
    /// Delays every chunk by `latency` ms ± a uniformly random `jitter` ms.
    Latency {
        /// Added delay, ms.
        #[serde(default)]
        latency: u64,
        /// Random spread around `latency`, ms.
        #[serde(default)]
        jitter: u64,
    },
    /// Passes data at most at `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy).
    Bandwidth {
        /// KB/s, at least 1.
        #[serde(default)]
        rate: u64,
    },
    /// Forwards nothing; closes the connection after `timeout` ms, or never when it is 0 (a
    /// blackhole). Bytes are held, not dropped (see [`super`]), and flow again once the
    /// toxic is removed.
    Timeout {
        /// ms; 0 = never close.
        #[serde(default)]
        timeout: u64,
    },
    /// Resets the connection (TCP RST) `timeout` ms after data next arrives on its stream.
    ResetPeer {
        /// ms between the data and the reset.
        #[serde(default)]
        timeout: u64,
    },
    /// Cuts data into slices of about `average_size` bytes (± `size_variation`), each sent
    /// `delay` µs after the previous one.
    Slicer {
        /// Bytes per slice on average, at least 1.
        #[serde(default)]
        average_size: u64,
        /// Random spread of the slice size, less than `average_size`.
        #[serde(default)]
        size_variation: u64,
        /// µs between slices.
        #[serde(default)]
        delay: u64,
    },
}

impl ToxicKind {
    /// Toxiproxy's type name (`latency`, `reset_peer`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::Slicer { .. } => "slicer",
        }
    }

    /// The type names the proxy knows, for error messages.
    pub const TYPES: [&'static str; 5] =
        ["latency", "bandwidth", "timeout", "reset_peer", "slicer"];
}

/// One fault on one direction of every connection through a proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Toxic {
    /// Unique within its proxy; the handle to remove or update it.
    pub name: String,
    /// The direction it acts on.
    pub stream: Stream,
    /// Share of connections it affects, 0.0–1.0 (each connection draws once per toxic).
    pub toxicity: f32,
    /// What it does.
    #[serde(flatten)]
    pub kind: ToxicKind,
}

impl Toxic {
    /// A toxic affecting every connection, named `<type>_<stream>` as Toxiproxy names one
    /// created without a name.
    pub fn new(stream: Stream, kind: ToxicKind) -> Toxic {
        Toxic {
            name: format!("{}_{stream}", kind.type_name()),
            stream,
            toxicity: 1.0,
            kind,
        }
    }

    /// The same toxic under another name.
    pub fn named(mut self, name: impl Into<String>) -> Toxic {
        self.name = name.into();
        self
    }

    /// Checks every value against its bound; the message names the attribute.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.len() > MAX_NAME_BYTES {
            return Err(format!(
                "toxic name must be 1 to {MAX_NAME_BYTES} bytes, got {} bytes",
                self.name.len()
            ));
        }
        if self.name.contains('/') {
            return Err(format!("toxic name `{}` must not contain `/`", self.name));
        }
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(format!(
                "toxicity must be between 0.0 and 1.0, got {}",
                self.toxicity
            ));
        }
        let ms = |attr: &str, v: u64| {
            if v > MAX_TOXIC_MS {
                Err(format!(
                    "{attr} must be at most {MAX_TOXIC_MS} ms (a day), got {v}"
                ))
            } else {
                Ok(())
            }
        };
        match self.kind {
            ToxicKind::Latency { latency, jitter } => {
                ms("latency", latency)?;
                ms("jitter", jitter)
            }
            ToxicKind::Bandwidth { rate } if rate == 0 || rate > MAX_RATE_KBPS => Err(format!(
                "bandwidth rate must be 1 to {MAX_RATE_KBPS} KB/s, got {rate} \
                 (use a timeout toxic to stop data altogether)"
            )),
            ToxicKind::Bandwidth { .. } => Ok(()),
            ToxicKind::Timeout { timeout } | ToxicKind::ResetPeer { timeout } => {
                ms("timeout", timeout)
            }
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                if average_size == 0 || average_size > MAX_SLICE_BYTES {
                    Err(format!(
                        "slicer average_size must be 1 to {MAX_SLICE_BYTES} bytes, got {average_size}"
                    ))
                } else if size_variation >= average_size {
                    Err(format!(
                        "slicer size_variation ({size_variation}) must be less than average_size ({average_size})"
                    ))
                } else if delay > MAX_SLICE_DELAY_US {
                    Err(format!(
                        "slicer delay must be at most {MAX_SLICE_DELAY_US} µs, got {delay}"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A toxic as a Toxiproxy client sends it: every field but `type` optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicRequest {
    /// Default `<type>_<stream>`.
    pub name: Option<String>,
    /// `latency`, `bandwidth`, `timeout`, `reset_peer` or `slicer`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `upstream` or `downstream` (default).
    pub stream: Option<Stream>,
    /// Default 1.0.
    pub toxicity: Option<f32>,
    /// The type's attributes; missing ones are 0, as in Toxiproxy.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl ToxicRequest {
    /// The toxic this request creates, validated.
    pub fn into_toxic(self) -> Result<Toxic, String> {
        let type_name = self.kind.ok_or_else(|| {
            format!(
                "a toxic needs a `type` (one of {})",
                ToxicKind::TYPES.join(", ")
            )
        })?;
        let kind = parse_kind(&type_name, self.attributes)?;
        let stream = self.stream.unwrap_or_default();
        let mut toxic = Toxic::new(stream, kind);
        if let Some(name) = self.name {
            toxic.name = name;
        }
        toxic.toxicity = self.toxicity.unwrap_or(1.0);
        toxic.validate()?;
        Ok(toxic)
    }

    /// `existing` with this request's toxicity and attributes laid over it (Toxiproxy's
    /// update: what the request leaves out stays). Name, type and stream cannot change.
    pub fn update(self, existing: &Toxic) -> Result<Toxic, String> {
        if let Some(t) = self
            .kind
            .as_deref()
            .filter(|t| *t != existing.kind.type_name())
        {
            return Err(format!(
                "toxic `{}` is a {}; its type cannot change to {t} (delete it and add a new one)",
                existing.name,
                existing.kind.type_name()
            ));
        }
        if let Some(s) = self.stream.filter(|s| *s != existing.stream) {
            return Err(format!(
                "toxic `{}` acts on {}; its stream cannot change to {s}",
                existing.name, existing.stream
            ));
        }
        if let Some(n) = self.name.as_deref().filter(|n| *n != existing.name) {
            return Err(format!(
                "toxic `{}` cannot be renamed to `{n}`",
                existing.name
            ));
        }
        let mut attributes = attributes_of(&existing.kind);
        attributes.extend(self.attributes);
        let mut toxic = existing.clone();
        toxic.kind = parse_kind(existing.kind.type_name(), attributes)?;
        if let Some(t) = self.toxicity {
            toxic.toxicity = t;
        }
        toxic.validate()?;
        Ok(toxic)
    }
}

/// The attributes object of `kind`, as Toxiproxy shows it.
pub fn attributes_of(kind: &ToxicKind) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::Object(mut o)) => match o.remove("attributes") {
            Some(serde_json::Value::Object(a)) => a,
            _ => serde_json::Map::new(),
        },
        _ => serde_json::Map::new(),
    }
}

fn parse_kind(
    type_name: &str,
    attributes: serde_json::Map<String, serde_json::Value>,
) -> Result<ToxicKind, String> {
    if !ToxicKind::TYPES.contains(&type_name) {
        return Err(format!(
            "unknown toxic type `{type_name}` (known: {})",
            ToxicKind::TYPES.join(", ")
        ));
    }
    let known = known_attributes(type_name);
    if let Some(bad) = attributes.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "{type_name} toxic has no attribute `{bad}` (its attributes: {})",
            known.join(", ")
        ));
    }
    let value = serde_json::json!({ "type": type_name, "attributes": attributes });
    serde_json::from_value(value).map_err(|e| format!("bad {type_name} attributes: {e}"))
}

fn known_attributes(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "latency" => &["latency", "jitter"],
        "bandwidth" => &["rate"],
        "timeout" | "reset_peer" => &["timeout"],
        "slicer" => &["average_size", "size_variation", "delay"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<Toxic, String> {
        serde_json::from_str::<ToxicRequest>(json)
            .map_err(|e| e.to_string())?
            .into_toxic()
    }

    #[test]
    fn toxiproxy_json_round_trips() {
        let t = request(
            r#"{"name":"lag","type":"latency","stream":"upstream","toxicity":0.5,
                "attributes":{"latency":100,"jitter":10}}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            Toxic {
                name: "lag".into(),
                stream: Stream::Upstream,
                toxicity: 0.5,
                kind: ToxicKind::Latency {
                    latency: 100,
                    jitter: 10
                },
            }
        );
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"lag","type":"latency","stream":"upstream",
                "toxicity":0.5,"attributes":{"latency":100,"jitter":10}})
        );
    }

    #[test]
    fn defaults_are_toxiproxys() {
        let t = request(r#"{"type":"timeout","attributes":{}}"#).unwrap();
        assert_eq!(t.name, "timeout_downstream");
        assert_eq!(t.stream, Stream::Downstream);
        assert_eq!(t.toxicity, 1.0);
        assert_eq!(t.kind, ToxicKind::Timeout { timeout: 0 });
    }

    #[test]
    fn bad_toxics_say_what_is_wrong() {
        let cases = [
            (r#"{"type":"lag"}"#, "unknown toxic type `lag`"),
            (r#"{"attributes":{}}"#, "needs a `type`"),
            (
                r#"{"type":"latency","attributes":{"latncy":5}}"#,
                "no attribute `latncy`",
            ),
            (
                r#"{"type":"latency","attributes":{"latency":-5}}"#,
                "bad latency attributes",
            ),
            (r#"{"type":"bandwidth"}"#, "bandwidth rate must be 1"),
            (
                r#"{"type":"slicer","attributes":{"average_size":10,"size_variation":10}}"#,
                "less than average_size",
            ),
            (r#"{"type":"timeout","toxicity":1.5}"#, "toxicity must be"),
            (
                r#"{"type":"latency","attributes":{"latency":999999999999}}"#,
                "at most",
            ),
            (r#"{"type":"latency","name":""}"#, "toxic name"),
        ];
        for (json, want) in cases {
            let err = request(json).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
        let err = serde_json::from_str::<ToxicRequest>(r#"{"type":"latency","strem":"up"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("strem"), "{err}");
    }

    #[test]
    fn an_update_overlays_attributes_and_keeps_the_rest() {
        let t = Toxic::new(
            Stream::Downstream,
            ToxicKind::Latency {
                latency: 100,
                jitter: 10,
            },
        );
        let req: ToxicRequest = serde_json::from_str(r#"{"attributes":{"latency":5}}"#).unwrap();
        let u = req.update(&t).unwrap();
        assert_eq!(
            u.kind,
            ToxicKind::Latency {
                latency: 5,
                jitter: 10
            }
        );
        let req: ToxicRequest = serde_json::from_str(r#"{"type":"timeout"}"#).unwrap();
        assert!(req.update(&t).unwrap_err().contains("cannot change"));
    }
}
