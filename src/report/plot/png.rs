//! PNG copies of the charts (`--png`), rasterized from the same SVG with resvg, so a PNG
//! never differs from its SVG. Text uses the machine's fonts: the generic `sans-serif` is
//! mapped to the first of a few common families installed, else to any installed face;
//! without any font the lines and colours still draw and the text is left out.

use resvg::{tiny_skia, usvg};
use std::io;
use std::sync::{Arc, OnceLock};

/// Pixels per SVG unit: PNGs are drawn at twice the SVG's size, sharp on high-density screens.
pub const SCALE: f32 = 2.0;

/// Families tried for `sans-serif`, in order.
const SANS: [&str; 5] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "Arial",
    "Helvetica",
];

/// The system's fonts, loaded once per process (loading reads every font file's header).
fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_system_fonts();
            let installed = |name: &str| {
                db.faces()
                    .any(|f| f.families.iter().any(|(family, _)| family == name))
            };
            let sans = SANS
                .into_iter()
                .find(|name| installed(name))
                .map(str::to_string)
                .or_else(|| {
                    db.faces()
                        .next()
                        .and_then(|f| f.families.first().map(|(family, _)| family.clone()))
                });
            if let Some(family) = sans {
                db.set_sans_serif_family(family);
            }
            Arc::new(db)
        })
        .clone()
}

/// Rasterizes an SVG (with fixed colours: see [`theme::light`](super::theme::light)) to PNG
/// bytes at [`SCALE`].
pub fn render(svg: &str) -> io::Result<Vec<u8>> {
    let options = usvg::Options {
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| io::Error::other(format!("cannot rasterize a chart: {e}")))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(SCALE)
        .ok_or_else(|| io::Error::other("cannot rasterize a chart: its size overflows"))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| io::Error::other("cannot rasterize a chart: empty size"))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| io::Error::other(format!("cannot encode a chart as PNG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::{charts, theme, HEIGHT, WIDTH};

    #[test]
    fn png_has_twice_the_svg_size_and_draws_the_series() {
        let s = crate::report::plot::tests::synthetic();
        let chart = charts(&s, None).expect("charts").remove(0);
        let bytes = render(&chart.light_svg()).expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!((info.width, info.height), (WIDTH * 2, HEIGHT * 2));
        let px = info.line_size / info.width as usize;
        // The p99 series is red: some pixels must be it, on a white background.
        let [r, g, b] = [theme::RED.0, theme::RED.1, theme::RED.2];
        let red = buf[..info.buffer_size()]
            .chunks(px)
            .filter(|p| p[0] == r && p[1] == g && p[2] == b)
            .count();
        assert!(red > 100, "{red} p99-coloured pixels");
        assert_eq!(&buf[..3], &[0xff, 0xff, 0xff], "light background");
    }
}
