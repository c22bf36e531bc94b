//! Connection settings for the Redis store, set in code (the guide's environment variables
//! are read and checked in one place, `redline::target::env`, which fills these in); and URL
//! redaction, so that no password is ever printed.

use std::time::Duration;

/// A URL or setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse.
    #[error("malformed Redis URL {url}: {reason}")]
    MalformedUrl { url: String, reason: String },
    /// The scheme is not redis:// or rediss://.
    #[error("unsupported scheme {scheme:?} in {url}: use redis:// or rediss:// (TLS)")]
    UnknownScheme { url: String, scheme: String },
}

/// How to reach Redis.
#[derive(Clone, PartialEq)]
pub struct RedisConfig {
    /// redis:// or rediss:// URL, possibly with a password.
    pub url: String,
    /// Password used when the URL carries none (REDIS_PASSWORD).
    pub password: Option<String>,
    /// Forces TLS even for a redis:// URL (REDIS_TLS_ENABLED=true).
    pub tls: bool,
    /// PEM CA certificate to trust instead of the system roots (self-signed servers).
    pub tls_root_cert: Option<Vec<u8>>,
    /// Prepended to every key (REDIS_KEY_PREFIX), e.g. `unite-hub:`.
    pub key_prefix: String,
    /// Deadline for one connection attempt (REDIS_CONNECT_TIMEOUT, ms; guide: 10 000).
    pub connect_timeout: Duration,
    /// Deadline for one command's reply. A paused server must not stall callers longer.
    pub response_timeout: Duration,
    /// Connection attempts after the first (REDIS_MAX_RETRIES; guide: 3), spaced by
    /// [`retry_delay`].
    pub max_retries: u32,
    /// Multiplexed connections to spread commands over.
    pub connections: usize,
    /// Consecutive timeouts on one connection after which it is dropped and rebuilt: the
    /// redis crate does not reconnect after a response timeout by itself.
    pub reconnect_after_timeouts: u32,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("max_retries", &self.max_retries)
            .field("connections", &self.connections)
            .finish()
    }
}

impl RedisConfig {
    /// Settings for `url` with the guide's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            password: None,
            tls: false,
            tls_root_cert: None,
            key_prefix: String::new(),
            connect_timeout: Duration::from_millis(10_000),
            response_timeout: Duration::from_millis(500),
            max_retries: 3,
            connections: 1,
            reconnect_after_timeouts: 3,
        }
    }

    /// The URL as it may be printed: the password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Builds the redis crate's connection info: checks the scheme, applies TLS and the
    /// password. Errors never contain the password.
    pub fn connection_info(&self) -> Result<redis::ConnectionInfo, ConfigError> {
        let parsed = url::Url::parse(&self.url).map_err(|e| ConfigError::MalformedUrl {
            url: redact_url(&self.url),
            reason: e.to_string(),
        })?;
        let mut url = parsed.clone();
        match parsed.scheme() {
            "redis" if self.tls => {
                // set_scheme between special-less schemes is allowed.
                let _ = url.set_scheme("rediss");
            }
            "redis" | "rediss" => {}
            other => {
                return Err(ConfigError::UnknownScheme {
                    url: redact_url(&self.url),
                    scheme: other.to_string(),
                })
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::MalformedUrl {
                url: redact_url(&self.url),
                reason: "no host".into(),
            });
        }
        if url.password().is_none() {
            if let Some(p) = &self.password {
                let _ = url.set_password(Some(p));
            }
        }
        redis::IntoConnectionInfo::into_connection_info(url.as_str()).map_err(|e| {
            ConfigError::MalformedUrl {
                url: redact_url(&self.url),
                reason: redact_text(&e.to_string()),
            }
        })
    }

    /// True when the connection will use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls
            || self
                .url
                .get(..9)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"))
    }
}

/// The guide's reconnect backoff: `min(times * 50, 2000)` ms for attempt `times` (1-based).
pub fn retry_delay(times: u32) -> Duration {
    Duration::from_millis(u64::from(times).saturating_mul(50).min(2000))
}

/// A URL with any password replaced by `***`. Unparseable input is returned with anything
/// between `://` and `@` hidden.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => redact_text(url),
    }
}

/// Hides userinfo in any `scheme://user:pass@host` found in free text.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_guide() {
        assert_eq!(retry_delay(1), Duration::from_millis(50));
        assert_eq!(retry_delay(3), Duration::from_millis(150));
        assert_eq!(retry_delay(40), Duration::from_millis(2000));
        assert_eq!(retry_delay(u32::MAX), Duration::from_millis(2000));
    }

    #[test]
    fn unknown_scheme_and_malformed_urls_are_rejected_without_the_password() {
        let e = RedisConfig::new("http://u:hunter2@host:1")
            .connection_info()
            .unwrap_err();
        assert!(matches!(e, ConfigError::UnknownScheme { .. }));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = RedisConfig::new("redis://:hunter2@[::1")
            .connection_info()
            .unwrap_err();
        assert!(matches!(e, ConfigError::MalformedUrl { .. }));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = RedisConfig::new("not a url").connection_info().unwrap_err();
        assert!(matches!(e, ConfigError::MalformedUrl { .. }));
    }

    #[test]
    fn tls_flag_upgrades_the_scheme() {
        let mut c = RedisConfig::new("redis://127.0.0.1:1");
        c.tls = true;
        assert!(c.uses_tls());
        assert!(c.connection_info().is_ok());
    }

    #[test]
    fn redaction_hides_passwords() {
        assert_eq!(
            redact_url("redis://default:pw@host:25061"),
            "redis://default:***@host:25061"
        );
        assert_eq!(redact_url("redis://host:1"), "redis://host:1");
        assert_eq!(
            redact_text("cannot reach rediss://u:p@w@h:1/0 now"),
            "cannot reach rediss://***@h:1/0 now"
        );
    }

    #[test]
    fn tls_scheme_is_recognised_in_any_case() {
        assert!(RedisConfig::new("rediss://h:1").uses_tls());
        assert!(RedisConfig::new("REDISS://h:1").uses_tls());
        assert!(!RedisConfig::new("redis://h:1").uses_tls());
        assert!(!RedisConfig::new("r").uses_tls());
    }
}
