//! The glue between parsed command-line arguments and the library: build options, call the
//! library, print, and return the exit code.

use crate::cli::{CheckArgs, RunArgs, ValidateArgs};

/// Exit code: all thresholds passed / all checks passed.
pub const EXIT_PASS: u8 = 0;
/// Exit code: a threshold failed.
pub const EXIT_FAIL: u8 = 1;
/// Exit code: usage, scenario or connection error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: the run was inconclusive (generator saturated or interrupted).
pub const EXIT_INCONCLUSIVE: u8 = 3;

/// `redline run`.
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("run is being built")
}

/// `redline check`.
pub async fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("check is being built")
}

/// `redline validate`.
pub fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("validate is being built")
}
