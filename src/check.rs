//! `redline check`: the Redis production setup guide's test script, in Rust.
//!
//! It connects to the target (a URL, REDIS_URL, or an embedded server when neither is
//! given), runs the guide's eight checks (connection, PING, SET/GET, TTL expiry, DEL,
//! pattern delete, pipeline, INFO), then audits the server against the guide's security
//! and migration checklists (auth, persistence, maxmemory policy, TLS, dangerous commands).
//!
//! - this file: options, target resolution, secret redaction, connecting, orchestration.
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

use crate::server::{EmbeddedRedis, ServerError};

/// Default connect timeout, as in the guide (REDIS_CONNECT_TIMEOUT=10000).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Deadline for each reply, including the connection handshake: a server that accepts TCP
/// but never speaks must fail fast rather than after the connect timeout.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Number of checks, whatever happens (skipped ones count as failed).
const TOTAL_CHECKS: usize = 8;

/// What `redline check` was asked to do; the rest comes from the guide's variables.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Target URL; `None` falls back to REDIS_URL, REDIS_HOST/REDIS_PORT, then an embedded
    /// server.
    pub url: Option<String>,
    /// Print one JSON object instead of the guide-style text.
    pub json: bool,
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
    /// REDIS_CONNECT_TIMEOUT is not a positive number of milliseconds.
    #[error("invalid REDIS_CONNECT_TIMEOUT {0:?}: expected a positive number of milliseconds")]
    BadConnectTimeout(String),
    /// No URL was given and no embedded server could be started.
    #[error("no Redis URL given (--redis or REDIS_URL) and cannot start an embedded redis-server")]
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
/// check could not start (bad URL or settings, no embedded server).
pub async fn run(opts: &CheckOptions, out: &mut dyn std::io::Write) -> anyhow::Result<bool> {
    let report = inspect(opts, &|name| std::env::var(name).ok()).await?;
    if opts.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        render::text(&report, out)?;
    }
    out.flush()?;
    Ok(report.all_passed())
}

/// Resolves the target from `opts` and the environment (`env` looks a variable up), runs
/// the checks and the audit, and returns the report without printing anything.
pub async fn inspect(
    opts: &CheckOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CheckReport, CheckError> {
    let connect_timeout = connect_timeout(env)?;
    let (target, _server) = match resolve(opts, env)? {
        Some(target) => (target, None),
        None => {
            let server = tokio::task::spawn_blocking(|| EmbeddedRedis::start(Default::default()))
                .await
                .map_err(|e| {
                    CheckError::EmbeddedServer(ServerError::Io {
                        what: "the server start-up task failed".into(),
                        source: std::io::Error::other(e.to_string()),
                    })
                })?
                .map_err(CheckError::EmbeddedServer)?;
            let mut target = resolve_url(&server.url(), env)?;
            target.provider = "embedded";
            (target, Some(server))
        }
    };
    Ok(steps::run_all(&target, connect_timeout).await)
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

/// The connect timeout from REDIS_CONNECT_TIMEOUT (milliseconds), default 10 s.
fn connect_timeout(env: &dyn Fn(&str) -> Option<String>) -> Result<Duration, CheckError> {
    match env("REDIS_CONNECT_TIMEOUT").filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_CONNECT_TIMEOUT),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(CheckError::BadConnectTimeout(value)),
        },
    }
}

/// Picks the target URL: `--redis`, then REDIS_URL, then REDIS_HOST[/REDIS_PORT]; `None`
/// means "start an embedded server".
fn resolve(
    opts: &CheckOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Target>, CheckError> {
    let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let url = opts
        .url
        .clone()
        .or_else(|| non_empty("REDIS_URL"))
        .or_else(|| {
            non_empty("REDIS_HOST").map(|host| {
                let port = non_empty("REDIS_PORT").unwrap_or_else(|| "6379".into());
                format!("redis://{}:{}", host.trim(), port.trim())
            })
        });
    url.map(|u| resolve_url(u.trim(), env)).transpose()
}

/// Parses and completes one URL: REDIS_PASSWORD fills a missing password and
/// REDIS_TLS_ENABLED=true switches to `rediss://`.
fn resolve_url(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Target, CheckError> {
    let mut url = url::Url::parse(raw).map_err(|e| CheckError::BadUrl {
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
    if url.password().is_none() {
        if let Some(password) = env("REDIS_PASSWORD").filter(|p| !p.is_empty()) {
            url.set_password(Some(&password))
                .map_err(|()| bad(&url, "cannot carry a password"))?;
        }
    }
    let tls_forced = env("REDIS_TLS_ENABLED")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if tls_forced && url.scheme() == "redis" {
        url.set_scheme("rediss")
            .map_err(|()| bad(&url, "cannot switch to rediss://"))?;
    }
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
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn opts(url: Option<&str>) -> CheckOptions {
        CheckOptions {
            url: url.map(str::to_string),
            json: false,
        }
    }

    #[test]
    fn no_url_anywhere_means_embedded() {
        assert!(resolve(&opts(None), &env_of(&[])).unwrap().is_none());
    }

    #[test]
    fn option_beats_redis_url_and_redis_url_beats_host_port() {
        let env = env_of(&[("REDIS_URL", "redis://envhost:1"), ("REDIS_HOST", "h")]);
        let t = resolve(&opts(Some("redis://cli:2")), &env)
            .unwrap()
            .unwrap();
        assert_eq!((t.host.as_str(), t.port), ("cli", 2));
        let t = resolve(&opts(None), &env).unwrap().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("envhost", 1));
        let env = env_of(&[("REDIS_HOST", "h"), ("REDIS_PORT", "7")]);
        let t = resolve(&opts(None), &env).unwrap().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("h", 7));
    }

    #[test]
    fn redis_password_and_tls_flag_complete_the_url() {
        let env = env_of(&[
            ("REDIS_PASSWORD", "p@ss word"),
            ("REDIS_TLS_ENABLED", "true"),
        ]);
        let t = resolve_url("redis://example.com:6380", &env).unwrap();
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
        let env = env_of(&[("REDIS_PASSWORD", "fromenv")]);
        let t = resolve_url("redis://default:fromurl@h", &env).unwrap();
        assert!(t.url.contains("fromurl"));
        assert_eq!(t.redacted, "redis://default:***@h");
        assert_eq!(t.port, 6379);
    }

    #[test]
    fn bad_urls_are_errors_that_hide_the_password() {
        let none = env_of(&[]);
        let e = resolve_url("http://:hunter22@h:80", &none).unwrap_err();
        assert!(matches!(e, CheckError::UnknownScheme { .. }));
        assert!(!e.to_string().contains("hunter22"), "{e}");
        let e = resolve_url("redis://:hunter22@h:notaport", &none).unwrap_err();
        assert!(matches!(e, CheckError::BadUrl { .. }));
        assert!(!e.to_string().contains("hunter22"), "{e}");
        let e = resolve_url("not a url", &none).unwrap_err();
        assert!(matches!(e, CheckError::BadUrl { .. }));
        let e = resolve_url("redis://:hunter22@h/notadb", &none).unwrap_err();
        assert!(!e.to_string().contains("hunter22"), "{e}");
        assert!(resolve_url("redis://", &none).is_err());
    }

    #[test]
    fn connect_timeout_comes_from_the_environment() {
        assert_eq!(
            connect_timeout(&env_of(&[])).unwrap(),
            DEFAULT_CONNECT_TIMEOUT
        );
        let env = env_of(&[("REDIS_CONNECT_TIMEOUT", "250")]);
        assert_eq!(connect_timeout(&env).unwrap(), Duration::from_millis(250));
        let env = env_of(&[("REDIS_CONNECT_TIMEOUT", "soon")]);
        assert!(connect_timeout(&env).is_err());
        let env = env_of(&[("REDIS_CONNECT_TIMEOUT", "0")]);
        assert!(connect_timeout(&env).is_err());
    }

    #[test]
    fn scrub_removes_secrets_from_messages() {
        let t = resolve_url("redis://:sup%2Fer@h", &env_of(&[])).unwrap();
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
