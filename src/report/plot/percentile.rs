//! Latency by percentile in HdrHistogram's style: x is the percentile on a log `1/(1-p)`
//! scale from 0 % to 99.999 %, so the tail gets as much room as the median; y is the
//! latency at that percentile (ms, log scale). Drawn from the histograms report.json keeps,
//! response and service time of the run and, when given, the baseline's response time.

use super::theme::{BLUE, GREY, PURPLE};
use super::{frame, new_svg};
use crate::report::hdr::decode_histogram;
use crate::report::summary::RunSummary;
use hdrhistogram::Histogram;
use plotters::prelude::*;
use std::io;

/// Right end of the x axis: 1/(1 − 0.99999), the 99.999th percentile.
pub const X_MAX: f64 = 100_000.0;

/// Quantile steps per halving of the distance to 100 %, as HdrHistogram's percentile
/// distribution output uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The curve of `h`: (1/(1−q), latency in ms) from q = 0 up to 99.999 % (later quantiles are
/// folded into one last point at the right edge). Empty for an empty histogram.
pub fn points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    if h.is_empty() {
        return out;
    }
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let q = v.quantile_iterated_to();
        let ms = v.value_iterated_to().max(1) as f64 / 1_000.0;
        let x = if q >= 1.0 - 1.0 / X_MAX {
            X_MAX
        } else {
            1.0 / (1.0 - q)
        };
        out.push((x, ms));
        if x >= X_MAX {
            break;
        }
    }
    out
}

/// A tick label for x = 1/(1−p): `0%`, `90%`, `99.9%`.
pub fn percent_label(x: f64) -> String {
    if x < 1.0 + 1e-9 {
        return "0%".to_string();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    // Enough decimals to tell 99.9 from 99.99: one more than the count of leading nines.
    let decimals = (-(100.0 - p).log10()).ceil().clamp(0.0, 4.0) as usize;
    let text = format!("{p:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}%")
}

/// Decodes `histograms.<family>.overall`, naming it in the error.
fn overall(s: &RunSummary, family: &str) -> io::Result<Option<Histogram<u64>>> {
    let map = match family {
        "response" => &s.histograms.response,
        _ => &s.histograms.service,
    };
    map.get("overall")
        .map(|text| {
            decode_histogram(text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("histograms.{family}.overall is not a valid HdrHistogram: {e}"),
                )
            })
        })
        .transpose()
}

/// The chart; a histogram that does not decode is an error naming it.
pub fn curve(s: &RunSummary, baseline: Option<&RunSummary>) -> io::Result<String> {
    let mut curves = Vec::new();
    if let Some(b) = baseline {
        let h = overall(b, "response")
            .map_err(|e| io::Error::new(e.kind(), format!("baseline: {e}")))?;
        curves.push(("baseline response time", GREY, h.map(|h| points(&h))));
    }
    curves.push((
        "service time",
        PURPLE,
        overall(s, "service")?.map(|h| points(&h)),
    ));
    curves.push((
        "response time",
        BLUE,
        overall(s, "response")?.map(|h| points(&h)),
    ));
    let curves: Vec<_> = curves
        .into_iter()
        .filter_map(|(l, c, p)| p.filter(|p| !p.is_empty()).map(|p| (l, c, p)))
        .collect();
    let ys = || curves.iter().flat_map(|c| c.2.iter().map(|p| p.1));
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 1.5, hi * 1.5)
    } else {
        (0.01, 10.0)
    };
    new_svg(super::HEIGHT, |root| {
        let mut chart = frame(root, "Response time by percentile")
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((1.0..X_MAX).log_scale(), (lo..hi).log_scale())?;
        super::mesh_xy(
            &mut chart,
            "percentile (log scale of 1/(1-p))",
            "latency (ms, log scale)",
            &|x| percent_label(*x),
            &|y| super::short_number(*y),
        )?;
        if curves.is_empty() {
            chart.draw_series([Text::new(
                "no operations were measured",
                (2.0, (lo * hi).sqrt()),
                super::label_font(),
            )])?;
        }
        for (label, color, pts) in &curves {
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), style))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        super::legend(&mut chart)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::hdr::new_histogram;

    #[test]
    fn labels_read_as_percentiles() {
        assert_eq!(percent_label(1.0), "0%");
        assert_eq!(percent_label(10.0), "90%");
        assert_eq!(percent_label(100.0), "99%");
        assert_eq!(percent_label(1_000.0), "99.9%");
        assert_eq!(percent_label(100_000.0), "99.999%");
        assert_eq!(percent_label(2.0), "50%");
    }

    #[test]
    fn curve_points_rise_and_end_at_the_right_edge() {
        let mut h = new_histogram();
        for v in 1..=100_000u64 {
            h.record(v).expect("record");
        }
        let pts = points(&h);
        assert!(pts.len() > 20, "{} points", pts.len());
        assert_eq!(pts[0].0, 1.0);
        assert_eq!(pts.last().map(|p| p.0), Some(X_MAX));
        assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
        assert!(points(&new_histogram()).is_empty());
    }
}
