//! Colours of the charts, readable on light and dark pages alike.
//!
//! Plotters writes fixed `#RRGGBB` colours. Text, axes and grid are drawn in a sentinel
//! colour ([`FG`]) and backgrounds in another ([`BG`]); [`adaptive`] then rewrites them to
//! `currentColor` and a CSS variable, so an inlined chart takes the page's text colour and a
//! standalone SVG follows `prefers-color-scheme` through the `<style>` it carries. [`light`]
//! rewrites them to fixed light-theme colours instead, for rasterizers without CSS.
//! Series colours are mid-luminance hues that stay legible on white and on near-black.

use plotters::style::RGBColor;

/// Sentinel for text, axes and grid lines (never used as a data colour).
pub const FG: RGBColor = RGBColor(0x01, 0x02, 0x03);
/// Sentinel for the chart and legend background.
pub const BG: RGBColor = RGBColor(0xFE, 0xFD, 0xFC);

/// p50, response time, the current run.
pub const BLUE: RGBColor = RGBColor(0x3B, 0x82, 0xF6);
/// p95, hit rate.
pub const AMBER: RGBColor = RGBColor(0xF5, 0x9E, 0x0B);
/// p99, errors, breaker open.
pub const RED: RGBColor = RGBColor(0xEF, 0x44, 0x44);
/// Throughput, breaker closed.
pub const GREEN: RGBColor = RGBColor(0x10, 0xB9, 0x81);
/// Fallback, service time.
pub const PURPLE: RGBColor = RGBColor(0xA8, 0x55, 0xF7);
/// The baseline, drawn behind the current run.
pub const GREY: RGBColor = RGBColor(0x8B, 0x94, 0x9E);
/// Fault windows, shaded translucently.
pub const FAULT: RGBColor = RGBColor(0xE1, 0x1D, 0x48);

/// Font family: the reader's own sans-serif (no web fonts).
pub const FONT: &str = "sans-serif";

/// Light-theme text colour.
pub const LIGHT_FG: &str = "#1f2328";
/// Light-theme background.
pub const LIGHT_BG: &str = "#ffffff";
/// Dark-theme text colour.
pub const DARK_FG: &str = "#e6edf3";
/// Dark-theme background.
pub const DARK_BG: &str = "#0d1117";

const FG_ATTR: &str = "#010203";
const BG_ATTR: &str = "#FEFDFC";

/// The `<style>` a standalone SVG carries so it follows the viewer's colour scheme.
fn style_block() -> String {
    format!(
        "<style>svg{{color:{LIGHT_FG};--rl-bg:{LIGHT_BG}}}\
         @media (prefers-color-scheme: dark){{svg{{color:{DARK_FG};--rl-bg:{DARK_BG}}}}}</style>\n"
    )
}

/// Rewrites the sentinels to follow the page: foreground `currentColor`, background the
/// `--rl-bg` variable. With `standalone`, a `<style>` setting both for light and dark
/// schemes is added after the opening `<svg>` tag; without it (inlined in report.html) the
/// page sets them.
pub fn adaptive(svg: &str, standalone: bool) -> String {
    let out = svg
        .replace(&format!("\"{FG_ATTR}\""), "\"currentColor\"")
        .replace(
            &format!("fill=\"{BG_ATTR}\""),
            &format!("style=\"fill:var(--rl-bg,{LIGHT_BG})\""),
        );
    if !standalone {
        return out;
    }
    match out
        .find("<svg")
        .and_then(|i| out[i..].find('>').map(|j| i + j + 1))
    {
        Some(end) => format!("{}\n{}{}", &out[..end], style_block(), &out[end..]),
        None => out,
    }
}

/// Rewrites the sentinels to fixed light-theme colours (for PNG).
pub fn light(svg: &str) -> String {
    svg.replace(FG_ATTR, LIGHT_FG).replace(BG_ATTR, LIGHT_BG)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<svg width=\"1\" height=\"1\" xmlns=\"x\">\n<rect fill=\"#FEFDFC\"/>\
                          <text fill=\"#010203\">a</text><line stroke=\"#010203\"/></svg>";

    #[test]
    fn adaptive_follows_the_page_and_standalone_carries_both_schemes() {
        let inlined = adaptive(SAMPLE, false);
        assert!(!inlined.contains(FG_ATTR) && !inlined.contains(BG_ATTR));
        assert_eq!(inlined.matches("currentColor").count(), 2);
        assert!(inlined.contains("style=\"fill:var(--rl-bg,#ffffff)\""));
        assert!(!inlined.contains("<style>"));
        let standalone = adaptive(SAMPLE, true);
        let style_at = standalone.find("<style>").expect("style block");
        assert!(style_at > standalone.find("<svg").unwrap());
        assert!(standalone.contains("prefers-color-scheme: dark"));
    }

    #[test]
    fn light_uses_fixed_colours() {
        let out = light(SAMPLE);
        assert!(out.contains(LIGHT_FG) && out.contains(LIGHT_BG));
        assert!(!out.contains(FG_ATTR) && !out.contains("currentColor"));
    }
}
