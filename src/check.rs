//! `redline check`: the Redis production setup guide's test script, in Rust.
//!
//! It connects to the target (resolved by [`crate::target`] exactly as `redline run` resolves
//! it: `--redis`, REDIS_URL, REDIS_HOST/REDIS_PORT, else an embedded server), runs the guide's eight checks (connection, PING, SET/GET, TTL expiry, DEL,
//! pattern delete, pipeline, INFO), then audits the server against the guide's security
//! and migration checklists (auth, persistence, maxmemory policy, TLS, dangerous commands).
//!
//! - this file: options, the resolved target's URL, secret redaction, orchestration.
//! - [`steps`](self::steps): the eight checks and the cleanup of their keys.
//! - [`audit`](self::audit): the production-readiness audit (never fails the check).
//! - [`render`](self::render): the guide-style text output.
//!
//! Rules it keeps: every key lives under `redline:check:<random>:` with a TTL and is
//! removed at the end even when a check fails; it never runs FLUSHDB/FLUSHALL/KEYS/CONFIG SET;
//! every network call has a deadline; passwords never reach the output.

mod audit;
mod render;
mod steps;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::scenario::TargetSpec;
use crate::server::{ServerError, ServerOptions};
use crate::shutdown::Shutdown;
use crate::target::{self, Lookup, Plan, TargetError, TargetRequest};
/// Deadline for each reply, including the connection handshake: a server that accepts TCP
/// but never speaks must fail fast rather than after the connect timeout.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Number of checks, whatever happens (skipped ones count as failed).
const TOTAL_CHECKS: usize = 8;

/// What `redline check` was asked to do; the rest comes from the guide's variables.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Target URL (`--redis`); `None` falls back to REDIS_URL, REDIS_HOST/REDIS_PORT, then an
    /// embedded server.
    pub url: Option<String>,
    /// Print one JSON object instead of the guide-style text.
    pub json: bool,
    /// Ends the check early: an embedded server being started is cancelled (killed, its
    /// dir removed). The binary passes SIGINT/SIGTERM; the default never comes.
    pub shutdown: Shutdown,
}

/// Why the check could not even begin. Connection failures are not errors: they are
/// reported as failed checks.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The URL does not parse; fix its syntax (`redis://[:password@]host[:port][/db]`).
    #[error("invalid Redis URL {url}: {reason}")]
    BadUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL is not `redis://` or `rediss://`.
    #[error("unsupported URL scheme {scheme}:// in {url} (use redis:// or rediss://)")]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
        /// The URL with any password replaced by `***`.
        url: String,
    },
    /// The target could not be resolved or the embedded server not started: the same
    /// errors, with the same messages, as `redline run`.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// No URL was given and no redis-server is installed to start one.
    #[error("no Redis URL given (--redis, REDIS_URL or REDIS_HOST) and no embedded server: {0}")]
    EmbeddedServer(#[source] ServerError),
}

/// One of the eight checks.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The guide's test name.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was observed, or why it failed.
    pub detail: String,
}

/// Audit verdict: advisory only, so there is no "fail".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditStatus {
    /// Meets the guide's recommendation.
    Pass,
    /// Deviates from it, or could not be determined.
    Warn,
}

/// One production-readiness finding.
#[derive(Debug, Clone, Serialize)]
pub struct AuditItem {
    /// What was audited.
    pub name: &'static str,
    /// Pass or warn.
    pub status: AuditStatus,
    /// What was found and, for a warning, what to change.
    pub detail: String,
}

/// Counts over the eight checks.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Always 8.
    pub total: usize,
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed or were skipped.
    pub failed: usize,
}

/// What was checked.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// The URL with any password replaced by `***`.
    pub url: String,
    /// `redis_version`, when INFO answered.
    pub version: Option<String>,
    /// `"url"` for a given server, `"embedded"` for one redline started.
    pub provider: &'static str,
}

/// Everything `redline check` found; both renderers work from this.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The server checked.
    pub target: TargetInfo,
    /// The eight checks, in order.
    pub checks: Vec<CheckResult>,
    /// The audit (empty when no connection could be made).
    pub audit: Vec<AuditItem>,
    /// Counts over `checks`.
    pub summary: Summary,
    /// Leftover test keys could not be removed (they expire within a minute anyway).
    pub cleanup_error: Option<String>,
    /// The one-line reason the connection failed, if it did.
    pub error: Option<String>,
}

impl CheckReport {
    /// True when all eight checks passed.
    pub fn all_passed(&self) -> bool {
        self.summary.passed == TOTAL_CHECKS
    }
}

/// Runs the check and writes the report (text or JSON) to `out`. `Ok(true)` when all eight
/// checks passed, `Ok(false)` when some failed (including "cannot connect"), `Err` when the
/// check could not start (bad URL or settings, no embedded server). `env` looks environment
/// variables up ([`target::process_env`] in the binary).
pub async fn run(
    opts: &CheckOptions,
    env: Lookup<'_>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<bool> {
    let report = inspect(opts, env).await?;
    if opts.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        render::text(&report, out)?;
    }
    out.flush()?;
    Ok(report.all_passed())
}

/// Resolves the target from `opts` and the environment (`env` looks a variable up) the way
/// every command does, runs the checks and the audit, and returns the report without
/// printing anything.
pub async fn inspect(opts: &CheckOptions, env: Lookup<'_>) -> Result<CheckReport, CheckError> {
    let spec = TargetSpec::default();
    let request = TargetRequest {
        flag_url: opts.url.as_deref(),
        spec: &spec,
    };
    let resolved = target::resolve(&request, env)?;
    let (target, _server) = match resolved.plan {
        Plan::Url { config, .. } => (resolve_url(&target::credentialed_url(&config)?)?, None),
        Plan::Embedded { binary } => {
            let server =
                target::start_embedded_until(binary, ServerOptions::default(), &opts.shutdown)
                    .await?;
            let mut target = resolve_url(&server.url())?;
            target.provider = "embedded";
            (target, Some(server))
        }
        Plan::Memory { missing } => {
            return Err(CheckError::EmbeddedServer(missing.unwrap_or(
                ServerError::NotInstalled {
                    location: "on PATH".into(),
                },
            )))
        }
    };
    let prefix = format!(
        "{}redline:check:{:016x}:",
        resolved.env.key_prefix,
        rand::random::<u64>()
    );
    Ok(steps::run_all(&target, resolved.connect_timeout, &prefix).await)
}

/// A resolved target: the URL to connect with (password included) and what may be shown.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Full URL, password included: only ever handed to the redis client.
    url: String,
    /// `url` with the password replaced by `***`.
    redacted: String,
    /// The same URL without credentials, for the audit's unauthenticated probe.
    anonymous_url: String,
    /// Host as given (for the TCP probe and the TLS audit).
    host: String,
    /// Port (6379 when the URL names none).
    port: u16,
    /// Whether the URL is `rediss://`.
    tls: bool,
    /// Whether credentials are configured.
    has_password: bool,
    /// Strings that must never be printed (the password, raw and percent-encoded).
    secrets: Vec<String>,
    /// `"url"` or `"embedded"`.
    provider: &'static str,
}

impl Target {
    /// Removes every secret from text that may have picked one up (error messages).
    /// Very short passwords (under 4 characters) are left alone: scrubbing them would
    /// mangle ordinary words, and the URL itself is always redacted structurally.
    fn scrub(&self, text: impl Into<String>) -> String {
        let mut text = text.into();
        for secret in &self.secrets {
            if secret.len() >= 4 {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// Parses one complete URL (credentials and scheme already settled by the target module)
/// into what the checks connect with and what they may show.
fn resolve_url(raw: &str) -> Result<Target, CheckError> {
    let url = url::Url::parse(raw).map_err(|e| CheckError::BadUrl {
        url: redact_unparsed(raw),
        reason: e.to_string(),
    })?;
    let scheme = url.scheme().to_string();
    if scheme != "redis" && scheme != "rediss" {
        return Err(CheckError::UnknownScheme {
            scheme,
            url: redact(&url),
        });
    }
    let bad = |url: &url::Url, reason: &str| CheckError::BadUrl {
        url: redact(url),
        reason: reason.to_string(),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(bad(&url, "missing host")),
    };
    // Let the redis client validate the rest (database number, fragment) up front.
    if let Err(e) = redis::Client::open(url.as_str()) {
        return Err(bad(&url, &e.to_string()));
    }
    let secrets = url
        .password()
        .map(|encoded| {
            let decoded = percent_decode(encoded);
            vec![decoded, encoded.to_string()]
        })
        .unwrap_or_default();
    let mut anonymous = url.clone();
    // Both setters only fail on URLs that cannot have credentials, which ours can.
    let _ = anonymous.set_username("");
    let _ = anonymous.set_password(None);
    Ok(Target {
        redacted: redact(&url),
        anonymous_url: anonymous.to_string(),
        host,
        port: url.port().unwrap_or(6379),
        tls: url.scheme() == "rediss",
        has_password: url.password().is_some(),
        secrets,
        provider: "url",
        url: url.to_string(),
    })
}

/// The URL with its password replaced by `***` (the crate's one URL redaction, which also
/// covers URLs that parse without a host, like `redis:/:pw@host`).
fn redact(url: &url::Url) -> String {
    crate::cache::config::redact_url(url.as_str())
}

/// Redaction of a string that did not parse as a URL: nothing between its `//` (or its
/// start) and its last `@` is kept (the crate's one raw-URL redaction).
fn redact_unparsed(raw: &str) -> String {
    crate::cache::config::redact_raw(raw)
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Milliseconds for messages.
fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// Time left until `deadline`, for loops that poll.
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check's view of a URL as the target module completes it from the environment.
    fn completed(url: &str, password: Option<&str>, tls: bool) -> Target {
        let mut config = crate::cache::RedisConfig::new(url);
        config.password = password.map(str::to_string);
        config.tls = tls;
        resolve_url(&target::credentialed_url(&config).unwrap()).unwrap()
    }

    #[test]
    fn redis_password_and_tls_flag_complete_the_url() {
        let t = completed("redis://example.com:6380", Some("p@ss word"), true);
        assert!(t.tls);
        assert!(t.has_password);
        assert!(
            t.url
                .starts_with("rediss://:p%40ss%20word@example.com:6380"),
            "{}",
            t.url
        );
        assert_eq!(t.redacted, "rediss://:***@example.com:6380");
        assert_eq!(t.anonymous_url, "rediss://example.com:6380");
        assert!(t.secrets.contains(&"p@ss word".to_string()));
    }

    #[test]
    fn url_password_wins_over_redis_password() {
        let t = completed("redis://default:fromurl@h", Some("fromenv"), false);
        assert!(t.url.contains("fromurl"));
        assert_eq!(t.redacted, "redis://default:***@h");
        assert_eq!(t.port, 6379);
    }

    #[test]
    fn bad_urls_are_errors_that_hide_the_password() {
        let e = resolve_url("http://:hunter22@h:80").unwrap_err();
        assert!(matches!(e, CheckError::UnknownScheme { .. }));
        assert!(!e.to_string().contains("hunter22"), "{e}");
        let e = resolve_url("redis://:hunter22@h:notaport").unwrap_err();
        assert!(matches!(e, CheckError::BadUrl { .. }));
        assert!(!e.to_string().contains("hunter22"), "{e}");
        let e = resolve_url("not a url").unwrap_err();
        assert!(matches!(e, CheckError::BadUrl { .. }));
        let e = resolve_url("redis://:hunter22@h/notadb").unwrap_err();
        assert!(!e.to_string().contains("hunter22"), "{e}");
        assert!(resolve_url("redis://").is_err());
    }

    #[test]
    fn scrub_removes_secrets_from_messages() {
        let t = resolve_url("redis://:sup%2Fer@h").unwrap();
        assert_eq!(
            t.scrub("AUTH sup/er failed, sup%2Fer"),
            "AUTH *** failed, ***"
        );
    }

    #[test]
    fn unparsed_redaction_and_percent_decoding() {
        assert_eq!(redact_unparsed("redis://u:pw@h:x"), "redis://***@h:x");
        assert_eq!(redact_unparsed("redis//:pw@h"), "redis//***@h");
        assert_eq!(redact_unparsed("redis://h:x"), "redis://h:x");
        assert_eq!(percent_decode("a%20b%zz%"), "a b%zz%");
    }
}
