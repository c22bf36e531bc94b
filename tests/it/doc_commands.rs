//! The documentation's examples run: every `redline ...` command in the shell code blocks of
//! README.md and scenarios/README.md is run with the built binary and must exit as the doc
//! implies, and every inline `--set` example of scenarios/README.md applies to every
//! bundled scenario.
//!
//! Rules, so that commands added later are handled without editing this test:
//! - Only lines of ```` ``` ````, ```` ```sh ````, ```` ```bash ```` or ```` ```shell ````
//!   blocks that run `redline` (after optional `VAR=value` assignments) are commands; others
//!   (`cargo ...`, scripts, sample output) are not.
//! - Skipped: commands naming a host that is not loopback (`cache.internal`), commands
//!   with placeholders (`<dir>`, `...`, an all-capitals word such as `URL` or `PREFIX`), and
//!   `redline proxy`, which runs until a signal (tests/it/proxy_api.rs drives it).
//! - Loopback Redis URLs (`redis://...@127.0.0.1:6379`, `localhost`, `[::1]`) are pointed at
//!   a server this test starts. `run` commands without a target get `--redis` to it, and
//!   every `run` is shortened with overrides appended (a later `--set` wins): 300 ms, no
//!   warmup, 500 keys, `--quiet`. `size` commands are shortened the same way (short steps,
//!   few keys, two maxmemory settings) and, like `run`, may exit 1 or 3 on so short a run.
//! - The expected exit code is the one a trailing comment names (`# exit 2: ...`); without
//!   one, 0, except for `run`, which may also judge a threshold failed (1) or the run
//!   inconclusive (3) on so short a run — but never 2, a usage or scenario error.

use crate::support::{output_within, redis, REDIS_ENV_VARS};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One documented command.
#[derive(Debug)]
struct DocCommand {
    /// Where it is documented, for messages.
    source: String,
    /// The shell text, comment removed.
    text: String,
    /// The exit code a comment names.
    expected: Option<i32>,
}

/// Shell lines of the fenced code blocks of `markdown` (continuations joined).
fn shell_lines(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_shell: Option<bool> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_shell = match in_shell {
                Some(_) => None,
                None => Some(matches!(lang.trim(), "" | "sh" | "bash" | "shell")),
            };
            continue;
        }
        if in_shell != Some(true) {
            continue;
        }
        let (start, mut text) = pending.take().unwrap_or((i + 1, String::new()));
        text.push_str(trimmed.trim_end_matches('\\').trim_end());
        if trimmed.ends_with('\\') {
            text.push(' ');
            pending = Some((start, text));
        } else {
            out.push((start, text));
        }
    }
    out
}

/// Splits `text` at a `#` comment outside quotes.
fn split_comment(text: &str) -> (&str, &str) {
    let (mut single, mut double) = (false, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || text[..i].ends_with(' ')) => {
                return (text[..i].trim(), text[i + 1..].trim());
            }
            _ => {}
        }
    }
    (text.trim(), "")
}

/// `exit N` in a comment.
fn expected_exit(comment: &str) -> Option<i32> {
    let at = comment.find("exit ")?;
    comment[at + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn commands_in(file: &str) -> Vec<DocCommand> {
    let markdown = std::fs::read_to_string(repo().join(file)).unwrap();
    shell_lines(&markdown)
        .into_iter()
        .filter_map(|(line, raw)| {
            let (text, comment) = split_comment(&raw);
            let words: Vec<&str> = text.split_whitespace().collect();
            let first = words.iter().find(|w| !is_assignment(w))?;
            (*first == "redline").then(|| DocCommand {
                source: format!("{file}:{line}"),
                text: text.to_string(),
                expected: expected_exit(comment),
            })
        })
        .collect()
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    })
}

/// Hosts of every `scheme://[userinfo@]host` in `text`.
fn hosts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let host = if host_port.starts_with('[') {
            host_port[..host_port.find(']').map_or(host_port.len(), |i| i + 1)].to_string()
        } else {
            host_port.split(':').next().unwrap_or("").to_string()
        };
        out.push(host);
    }
    out
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

/// Why a command cannot run here, if it cannot.
fn skip_reason(text: &str) -> Option<String> {
    let env_hosts = text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("REDIS_HOST="))
        .map(str::to_string);
    if let Some(host) = hosts(text)
        .into_iter()
        .chain(env_hosts)
        .find(|h| !is_loopback(h))
    {
        return Some(format!("names the non-loopback host {host}"));
    }
    let subcommand = text
        .split_whitespace()
        .skip_while(|w| *w != "redline")
        .nth(1);
    if subcommand == Some("proxy") {
        return Some("runs until a signal (driven as a process in proxy_api.rs)".into());
    }
    let angle = text.match_indices('<').any(|(i, _)| {
        let rest = &text[i + 1..];
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.find('>').is_some_and(|end| !rest[..end].contains(' '))
    });
    if angle || text.contains("...") {
        return Some("has a placeholder".into());
    }
    let placeholder = text.split_whitespace().find(|w| {
        !is_assignment(w) && w.len() >= 2 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    });
    placeholder.map(|w| format!("has the placeholder {w}"))
}

/// Every loopback Redis URL in `text` replaced by `url`, and `REDIS_HOST`/`REDIS_PORT`
/// assignments by its host and port.
fn point_at(text: &str, url: &str) -> String {
    let parsed = url::Url::parse(url).expect("the test server's URL parses");
    text.split(' ')
        .map(|word| {
            if word.starts_with("REDIS_HOST=") {
                return format!("REDIS_HOST={}", parsed.host_str().unwrap_or_default());
            }
            if word.starts_with("REDIS_PORT=") {
                return format!("REDIS_PORT={}", parsed.port().unwrap_or(6379));
            }
            let (prefix, value) = match word.split_once('=') {
                Some((name, value)) if value.starts_with("redis") => (format!("{name}="), value),
                _ => (String::new(), word),
            };
            let is_redis = value.starts_with("redis://") || value.starts_with("rediss://");
            if is_redis && hosts(value).iter().all(|h| is_loopback(h)) {
                format!("{prefix}{url}")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A working folder where relative paths of the docs resolve: `scenarios/` is the repo's.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("scenarios"), dir.path().join("scenarios")).unwrap();
    dir
}

#[test]
fn every_documented_command_runs_as_documented() {
    let server = redis();
    let url = server.url();
    let work = workdir();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_redline")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    let mut failures = Vec::new();
    let commands: Vec<DocCommand> = ["README.md", "scenarios/README.md"]
        .iter()
        .flat_map(|f| commands_in(f))
        .collect();
    for (n, doc) in commands.iter().enumerate() {
        if let Some(reason) = skip_reason(&doc.text) {
            eprintln!("skipped {}: {reason}: {}", doc.source, doc.text);
            continue;
        }
        let mut text = point_at(&doc.text, &url);
        let subcommand = text
            .split_whitespace()
            .skip_while(|w| is_assignment(w))
            .nth(1)
            .map(str::to_string);
        let is_run = subcommand.as_deref() == Some("run");
        let is_size = subcommand.as_deref() == Some("size");
        if is_size {
            // Seconds, not the minute a documented sizing takes: short steps, few keys.
            text.push_str(&format!(
                " --set keyspace.keys=500 --set sizing.sample_keys=200 --set sizing.step=200ms \
                 --set sizing.step_ops=1 --set sizing.step_warmup=0s --set sizing.resolution=0.5 \
                 --set sizing.max_rate=4000 --set sizing.hit_step=300ms --set sizing.hit_warmup=0s \
                 --set 'sizing.memory_fractions=[0.5, 1.0]' --quiet --out out-{n}"
            ));
        }
        if is_run {
            if !text.contains("--redis") && !text.contains("REDIS_URL=") {
                text.push_str(&format!(" --redis {url}"));
            }
            text.push_str(&format!(
                " --set load.duration=300ms --set load.warmup=0s --set keyspace.keys=500 --quiet --out out-{n}"
            ));
        }
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c")
            .arg(&text)
            .current_dir(work.path())
            .env("PATH", &path);
        for var in REDIS_ENV_VARS {
            cmd.env_remove(var);
        }
        let out = output_within(cmd, Duration::from_secs(120));
        let code = out.status.code();
        let ok = match (doc.expected, code) {
            (Some(want), Some(got)) => want == got,
            (None, Some(0)) => true,
            (None, Some(1 | 3)) => is_run || is_size,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: `{}` (ran as `{text}`) exited {code:?}, expected {}:\nstdout:\n{}\nstderr:\n{}",
                doc.source,
                doc.text,
                doc.expected
                    .map_or("0".to_string(), |c| c.to_string()),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            ));
        }
        ran.push(doc.source.clone());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The extraction must keep finding the documented examples.
    assert!(ran.len() >= 8, "only {} commands ran: {ran:?}", ran.len());
}

#[test]
fn extraction_rules() {
    let md = "text\n```sh\nredline validate a.toml   # exit 2: bad\nredline run x.toml \\\n  --set a=1\ncargo run\n```\n```toml\nredline = 1\n```\n";
    let lines = shell_lines(md);
    assert_eq!(
        lines[0],
        (3, "redline validate a.toml   # exit 2: bad".into())
    );
    assert_eq!(lines[1], (4, "redline run x.toml --set a=1".into()));
    assert_eq!(lines.len(), 3);
    assert_eq!(split_comment("a '#x' # exit 2"), ("a '#x'", "exit 2"));
    assert_eq!(expected_exit("exit 2: load.rate must be > 0"), Some(2));
    assert_eq!(expected_exit("check files"), None);
    assert!(skip_reason("REDIS_URL=rediss://u:p@cache.internal:1 redline run s").is_some());
    assert!(skip_reason("redline clean --redis URL PREFIX").is_some());
    assert!(skip_reason("redline report reports/<run>").is_some());
    assert!(skip_reason("redline run s --set 'thresholds=[\"p99 < 10ms\"]'").is_none());
    assert!(skip_reason("redline run s --redis redis://:pw@127.0.0.1:6379").is_none());
    assert!(skip_reason("redline check --redis redis://[::1]:6379").is_none());
    assert!(skip_reason("REDIS_HOST=cache.internal redline check").is_some());
    assert_eq!(
        point_at(
            "REDIS_HOST=localhost REDIS_PORT=6379 redline check",
            "redis://127.0.0.1:7"
        ),
        "REDIS_HOST=127.0.0.1 REDIS_PORT=7 redline check"
    );
    assert_eq!(
        point_at(
            "REDIS_URL=redis://localhost:6379 redline check --redis redis://:s@127.0.0.1:1 x",
            "redis://t:1"
        ),
        "REDIS_URL=redis://t:1 redline check --redis redis://t:1 x"
    );
}

#[test]
fn every_inline_set_example_applies_to_every_bundled_scenario() {
    let markdown = std::fs::read_to_string(repo().join("scenarios/README.md")).unwrap();
    // `--set a=b` spans in backticks; a span may chain several.
    let examples: Vec<Vec<String>> = markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("--set "))
        // The syntax itself (`--set path=value`) and elided values are not examples.
        .filter(|span| !span.contains("...") && !span.contains("path=value"))
        .map(|span| {
            span.split("--set ")
                .map(|s| s.trim().trim_matches('\'').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect();
    assert!(examples.len() >= 5, "{examples:?}");
    let scenarios: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    let mut failures = Vec::new();
    for example in &examples {
        for file in &scenarios {
            let scenario = redline::scenario::load_file_all(file, example);
            // Errors about the scenario's shape, not the example, are fine: `ops[1]` on a
            // scenario with one operation appends a half-written entry, and a field of the
            // other load model (`load.rate` on a closed scenario) does not apply.
            let about_shape = |e: &redline::scenario::ScenarioErrors| {
                e.all().iter().all(|e| {
                    (e.field.starts_with("ops[1]") && e.message.contains("is required"))
                        || e.message.contains("only applies to load.model")
                })
            };
            match scenario {
                Ok(_) => {}
                Err(e) if about_shape(&e) => {}
                Err(e) => failures.push(format!("{example:?} on {}: {e}", file.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
