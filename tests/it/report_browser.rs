//! report.html in a real browser: headless Chromium opens a run's page and the test checks
//! that it rendered with its charts visible — each SVG laid out at a real size (read back
//! through the DOM), and screenshots that are not blank, show the series' colours and
//! follow the light and dark colour schemes. Chromium is required: without it the test
//! fails saying how to install it (.ci/run installs it).

use crate::report_files::{smoke_run, CHARTS};
use crate::support::{finished_within, Finished};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Chromium: `REDLINE_CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("REDLINE_CHROMIUM").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "REDLINE_CHROMIUM names {}, which is not a file; unset it or install Chromium with \
             `apt-get update && apt-get install -y chromium`",
            path.display()
        );
        return path;
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is needed to test report.html in a real browser, and none was found \
         (looked for {names:?} on PATH and REDLINE_CHROMIUM). Install it with \
         `apt-get update && apt-get install -y chromium` (Debian; .ci/run does this in CI)."
    );
}

/// Chromium in headless mode with nothing that reaches the network, its profile in `dir`.
fn headless(dir: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.current_dir(dir).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
    ]);
    cmd.arg(format!("--user-data-dir={}", dir.join("profile").display()));
    cmd
}

fn run_chromium(cmd: Command) -> Finished {
    let done = finished_within(cmd, Duration::from_secs(120));
    assert_eq!(done.code(), Some(0), "chromium failed: {}", done.describe());
    done
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A copy of the page with a script that writes each chart's laid-out size into the DOM
/// (the page itself carries no script, and its CSP forbids one: the copy allows it).
fn probe_page(html: &str) -> String {
    let script = r#"<script>
const sizes = [...document.querySelectorAll('figure svg')].map(svg => {
  const r = svg.getBoundingClientRect();
  return svg.closest('figure').id + '=' + Math.round(r.width) + 'x' + Math.round(r.height)
    + ':' + svg.querySelectorAll('polyline').length;
});
const out = document.createElement('pre');
out.id = 'rendered-sizes';
out.textContent = sizes.join(';');
document.body.appendChild(out);
</script>
</body>"#;
    let with_script = html.replace("</body>", script);
    assert_ne!(with_script, html, "report.html has no </body>");
    with_script.replace(
        "default-src 'none'; style-src 'unsafe-inline'",
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
    )
}

/// A decoded screenshot: width, height and RGB(A) pixels.
struct Shot {
    width: usize,
    px: usize,
    pixels: Vec<u8>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let file = std::fs::File::open(path).expect("screenshot written");
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("screenshot is a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("PNG frame");
        buf.truncate(info.buffer_size());
        Shot {
            width: info.width as usize,
            px: info.line_size / info.width as usize,
            pixels: buf,
        }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.px;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    fn all(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.pixels.chunks(self.px).map(|p| [p[0], p[1], p[2]])
    }

    /// Pixels within `tolerance` of `rgb` on every channel.
    fn near(&self, rgb: [u8; 3], tolerance: u8) -> usize {
        self.all()
            .filter(|p| (0..3).all(|c| p[c].abs_diff(rgb[c]) <= tolerance))
            .count()
    }
}

fn luminance([r, g, b]: [u8; 3]) -> f64 {
    0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64
}

fn screenshot(tmp: &Path, page: &Path, name: &str, dark: bool) -> Shot {
    let file = tmp.join(name);
    let mut cmd = headless(tmp);
    if dark {
        cmd.arg("--blink-settings=preferredColorScheme=0");
    } else {
        cmd.arg("--blink-settings=preferredColorScheme=1");
    }
    cmd.arg(format!("--screenshot={}", file.display()))
        .arg("--window-size=1000,2200")
        .arg(url(page));
    run_chromium(cmd);
    Shot::load(&file)
}

#[test]
fn report_html_renders_in_chromium_with_every_chart_visible_in_light_and_dark() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = smoke_run(tmp.path(), &["--quiet"]);
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");

    // Laid out: every chart has a real size and its lines in the rendered DOM.
    let probe = tmp.path().join("probe.html");
    std::fs::write(&probe, probe_page(&html)).unwrap();
    let mut cmd = headless(tmp.path());
    cmd.arg("--dump-dom").arg(url(&probe));
    let dom = run_chromium(cmd).stdout;
    let sizes = dom
        .split("<pre id=\"rendered-sizes\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("{} did not run the probe; DOM:\n{dom}", browser.display()));
    let mut seen = Vec::new();
    for entry in sizes.split(';') {
        let (id, rest) = entry.split_once('=').expect("id=WxH:N");
        let (size, lines) = rest.split_once(':').expect("WxH:N");
        let (w, h) = size.split_once('x').expect("WxH");
        let (w, h, lines): (u32, u32, u32) = (
            w.parse().unwrap(),
            h.parse().unwrap(),
            lines.parse().unwrap(),
        );
        assert!(w > 300 && h > 100, "{id} laid out at {w}x{h}");
        assert!(lines > 0, "{id} has no lines");
        seen.push(id.trim_start_matches("chart-").to_string());
    }
    assert_eq!(seen, CHARTS, "charts laid out: {sizes}");

    // Seen: not blank, with the verdict and the first charts' series colours on screen.
    let light = screenshot(tmp.path(), &page, "light.png", false);
    let background = light.pixel(2, 2);
    assert!(
        luminance(background) > 200.0,
        "light background {background:?}"
    );
    let painted = light.all().filter(|p| *p != background).count();
    assert!(
        painted * 20 > light.pixels.len() / light.px,
        "light page is nearly blank: {painted} painted pixels"
    );
    // p50 (blue, latency chart) and throughput (green) lines, tolerant of anti-aliasing.
    assert!(
        light.near([0x3B, 0x82, 0xF6], 40) > 150,
        "no p50 line visible in the light page"
    );
    assert!(
        light.near([0x10, 0xB9, 0x81], 40) > 150,
        "no throughput line visible in the light page"
    );

    let dark = screenshot(tmp.path(), &page, "dark.png", true);
    let background = dark.pixel(2, 2);
    assert!(
        luminance(background) < 50.0,
        "dark background {background:?}"
    );
    // Text and axes follow the scheme: light pixels exist on the dark page.
    assert!(
        dark.all().filter(|p| luminance(*p) > 180.0).count() > 2_000,
        "no light text on the dark page"
    );
    assert!(
        dark.near([0x3B, 0x82, 0xF6], 40) > 150,
        "no p50 line visible in the dark page"
    );
}
