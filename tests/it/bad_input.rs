//! Bad input through the `redline` binary: passwords in malformed URLs never printed, values
//! that would overflow a clock or never end refused before any load, scenario files read
//! with a size limit, the report folder checked before any load, and scenario names that
//! cannot write outside `reports/`.

use crate::engine::info_u64;
use crate::support::{connection, output_within, redis, redline_bin};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn redline(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Output {
    let mut cmd = redline_bin();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    output_within(cmd, DEADLINE)
}

/// A tiny open-model scenario (200 ms at 200 ops/s), no thresholds.
fn tiny(name: &str) -> String {
    format!(
        r#"name = "{name}"
thresholds = []

[keyspace]
keys = 100
value_size = "64B"

[[ops]]
kind = "get"
weight = 1

[load]
model = "open"
rate = 200
connections = 1
duration = "200ms"
"#
    )
}

#[test]
fn passwords_in_malformed_urls_are_never_printed() {
    // Every secret contains "ter2"; none of it may appear anywhere in the output.
    let urls = [
        "redis//:hunter2@127.0.0.1:1",
        "redis:/:hunter2@127.0.0.1:1",
        "redis://:hun@ter2@127.0.0.1:1",
        "redis://:hunter2@127.0.0.1:1",
        "redis://u:hunter2@[::1",
        "redis://:hunter 2@127.0.0.1:1",
        "http://u:hunter2@127.0.0.1:1",
        "redis://hunter2@127.0.0.1:1",
    ];
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, tiny("s")).unwrap();
    let scenario = scenario.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    std::thread::scope(|scope| {
        for (i, url) in urls.into_iter().enumerate() {
            let (dir, scenario, out) = (&dir, scenario, out);
            scope.spawn(move || {
                let with_url = dir.path().join(format!("with-url-{i}.toml"));
                let file_text = format!("{}\n[target]\nurl = {}\n", tiny("s"), toml_string(url));
                std::fs::write(&with_url, &file_text).unwrap();
                let set = format!("target.url={url}");
                let cases: Vec<(Vec<&str>, Env)> = vec![
                    (
                        vec!["run", scenario, "--redis", url, "--out", out, "--force"],
                        vec![],
                    ),
                    (
                        vec!["run", scenario, "--set", &set, "--out", out, "--force"],
                        vec![],
                    ),
                    (vec!["validate", scenario, "--set", &set], vec![]),
                    (
                        vec!["run", scenario, "--out", out, "--force"],
                        vec![("REDIS_URL", url)],
                    ),
                    (
                        vec!["run", with_url.to_str().unwrap(), "--out", out, "--force"],
                        vec![],
                    ),
                    (vec!["validate", with_url.to_str().unwrap()], vec![]),
                    (vec!["check", "--redis", url], vec![]),
                    (vec!["check"], vec![("REDIS_URL", url)]),
                ];
                for (args, env) in cases {
                    let done = redline(&args, &env, None);
                    let shown = text(&done);
                    assert!(
                        !shown.contains("ter2") && !shown.contains("hunter"),
                        "{url}: {args:?} {env:?} printed the password:\n{shown}"
                    );
                    // Nothing listens on port 1: every run and check fails (validate may pass).
                    if args[0] != "validate" {
                        assert!(!done.status.success(), "{url}: {args:?} {env:?}:\n{shown}");
                    }
                    assert!(!shown.contains("panicked"), "{args:?}:\n{shown}");
                }
            });
        }
    });
}

/// Environment variables set for one command.
type Env<'a> = Vec<(&'a str, &'a str)>;

fn toml_string(s: &str) -> String {
    format!("{s:?}")
}

#[test]
fn values_that_overflow_or_never_end_are_refused_before_any_load() {
    let server = redis();
    let mut con = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open.toml");
    std::fs::write(&open, tiny("open")).unwrap();
    let closed = dir.path().join("closed.toml");
    std::fs::write(
        &closed,
        tiny("closed").replace(
            "model = \"open\"\nrate = 200",
            "model = \"closed\"\nclients = 2",
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    // (scenario, override, field named in the error)
    let cases = [
        (
            &open,
            "load.duration=18446744073709551615s",
            "load.duration",
        ),
        (&open, "load.warmup=600y", "load.warmup"),
        (&open, "load.warmup=31d", "load.warmup"),
        (&open, "origin.latency=1000000d", "origin.latency"),
        (&open, "origin.latency=2h", "origin.latency"),
        (&open, "load.rate=1e15", "load.rate"),
        (&open, "ops[0].ttl=100000d", "ops[0].ttl"),
        (&open, "load.connections=1000000", "load.connections"),
        (&closed, "load.clients=1000000000", "load.clients"),
        (&open, "keyspace.keys=1000000000000", "keyspace.keys"),
    ];
    let connections_before = info_u64(&mut con, "total_connections_received");
    for (file, set, field) in cases {
        let args = [
            "run",
            file.to_str().unwrap(),
            "--redis",
            &server.url(),
            "--set",
            set,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        let done = redline(&args, &[], None);
        let shown = text(&done);
        assert_eq!(done.status.code(), Some(2), "--set {set}:\n{shown}");
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(
            stderr.contains(&format!("{field}: ")) && !stderr.contains("panicked"),
            "--set {set}: the error should name {field}:\n{shown}"
        );
    }
    assert_eq!(
        info_u64(&mut con, "total_connections_received"),
        connections_before,
        "a refused scenario connected to Redis"
    );
    assert!(!out.join("report.json").exists());
}

#[test]
fn scenario_files_are_read_with_a_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let big = dir.path().join("big.toml");
    let mut padded = tiny("big");
    while padded.len() <= 1 << 20 {
        padded.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, &padded).unwrap();
    let cases = [
        (&zero, "not a regular file"),
        (&big, "larger than 1024 KiB"),
    ];
    for (file, message) in cases {
        let file = file.to_str().unwrap();
        for args in [
            vec!["validate", file],
            vec!["run", file, "--redis", "redis://127.0.0.1:1"],
        ] {
            let done = redline(&args, &[], None);
            let shown = text(&done);
            assert_eq!(done.status.code(), Some(2), "{args:?}:\n{shown}");
            let stderr = String::from_utf8_lossy(&done.stderr);
            assert!(
                stderr.contains(file) && stderr.contains(message),
                "{args:?}:\n{shown}"
            );
        }
    }
}

#[test]
fn the_report_folder_is_checked_before_any_load() {
    let server = redis();
    let mut con = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, tiny("s")).unwrap();
    let scenario = scenario.to_str().unwrap();
    let url = server.url();
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "run",
            scenario,
            "--redis",
            &url,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        redline(&args, &[], None)
    };

    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let earlier = dir.path().join("earlier");
    std::fs::create_dir(&earlier).unwrap();
    std::fs::write(earlier.join("report.json"), "{\"earlier\": true}").unwrap();
    let before = info_u64(&mut con, "total_connections_received");
    // (folder, what the error says)
    let refused = [
        (file.clone(), "is not a folder"),
        (file.join("sub"), "cannot write the report"),
        (earlier.clone(), "--force"),
    ];
    for (out, message) in &refused {
        let done = run(out, &[]);
        let shown = text(&done);
        assert_eq!(done.status.code(), Some(2), "{}:\n{shown}", out.display());
        assert!(
            String::from_utf8_lossy(&done.stderr).contains(message),
            "{}: expected {message:?}:\n{shown}",
            out.display()
        );
    }
    assert_eq!(
        info_u64(&mut con, "total_connections_received"),
        before,
        "a run with an unusable --out connected to Redis"
    );
    assert_eq!(
        std::fs::read_to_string(earlier.join("report.json")).unwrap(),
        "{\"earlier\": true}",
        "the earlier report was touched"
    );

    // A run that cannot connect leaves no empty folder behind.
    let unused = dir.path().join("unused");
    let done = redline(
        &[
            "run",
            scenario,
            "--redis",
            "redis://127.0.0.1:1",
            "--quiet",
            "--out",
            unused.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(done.status.code(), Some(2), "{}", text(&done));
    assert!(!unused.exists(), "an empty report folder was left behind");

    // --force replaces it; a fresh folder is created.
    let fresh = dir.path().join("new").join("nested");
    for (out, extra) in [(&earlier, &["--force"][..]), (&fresh, &[][..])] {
        let done = run(out, extra);
        let shown = text(&done);
        assert!(
            matches!(done.status.code(), Some(0 | 1 | 3)),
            "{}:\n{shown}",
            out.display()
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert!(report.get("earlier").is_none(), "{report}");
    }
}

#[test]
fn scenario_names_cannot_write_outside_the_reports_folder() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("a").join("b").join("c");
    std::fs::create_dir_all(&cwd).unwrap();
    let absolute = dir.path().join("abs");
    let names = ["../../../x".to_string(), absolute.display().to_string()];
    for name in &names {
        let scenario = dir.path().join("named.toml");
        std::fs::write(&scenario, tiny(name)).unwrap();
        let args = [
            "run",
            scenario.to_str().unwrap(),
            "--redis",
            &server.url(),
            "--quiet",
        ];
        let done = redline(&args, &[], Some(&cwd));
        let shown = text(&done);
        assert!(
            matches!(done.status.code(), Some(0 | 1 | 3)),
            "{name}:\n{shown}"
        );
    }
    // Nothing beside the working directory's tree, nothing at the absolute name.
    let a: Vec<_> = std::fs::read_dir(dir.path().join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(a, ["b"], "a report escaped into {}", dir.path().display());
    let top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("abs"))
        .collect();
    assert!(
        top.is_empty(),
        "a report was written at the absolute name: {top:?}"
    );
    // Both reports are under reports/, named by safe slugs.
    let reports: Vec<String> = std::fs::read_dir(cwd.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports.iter().any(|r| r.starts_with("x-")), "{reports:?}");
    assert!(
        reports
            .iter()
            .all(|r| !r.contains('.') && !r.starts_with('-')),
        "{reports:?}"
    );
}
