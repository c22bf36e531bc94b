//! Histograms in report.json: HdrHistogram V2 binary encoding, base64 (standard alphabet), the
//! same format other HdrHistogram tools read. It lets `redline report`, `compare` and a future
//! `redline merge` recompute any percentile or add histograms from several load machines.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2SerializeError, V2Serializer};
use hdrhistogram::Histogram;

/// Why a histogram from a report could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum HistogramDecodeError {
    /// The text is not base64; the report was edited or truncated.
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not an HdrHistogram V2 encoding.
    #[error("histogram is not a valid HdrHistogram V2 encoding: {0}")]
    Hdr(#[from] hdrhistogram::serialization::DeserializeError),
}

/// Encodes a histogram as base64 HdrHistogram V2.
pub fn encode_histogram(h: &Histogram<u64>) -> Result<String, V2SerializeError> {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(h, &mut bytes)?;
    Ok(STANDARD.encode(bytes))
}

/// Decodes a histogram written by [`encode_histogram`]. The result auto-resizes, so other
/// histograms can be merged into it whatever their range.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, HistogramDecodeError> {
    let bytes = STANDARD.decode(text.trim())?;
    let mut h: Histogram<u64> = Deserializer::new().deserialize(&mut bytes.as_slice())?;
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::recorder::new_histogram;

    #[test]
    fn base64_round_trip_preserves_every_count() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).expect("record");
        }
        h.record(2_500_000).expect("record");
        let text = encode_histogram(&h).expect("encode");
        let back = decode_histogram(&text).expect("decode");
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
        assert!(back.iter_recorded().eq(h.iter_recorded()));
    }

    #[test]
    fn decoded_histograms_merge_beyond_their_range() {
        let mut small = new_histogram();
        small.record(10).expect("record");
        let mut merged = decode_histogram(&encode_histogram(&small).expect("encode")).expect("ok");
        let mut big = new_histogram();
        big.record(3_000_000).expect("record");
        merged.add(&big).expect("auto-resizing after decode");
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            decode_histogram("not base64!"),
            Err(HistogramDecodeError::Base64(_))
        ));
        assert!(matches!(
            decode_histogram("aGVsbG8gd29ybGQ="),
            Err(HistogramDecodeError::Hdr(_))
        ));
    }
}
