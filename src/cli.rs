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
    Run(Box<RunArgs>),
    /// Test a Redis connection (the guide's eight checks) and audit production readiness.
    Check(CheckArgs),
    /// Parse and check scenario files without running them.
    Validate(ValidateArgs),
    /// Remove the keys a run left behind (SCAN + UNLINK under one prefix, nothing else).
    Clean(CleanArgs),
    /// Run the TCP fault proxy on its own in front of a Redis, with Toxiproxy's HTTP API to
    /// switch network faults on and off.
    Proxy(ProxyArgs),
    /// Merge the report.json files of a sharded run's generators into one report.
    Merge(MergeArgs),
    /// Compare a run with a baseline: per metric change, significance and verdict (exit 1 on
    /// a regression).
    Compare(CompareArgs),
    /// Re-render summary.md, the charts and report.html of a run from its report.json.
    Report(ReportArgs),
    /// Capacity sizing: memory per key, the throughput knee and hit rate against memory.
    ///
    /// The scenario's `[sizing]` table tunes it. Only on an embedded redis-server may the
    /// hit-rate study change maxmemory.
    Size(SizeArgs),
}

/// The flags of the commands that load a scenario and drive a target (`run`, `size`).
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Scenario file (.toml or .json).
    pub scenario: PathBuf,
    /// Redis URL (redis:// or rediss://); default: REDIS_URL, else an embedded redis-server
    /// (else, for `run`, the in-memory fallback).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Output folder (default: reports/<scenario>-<timestamp>/, reports/<scenario>-size-...
    /// for a sizing). Created and checked before any load; a folder already holding results
    /// is refused unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the results already in --out.
    #[arg(long)]
    pub force: bool,
    /// Override a scenario field, e.g. --set load.rate=5000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,
    /// No live progress and no terminal summary (warnings and errors still print).
    #[arg(long)]
    pub quiet: bool,
}

/// `redline run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario, its overrides, the target and the report folder.
    #[command(flatten)]
    pub common: ScenarioArgs,
    /// Also write each chart as PNG (plots/*.png) beside the SVGs.
    #[arg(long)]
    pub png: bool,
    /// Keep the keys the run wrote (default: removed at the end).
    #[arg(long)]
    pub keep_keys: bool,
    /// Run one share of a run driven by COUNT generators: INDEX/COUNT, e.g. 0/3 (default:
    /// JOB_COMPLETION_INDEX / REDLINE_SHARD_COUNT of a Kubernetes Indexed Job).
    #[arg(long, value_name = "INDEX/COUNT")]
    pub shard: Option<String>,
    /// The run's id, part of its key prefix: every shard of one run gives the same one.
    #[arg(long, value_name = "ID", env = "REDLINE_RUN_ID")]
    pub run_id: Option<String>,
    /// Start the load at TIME (RFC 3339 or unix seconds), so shards start on one second.
    #[arg(long, value_name = "TIME", env = "REDLINE_START_AT")]
    pub start_at: Option<String>,
    /// How long a shard waits for the others (to get ready, to finish); default 10m.
    #[arg(long, value_name = "DURATION")]
    pub shard_wait: Option<String>,
    /// Serve live metrics in the Prometheus text format at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR", env = "REDLINE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Baseline comparison and JUnit output.
    #[command(flatten)]
    pub gate: GateArgs,
}

/// The CI-gate flags of `redline run`.
#[derive(Debug, Args, Default)]
pub struct GateArgs {
    /// Compare the run with this report (a report.json or the run folder holding it); a
    /// regression makes the exit code 1.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Write a JUnit XML report: one testcase per threshold (and per compared metric).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Regression limits, e.g. p95=10%,throughput=5%,hit_rate=1pt (defaults: p50=10%,
    /// p95=10%, p99=20%, throughput=5%, hit_rate=1pt, error_rate=0.1pt).
    #[arg(long, value_name = "LIMITS", requires = "baseline")]
    pub max_regression: Option<String>,
    /// Compare with a baseline of another scenario or schema, with a warning.
    #[arg(long, requires = "baseline")]
    pub allow_mismatch: bool,
}

/// `redline compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline report (report.json or its run folder).
    pub baseline: PathBuf,
    /// The current report.
    pub current: PathBuf,
    /// Regression limits, e.g. p95=10%,throughput=5%,hit_rate=1pt (defaults: p50=10%,
    /// p95=10%, p99=20%, throughput=5%, hit_rate=1pt, error_rate=0.1pt).
    #[arg(long, value_name = "LIMITS")]
    pub max_regression: Option<String>,
    /// Write a JUnit XML report: one testcase per threshold of the current run and per
    /// compared metric.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare reports of different scenarios or schema versions, with a warning.
    #[arg(long)]
    pub allow_mismatch: bool,
}

/// `redline report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run's folder (holding report.json), or the report.json file itself. The files
    /// are written beside it.
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// A report (run folder or report.json) whose latency-by-percentile curve is drawn
    /// behind this run's.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Also write each chart as PNG (plots/*.png) beside the SVGs.
    #[arg(long)]
    pub png: bool,
}

/// `redline merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' report.json files (or their run folders).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Folder for the merged report.json and summary.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace a report already in --out.
    #[arg(long)]
    pub force: bool,
}

/// `redline size`.
#[derive(Debug, Args)]
pub struct SizeArgs {
    /// The scenario (with its `[sizing]` table), its overrides, the target and the output
    /// folder.
    #[command(flatten)]
    pub common: ScenarioArgs,
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

/// `redline proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Address clients connect to, e.g. 127.0.0.1:26379 (port 0 picks a free one, printed).
    #[arg(long, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// The Redis to forward to, as host:port.
    #[arg(long, value_name = "ADDR")]
    pub upstream: String,
    /// Address of the HTTP API (Toxiproxy's subset), e.g. 127.0.0.1:8474; no API without it.
    #[arg(long, value_name = "ADDR")]
    pub api: Option<std::net::SocketAddr>,
    /// The proxy's name in the API (`/proxies/NAME`).
    #[arg(long, value_name = "NAME", default_value = "redis")]
    pub name: String,
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
        assert_eq!(a.common.overrides, ["load.rate=5000", "keyspace.keys=10"]);
        assert!(a.common.quiet);
        assert_eq!(a.common.out.as_deref(), Some(std::path::Path::new("r")));
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
    fn proxy_needs_listen_and_upstream_and_a_socket_address() {
        let cli = Cli::try_parse_from([
            "redline",
            "proxy",
            "--listen",
            "127.0.0.1:26379",
            "--upstream",
            "redis.internal:6379",
            "--api",
            "127.0.0.1:8474",
        ])
        .unwrap();
        let Command::Proxy(a) = cli.command else {
            panic!("not proxy")
        };
        assert_eq!(a.listen.port(), 26379);
        assert_eq!(a.upstream, "redis.internal:6379");
        assert_eq!(a.api.map(|a| a.port()), Some(8474));
        assert_eq!(a.name, "redis");
        let bad = [
            "redline",
            "proxy",
            "--listen",
            "nowhere",
            "--upstream",
            "h:1",
        ];
        assert!(Cli::try_parse_from(bad).is_err());
        assert!(Cli::try_parse_from(["redline", "proxy", "--listen", "127.0.0.1:1"]).is_err());
    }

    #[test]
    fn compare_takes_two_reports_and_run_a_baseline() {
        let cli = Cli::try_parse_from([
            "redline",
            "compare",
            "a/report.json",
            "b",
            "--max-regression",
            "p95=5%",
            "--junit",
            "j.xml",
            "--allow-mismatch",
        ])
        .unwrap();
        let Command::Compare(a) = cli.command else {
            panic!("not compare")
        };
        assert_eq!(a.max_regression.as_deref(), Some("p95=5%"));
        assert!(a.allow_mismatch);
        assert!(Cli::try_parse_from(["redline", "compare", "a"]).is_err());

        let cli = Cli::try_parse_from([
            "redline",
            "run",
            "s.toml",
            "--baseline",
            "b",
            "--junit",
            "j.xml",
        ])
        .unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.gate.baseline.as_deref(), Some(std::path::Path::new("b")));
        // Limits without a baseline would silently do nothing.
        assert!(
            Cli::try_parse_from(["redline", "run", "s.toml", "--max-regression", "p95=5%"])
                .is_err()
        );
    }

    #[test]
    fn report_takes_a_folder_and_an_optional_baseline() {
        let cli = Cli::try_parse_from([
            "redline",
            "report",
            "runs/a",
            "--baseline",
            "b.json",
            "--png",
        ])
        .unwrap();
        let Command::Report(a) = cli.command else {
            panic!("not report")
        };
        assert_eq!(a.run_dir, PathBuf::from("runs/a"));
        assert_eq!(a.baseline, Some(PathBuf::from("b.json")));
        assert!(a.png);
        assert!(Cli::try_parse_from(["redline", "report"]).is_err());
    }

    #[test]
    fn size_takes_the_scenario_flags_run_takes_and_no_run_only_flag() {
        let cli = Cli::try_parse_from([
            "redline",
            "size",
            "s.toml",
            "--redis",
            "redis://h:1",
            "--out",
            "o",
            "--force",
            "--set",
            "sizing.step=2s",
            "--quiet",
        ])
        .unwrap();
        let Command::Size(SizeArgs { common: a }) = cli.command else {
            panic!("not size")
        };
        assert_eq!(a.scenario, std::path::Path::new("s.toml"));
        assert_eq!(a.redis.as_deref(), Some("redis://h:1"));
        assert_eq!(a.out.as_deref(), Some(std::path::Path::new("o")));
        assert!(a.force && a.quiet);
        assert_eq!(a.overrides, ["sizing.step=2s"]);
        assert!(Cli::try_parse_from(["redline", "size", "s.toml", "--png"]).is_err());
    }

    #[test]
    fn validate_needs_a_file() {
        assert!(Cli::try_parse_from(["redline", "validate"]).is_err());
    }
}
