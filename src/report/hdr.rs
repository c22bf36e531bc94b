//! Histograms in report.json: HdrHistogram V2 binary encoding, base64 (standard alphabet), the
//! same format other HdrHistogram tools read. It lets `redline report`, `compare` and a future
//! `redline merge` recompute any percentile or add histograms from several load machines.
//! Also the primitives every redline histogram goes through: its precision and ceiling, and
//! recording and merging that clamp instead of failing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hdrhistogram::serialization::{
    Deserializer, Serializer as _, V2DeflateSerializeError, V2DeflateSerializer, V2SerializeError,
    V2Serializer,
};
use hdrhistogram::Histogram;

/// Significant decimal digits every redline histogram keeps (values are exact below 2,048 µs
/// and within 0.1 % above).
pub const SIGFIG: u8 = 3;

/// Largest latency a histogram records, in microseconds (one hour). Larger values are clamped
/// so a stuck operation is still counted, at the ceiling, instead of being lost.
pub const MAX_US: u64 = 3_600_000_000;

const _: () = assert!(SIGFIG <= 5, "hdrhistogram accepts 0..=5 significant digits");

/// An empty auto-resizing microsecond histogram with redline's precision.
pub fn new_histogram() -> Histogram<u64> {
    // Only an out-of-range sigfig makes this fail, and SIGFIG is checked at compile time above.
    Histogram::new(SIGFIG).expect("SIGFIG is a valid hdrhistogram precision")
}

/// Records `value` (µs), clamped to [`MAX_US`].
#[inline]
pub(crate) fn record_us(h: &mut Histogram<u64>, value: u64) {
    // An auto-resizing histogram grows to fit any clamped value; saturating_record is the
    // fallback should growth ever be refused, so a sample is never dropped.
    if h.record(value.min(MAX_US)).is_err() {
        h.saturating_record(value.min(MAX_US));
    }
}

/// Adds `src` into `dst`. The fast path is hdrhistogram's own `add`; if it refuses (a histogram
/// decoded from a report with a fixed range smaller than `src`), values are re-recorded one
/// bucket at a time, clamped, so merging never fails.
pub fn add_histogram(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    if src.is_empty() {
        return;
    }
    if dst.add(src).is_ok() {
        return;
    }
    for v in src.iter_recorded() {
        let value = v.value_iterated_to().min(MAX_US);
        if dst.record_n(value, v.count_at_value()).is_err() {
            dst.saturating_record_n(value, v.count_at_value());
        }
    }
}

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

/// Encodes a histogram as base64 HdrHistogram V2 compressed (deflate), the encoding of
/// interval logs (`.hlog`). [`decode_histogram`] reads it too.
pub fn encode_compressed(h: &Histogram<u64>) -> Result<String, V2DeflateSerializeError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes)?;
    Ok(STANDARD.encode(bytes))
}

/// Decodes a histogram written by [`encode_histogram`] or [`encode_compressed`]. The result auto-resizes, so other
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
    fn compressed_round_trip_preserves_every_count() {
        let mut h = new_histogram();
        for v in 1..=5000u64 {
            h.record(v * 7).expect("record");
        }
        let text = encode_compressed(&h).expect("encode");
        assert!(text.len() < encode_histogram(&h).expect("encode").len());
        let back = decode_histogram(&text).expect("decode");
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

    #[test]
    fn merge_accepts_fixed_range_histograms() {
        // A histogram decoded from a report has a fixed range; merging a larger value into
        // it must fall back to re-recording instead of failing.
        let mut fixed = Histogram::<u64>::new_with_bounds(1, 2048, SIGFIG).expect("valid");
        fixed.record(10).expect("in range");
        let mut big = new_histogram();
        big.record(1_000_000).expect("auto-resizes");
        add_histogram(&mut fixed, &big);
        assert_eq!(fixed.len(), 2);
    }
}
