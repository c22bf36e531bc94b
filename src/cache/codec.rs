//! Value encoding: typed values as JSON, and optional compression of large values with a
//! codec choice — none, gzip+base64 (what the guide does), gzip as raw bytes, zstd.
//!
//! A compressed value starts with a 4-byte header (`0xF5 'R' 'L'` + codec id), so values
//! written with different codecs, or uncompressed, read back side by side. `0xF5` never
//! starts valid UTF-8, so JSON values can never be mistaken for compressed ones.

use super::error::OpError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{Read, Write};

const MAGIC: [u8; 3] = [0xF5, b'R', b'L'];
const HEADER_LEN: usize = 4;

/// Compression codec for large values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Codec {
    /// Stored as is.
    #[default]
    #[serde(rename = "none")]
    None,
    /// gzip, then base64 text: what the guide's example does.
    #[serde(rename = "gzip-base64")]
    GzipBase64,
    /// gzip as raw bytes (a third smaller on the wire than base64).
    #[serde(rename = "gzip")]
    Gzip,
    /// zstd (level 3): faster than gzip at a similar ratio.
    #[serde(rename = "zstd")]
    Zstd,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 4] = [Codec::None, Codec::GzipBase64, Codec::Gzip, Codec::Zstd];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::GzipBase64 => "gzip-base64",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    fn id(self) -> u8 {
        match self {
            Codec::None => 0,
            Codec::GzipBase64 => 1,
            Codec::Gzip => 2,
            Codec::Zstd => 3,
        }
    }

    fn from_id(id: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.id() == id)
    }
}

impl std::str::FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown codec {s:?}: use none, gzip-base64, gzip or zstd"))
    }
}

/// Which codec to use, and from what size on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodecConfig {
    pub codec: Codec,
    /// Values smaller than this are stored uncompressed (compression costs more than it
    /// saves on small values).
    pub threshold: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        CodecConfig {
            codec: Codec::None,
            threshold: 1024,
        }
    }
}

impl CodecConfig {
    /// Encodes `raw` for storage: compressed with a header when the codec is not `None` and
    /// the value is at least `threshold` bytes, else unchanged (borrowed).
    pub fn encode<'a>(&self, raw: &'a [u8]) -> Result<Cow<'a, [u8]>, OpError> {
        if self.codec == Codec::None || raw.len() < self.threshold {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = Vec::with_capacity(raw.len() / 2 + HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(self.codec.id());
        let codec_err = |e: std::io::Error| OpError::Codec(e.to_string());
        match self.codec {
            Codec::None => unreachable!("handled above"),
            Codec::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                enc.write_all(raw).map_err(codec_err)?;
                out = enc.finish().map_err(codec_err)?;
            }
            Codec::GzipBase64 => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(raw).map_err(codec_err)?;
                let gz = enc.finish().map_err(codec_err)?;
                let text = base64::engine::general_purpose::STANDARD.encode(gz);
                out.extend_from_slice(text.as_bytes());
            }
            Codec::Zstd => {
                let mut enc = zstd::stream::Encoder::new(out, 3).map_err(codec_err)?;
                enc.write_all(raw).map_err(codec_err)?;
                out = enc.finish().map_err(codec_err)?;
            }
        }
        Ok(Cow::Owned(out))
    }

    /// Serializes `value` as JSON and encodes it.
    pub fn encode_json<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, OpError> {
        let json = serde_json::to_vec(value).map_err(|e| OpError::Codec(e.to_string()))?;
        Ok(self.encode(&json)?.into_owned())
    }
}

/// The codec a stored value was written with.
pub fn codec_of(stored: &[u8]) -> Codec {
    if stored.len() >= HEADER_LEN && stored[..3] == MAGIC {
        Codec::from_id(stored[3]).unwrap_or(Codec::None)
    } else {
        Codec::None
    }
}

/// Decodes a stored value, whatever codec wrote it.
pub fn decode(stored: &[u8]) -> Result<Cow<'_, [u8]>, OpError> {
    let codec = codec_of(stored);
    if codec == Codec::None {
        return Ok(Cow::Borrowed(stored));
    }
    let body = &stored[HEADER_LEN..];
    let codec_err = |e: std::io::Error| OpError::Codec(format!("{} value: {e}", codec.name()));
    let mut out = Vec::with_capacity(body.len() * 3);
    match codec {
        Codec::None => unreachable!("handled above"),
        Codec::Gzip => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(codec_err)?;
        }
        Codec::GzipBase64 => {
            let gz = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| OpError::Codec(format!("gzip-base64 value: {e}")))?;
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .map_err(codec_err)?;
        }
        Codec::Zstd => {
            zstd::stream::Decoder::new(body)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(codec_err)?;
        }
    }
    Ok(Cow::Owned(out))
}

/// Decodes a stored value and parses it as JSON.
pub fn decode_json<T: serde::de::DeserializeOwned>(stored: &[u8]) -> Result<T, OpError> {
    let raw = decode(stored)?;
    serde_json::from_slice(&raw).map_err(|e| OpError::Codec(format!("not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<u8> {
        let words = ["contact", "workspace", "campaign", "email", "score", "lead"];
        let mut s = Vec::new();
        let mut i = 0;
        while s.len() < n {
            s.extend_from_slice(words[i % words.len()].as_bytes());
            s.push(b' ');
            i += 7;
        }
        s.truncate(n);
        s
    }

    #[test]
    fn every_codec_round_trips_and_mixed_values_read_back() {
        let raw = text(10_000);
        let mut stored = Vec::new();
        for codec in Codec::ALL {
            let cfg = CodecConfig {
                codec,
                threshold: 1024,
            };
            let enc = cfg.encode(&raw).unwrap().into_owned();
            assert_eq!(codec_of(&enc), codec);
            if codec != Codec::None {
                assert!(enc.len() < raw.len() / 2, "{codec:?} did not compress");
            }
            stored.push(enc);
        }
        for enc in &stored {
            assert_eq!(decode(enc).unwrap().as_ref(), raw.as_slice());
        }
    }

    #[test]
    fn small_values_stay_uncompressed() {
        let cfg = CodecConfig {
            codec: Codec::Zstd,
            threshold: 1024,
        };
        let raw = text(100);
        assert!(matches!(cfg.encode(&raw).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn gzip_base64_body_is_base64_text() {
        let cfg = CodecConfig {
            codec: Codec::GzipBase64,
            threshold: 0,
        };
        let raw = text(5000);
        let enc = cfg.encode(&raw).unwrap();
        assert!(std::str::from_utf8(&enc[HEADER_LEN..]).is_ok());
    }

    #[test]
    fn typed_values_round_trip() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Contact {
            id: u32,
            name: String,
        }
        let c = Contact {
            id: 7,
            name: "Ada".into(),
        };
        let cfg = CodecConfig {
            codec: Codec::Gzip,
            threshold: 0,
        };
        let enc = cfg.encode_json(&c).unwrap();
        assert_eq!(decode_json::<Contact>(&enc).unwrap(), c);
    }

    #[test]
    fn corrupt_compressed_values_are_codec_errors() {
        let mut bad = MAGIC.to_vec();
        bad.push(Codec::Gzip.id());
        bad.extend_from_slice(b"not gzip");
        assert!(matches!(decode(&bad), Err(OpError::Codec(_))));
    }
}
