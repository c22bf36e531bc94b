//! The live view of a run, rendered from the [`LiveLine`] the engine hands over once a
//! second: on a terminal an indicatif progress bar with elapsed and remaining time and the
//! current ops/s, p99, hit rate, errors and breaker state; when stderr is not a terminal (a
//! CI log) plain periodic lines, about [`LINES_PER_RUN`] per run and at least one every
//! [`MAX_LINE_PERIOD`]; nothing with `--quiet`. It writes to stderr, so stdout keeps only
//! the summary.

use super::aggregate::LiveLine;
use super::format;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::time::Duration;

/// Plain lines printed over a run of known length (one per second for short runs).
pub const LINES_PER_RUN: u32 = 20;
/// The longest gap between two plain lines.
pub const MAX_LINE_PERIOD: Duration = Duration::from_secs(30);

/// How the live view shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveMode {
    /// Nothing (`--quiet`).
    Off,
    /// A redrawn progress bar (stderr is a terminal).
    Bar,
    /// One plain line every so often (stderr is a file or a pipe).
    Lines,
}

impl LiveMode {
    /// The mode for a run: off when quiet, a bar on a terminal, else lines.
    pub fn choose(quiet: bool, stderr_is_terminal: bool) -> LiveMode {
        match (quiet, stderr_is_terminal) {
            (true, _) => LiveMode::Off,
            (false, true) => LiveMode::Bar,
            (false, false) => LiveMode::Lines,
        }
    }
}

/// The numbers of one tick: `48,950 ops/s  p99 1.2ms  hit 82.4%  err 0  breaker CLOSED`.
pub fn numbers(l: &LiveLine) -> String {
    let p99 = l.p99_us.map_or_else(|| "-".to_string(), format::us);
    let hit = l
        .hit_rate
        .map_or_else(|| "-".to_string(), |r| format::percent(r, 1));
    let mut line = format!(
        "{}  p99 {p99}  hit {hit}  err {}",
        format::per_second(l.ops_per_s),
        format::count(l.errors),
    );
    if let Some(b) = l.breaker {
        line.push_str("  breaker ");
        line.push_str(b.name());
    }
    if l.warmup {
        line.push_str("  (warmup)");
    }
    line
}

/// A plain line: `[  12s / 60s, 48s left] 48,950 ops/s  p99 1.2ms ...`.
pub fn plain_line(l: &LiveLine, planned: Option<Duration>) -> String {
    let elapsed = l.elapsed.as_secs();
    let when = match planned {
        Some(p) => {
            let left = p.as_secs().saturating_sub(elapsed);
            format!("[{elapsed:>4}s / {}s, {left}s left]", p.as_secs())
        }
        None => format!("[{elapsed:>4}s]"),
    };
    format!("{when} {}", numbers(l))
}

/// Seconds between plain lines for a run planned to last `planned`.
pub fn line_period(planned: Option<Duration>) -> Duration {
    let period = planned.map_or(Duration::from_secs(10), |p| p / LINES_PER_RUN);
    period.clamp(Duration::from_secs(1), MAX_LINE_PERIOD)
}

/// The live view of one run. Dropping it clears the bar.
pub struct LiveView {
    mode: LiveMode,
    planned: Option<Duration>,
    bar: Option<ProgressBar>,
    /// Where plain lines go (stderr, or a buffer in tests).
    out: Box<dyn Write + Send>,
    /// Elapsed time of the last plain line.
    last_line: Option<Duration>,
}

impl LiveView {
    /// A view on stderr; `planned` is warmup plus the measured phase, when known (a run
    /// stopped by operation count alone has no planned length).
    pub fn stderr(mode: LiveMode, planned: Option<Duration>) -> LiveView {
        LiveView::new(mode, planned, Box::new(std::io::stderr()))
    }

    /// A view writing plain lines to `out` (the bar always draws on stderr).
    pub fn new(mode: LiveMode, planned: Option<Duration>, out: Box<dyn Write + Send>) -> Self {
        let bar = (mode == LiveMode::Bar).then(|| bar(planned));
        LiveView {
            mode,
            planned,
            bar,
            out,
            last_line: None,
        }
    }

    /// Shows one tick.
    pub fn tick(&mut self, l: &LiveLine) {
        match self.mode {
            LiveMode::Off => {}
            LiveMode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(l.elapsed.as_secs());
                    let left = self
                        .planned
                        .map(|p| {
                            format!(
                                "{}s left  ",
                                p.as_secs().saturating_sub(l.elapsed.as_secs())
                            )
                        })
                        .unwrap_or_default();
                    bar.set_message(format!("{left}{}", numbers(l)));
                }
            }
            LiveMode::Lines => {
                let due = self
                    .last_line
                    .is_none_or(|last| l.elapsed >= last + line_period(self.planned));
                if due {
                    self.last_line = Some(l.elapsed);
                    // A failed write to stderr must not stop the run.
                    let _ = writeln!(self.out, "{}", plain_line(l, self.planned));
                    let _ = self.out.flush();
                }
            }
        }
    }

    /// Removes the bar, so the summary prints on a clean line.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.finish();
    }
}

fn bar(planned: Option<Duration>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr_with_hz(4);
    match planned {
        Some(p) => {
            let bar = ProgressBar::with_draw_target(Some(p.as_secs().max(1)), target);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed:>4} [{bar:30.cyan/blue}] {pos}/{len}s  {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, target);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4}  {msg}") {
                bar.set_style(style);
            }
            bar
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::BreakerState;
    use std::sync::{Arc, Mutex};

    fn line(secs: u64) -> LiveLine {
        LiveLine {
            elapsed: Duration::from_secs(secs),
            ops_per_s: 48_950.2,
            p95_us: Some(900),
            p99_us: Some(1_200),
            hit_rate: Some(0.824),
            errors: 0,
            breaker: Some(BreakerState::Closed),
            warmup: false,
        }
    }

    #[test]
    fn plain_line_has_time_left_and_the_numbers() {
        assert_eq!(
            plain_line(&line(12), Some(Duration::from_secs(60))),
            "[  12s / 60s, 48s left] 48,950 ops/s  p99 1.2ms  hit 82.4%  err 0  breaker CLOSED"
        );
        let idle = LiveLine {
            p99_us: None,
            hit_rate: None,
            breaker: None,
            warmup: true,
            ..line(3)
        };
        assert_eq!(
            plain_line(&idle, None),
            "[   3s] 48,950 ops/s  p99 -  hit -  err 0  (warmup)"
        );
    }

    #[test]
    fn modes_follow_quiet_and_the_terminal() {
        assert_eq!(LiveMode::choose(true, true), LiveMode::Off);
        assert_eq!(LiveMode::choose(true, false), LiveMode::Off);
        assert_eq!(LiveMode::choose(false, true), LiveMode::Bar);
        assert_eq!(LiveMode::choose(false, false), LiveMode::Lines);
    }

    #[test]
    fn line_period_spreads_about_twenty_lines_over_a_run() {
        assert_eq!(
            line_period(Some(Duration::from_secs(2))),
            Duration::from_secs(1)
        );
        assert_eq!(
            line_period(Some(Duration::from_secs(300))),
            Duration::from_secs(15)
        );
        assert_eq!(
            line_period(Some(Duration::from_secs(36_000))),
            MAX_LINE_PERIOD
        );
        assert_eq!(line_period(None), Duration::from_secs(10));
    }

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_mode_prints_every_period_and_off_prints_nothing() {
        let out = Shared::default();
        let mut view = LiveView::new(
            LiveMode::Lines,
            Some(Duration::from_secs(300)),
            Box::new(out.clone()),
        );
        for s in 1..=60 {
            view.tick(&line(s));
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let starts: Vec<_> = text.lines().map(|l| &l[..6]).collect();
        assert_eq!(starts, ["[   1s", "[  16s", "[  31s", "[  46s"], "{text}");

        let out = Shared::default();
        let mut view = LiveView::new(LiveMode::Off, None, Box::new(out.clone()));
        for s in 1..=5 {
            view.tick(&line(s));
        }
        view.finish();
        assert!(out.0.lock().unwrap().is_empty());
    }
}
