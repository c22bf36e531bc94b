//! What a user sees first: the `check` verdict line under audit warnings, `validate` listing
//! every problem and `--print` showing the resolved scenario, and `scripts/smoke` — the
//! README's first command — setting up redis-server on a fresh machine before the smoke run.

use crate::support::{output_within, redis, redline_bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn redline(args: &[&str]) -> Output {
    let mut cmd = redline_bin();
    cmd.args(args);
    output_within(cmd, DEADLINE)
}

#[test]
fn check_never_says_configured_correctly_under_audit_warnings() {
    // A test server has no password and no maxmemory: the audit warns.
    let server = redis();
    let done = redline(&["check", "--redis", &server.url()]);
    let text = stdout(&done);
    assert_eq!(done.status.code(), Some(0), "{text}\n{}", stderr(&done));
    assert!(text.contains("WARN"), "the audit should warn here:\n{text}");
    assert!(!text.contains("configured correctly"), "{text}");
    let verdict = text.trim_end().lines().last().unwrap_or_default();
    assert!(
        verdict.contains("8/8 checks passed; production audit: ") && verdict.contains("warning"),
        "last line: {verdict:?}\n{text}"
    );
    // The guide's summary block stays.
    assert!(
        text.contains("Total Tests: 8\n✅ Passed: 8\nFailed: 0\n"),
        "{text}"
    );
}

#[test]
fn validate_lists_every_problem_of_a_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        r#"name = "bad"

[keyspace]
keys = 0

[[ops]]
kind = "fetch"
weight = 1

[load]
model = "open"
rate = -5
duration = "10s"
"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let done = redline(&["validate", file, "--set", "origin.concurrency=0"]);
    assert_eq!(done.status.code(), Some(2), "{}", stderr(&done));
    let lines: Vec<String> = stderr(&done).lines().map(str::to_string).collect();
    let want = [
        format!("error: {file}:4: keyspace.keys: "),
        format!("error: {file}:7: ops[0].kind: "),
        format!("error: {file}:12: load.rate: "),
        format!("error: {file}: origin.concurrency: "),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "{line:?} should start with {want:?}"
        );
    }
}

#[test]
fn validate_print_shows_every_default_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let done = redline(&["validate", "--print", smoke.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let printed = stdout(&done);
    // smoke.toml sets none of these: they are the defaults, filled in.
    for default in [
        "connect_timeout = \"10s\"",
        "reset_timeout = \"1m\"",
        "pipeline_depth = 32",
        "max_in_flight = 1000",
        "prefix = \"redline:\"",
        "\"p95 < 50ms\"",
    ] {
        assert!(printed.contains(default), "{default} missing:\n{printed}");
    }
    // The printed text is a scenario file that resolves to the same thing.
    let copy = dir.path().join("smoke.toml");
    std::fs::write(&copy, &printed).unwrap();
    let again = redline(&["validate", "--print", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&stdout(&again)), body(&printed));
}

/// A folder holding only the named tools (symlinks to the real ones) and `stubs` (name,
/// script body), to run a script as on a machine with exactly those commands.
fn fake_path(dir: &Path, tools: &[&str], stubs: &[(&str, &str)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    for tool in tools {
        let real = std::env::split_paths(&path)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    for (name, body) in stubs {
        let stub = bin.join(name);
        std::fs::write(&stub, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn run_script(script: &str, bin: &Path, log: &Path) -> Output {
    let mut cmd = Command::new(bin.join("bash"));
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .env_clear()
        .env("PATH", bin)
        .env("LOG", log);
    output_within(cmd, DEADLINE)
}

#[test]
fn smoke_script_installs_redis_server_where_missing_then_runs_the_smoke_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // apt-get "installs" redis-server into the fake PATH (redis-sentinel, the Sentinel
    // topology's, is asked for too); cargo records what it was asked
    // and whether redis-server was there by then.
    let stubs = [
        (
            "apt-get",
            r#"echo "apt-get $*" >> "$LOG"
if [ "$1" = install ]; then for p in "$@"; do case "$p" in redis-server|redis-sentinel) printf '#!/usr/bin/env bash\n' > "$(dirname "$0")/$p"; chmod +x "$(dirname "$0")/$p";; esac; done; fi"#,
        ),
        ("sudo", r#"exec "$@""#),
        (
            "cargo",
            r#"echo "cargo $* (redis-server: $(command -v redis-server >/dev/null && echo yes || echo no))" >> "$LOG""#,
        ),
    ];
    let bin = fake_path(dir.path(), &["bash", "dirname", "id", "chmod"], &stubs);
    let done = run_script("scripts/smoke", &bin, &log);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            "apt-get update -qq",
            "apt-get install -y -qq redis-server redis-tools redis-sentinel",
            "cargo run --release -- run scenarios/smoke.toml (redis-server: yes)",
        ],
        "{}",
        stderr(&done)
    );

    // Already installed: no apt-get at all.
    std::fs::remove_file(&log).unwrap();
    let done = run_script("scripts/smoke", &bin, &log);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.contains("apt-get"), "{calls}");

    // No redis-server and no apt-get: a clear error, exit 2, and no run.
    let bare = tempfile::tempdir().unwrap();
    let bin = fake_path(bare.path(), &["bash", "dirname", "id"], &[stubs[2]]);
    let log = bare.path().join("log");
    let done = run_script("scripts/smoke", &bin, &log);
    assert_eq!(done.status.code(), Some(2), "{}", stderr(&done));
    assert!(stderr(&done).contains("install Redis"), "{}", stderr(&done));
    assert!(!log.exists(), "cargo ran without redis-server");
}
