//! Command-line definitions (clap) and their conversion into library options. Nothing else
//! in redline sees clap.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// redline: benchmark and load-test Redis caching layers.
#[derive(Debug, Parser)]
#[command(name = "redline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and judge it against its thresholds.
    Run(RunArgs),
    /// Test a Redis connection (the guide's eight checks) and audit production readiness.
    Check(CheckArgs),
    /// Parse and check scenario files without running them.
    Validate(ValidateArgs),
    /// Remove the keys a run left behind (SCAN + UNLINK under one prefix, nothing else).
    Clean(CleanArgs),
    /// Capacity sizing: memory per key, the throughput knee and hit rate against memory.
    Size(SizeArgs),
}

/// `redline run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (.toml or .json).
    pub scenario: PathBuf,
    /// Redis URL (redis:// or rediss://); default: REDIS_URL, else an embedded redis-server,
    /// else the in-memory fallback.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Report folder (default: reports/<scenario>-<timestamp>/). Created and checked before
    /// any load; a folder holding a report is refused unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the report already in --out.
    #[arg(long)]
    pub force: bool,
    /// Override a scenario field, e.g. --set load.rate=5000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,
    /// No live progress line and no terminal summary.
    #[arg(long)]
    pub quiet: bool,
    /// Keep the keys the run wrote (default: removed at the end).
    #[arg(long)]
    pub keep_keys: bool,
}

/// `redline size`.
#[derive(Debug, Args)]
pub struct SizeArgs {
    /// Scenario file (.toml or .json); its `[sizing]` table tunes the sizing.
    pub scenario: PathBuf,
    /// Redis URL; default: REDIS_URL, else an embedded redis-server (the only kind whose
    /// maxmemory the hit-rate study may change).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Output folder (default: reports/<scenario>-size-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the sizing already in --out.
    #[arg(long)]
    pub force: bool,
    /// Override a scenario field, e.g. --set sizing.step=2s (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,
    /// No progress lines and no summary.
    #[arg(long)]
    pub quiet: bool,
}

/// `redline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Redis URL; default: REDIS_URL, else an embedded redis-server.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `redline validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Overrides to check along with the files, as for `run`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Print each file resolved, every default filled in, as a scenario file (TOML).
    #[arg(long)]
    pub print: bool,
}

/// `redline clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Redis URL of the server holding the keys (REDIS_PASSWORD and REDIS_TLS_ENABLED apply).
    #[arg(long, value_name = "URL")]
    pub redis: String,
    /// The literal key prefix to remove, as a run's report names it (e.g. `redline:1a2b3c4d:`);
    /// no glob characters, never empty.
    #[arg(value_name = "PREFIX")]
    pub prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "redline",
            "run",
            "s.toml",
            "--set",
            "load.rate=5000",
            "--set",
            "keyspace.keys=10",
            "--quiet",
            "--out",
            "r",
        ])
        .unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.overrides, ["load.rate=5000", "keyspace.keys=10"]);
        assert!(a.quiet);
        assert_eq!(a.out.as_deref(), Some(std::path::Path::new("r")));
    }

    #[test]
    fn clean_needs_a_url_and_a_prefix() {
        let cli =
            Cli::try_parse_from(["redline", "clean", "--redis", "redis://h:1", "app:1a:"]).unwrap();
        let Command::Clean(a) = cli.command else {
            panic!("not clean")
        };
        assert_eq!(
            (a.redis.as_str(), a.prefix.as_str()),
            ("redis://h:1", "app:1a:")
        );
        assert!(Cli::try_parse_from(["redline", "clean", "app:1a:"]).is_err());
        assert!(Cli::try_parse_from(["redline", "clean", "--redis", "redis://h:1"]).is_err());
    }

    #[test]
    fn validate_needs_a_file() {
        assert!(Cli::try_parse_from(["redline", "validate"]).is_err());
    }
}
