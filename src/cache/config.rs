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
    /// The scheme is not redis://, rediss://, redis+sentinel:// or redis+cluster://.
    #[error("unsupported scheme {scheme:?} in {url}: use redis://, rediss:// (TLS), redis+sentinel:// or redis+cluster://")]
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
    /// Largest reply accepted, bytes (framing included); a peer sending more is cut off
    /// with a protocol error instead of growing memory. Defaults to Redis's own bulk limit.
    pub max_reply_bytes: u64,
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
            .field("max_reply_bytes", &self.max_reply_bytes)
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
            max_reply_bytes: super::reply_cap::REDIS_MAX_BULK,
        }
    }

    /// The URL as it may be printed: the password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Builds the redis crate's connection info: checks the scheme, applies TLS and the
    /// password. Errors never contain the password.
    pub fn connection_info(&self) -> Result<redis::ConnectionInfo, ConfigError> {
        if let Some(sentinel) = self.sentinel()? {
            // The data nodes' credentials and database; the address is Sentinel's to give.
            let mut nodes = self.clone();
            nodes.url = sentinel.node_url;
            if self.tls {
                return Err(ConfigError::MalformedUrl {
                    url: redact_url(&self.url),
                    reason: "TLS through Sentinel is not supported (unset REDIS_TLS_ENABLED)"
                        .into(),
                });
            }
            return nodes.connection_info();
        }
        if let Some(cluster) = self.cluster()? {
            if self.tls {
                return Err(ConfigError::MalformedUrl {
                    url: redact_url(&self.url),
                    reason: "TLS to a Redis Cluster is not supported (unset REDIS_TLS_ENABLED)"
                        .into(),
                });
            }
            // The first seed's address with the nodes' credentials: what a message names.
            let mut seed = self.clone();
            seed.url = cluster.seed_urls[0].clone();
            return seed.connection_info();
        }
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

    /// The sentinels and master name when the URL is `redis+sentinel://`, else `None`.
    pub fn sentinel(&self) -> Result<Option<super::sentinel::SentinelUrl>, ConfigError> {
        if super::sentinel::is_sentinel_url(&self.url) {
            super::sentinel::parse(&self.url).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The seed nodes when the URL is `redis+cluster://`, else `None`.
    pub fn cluster(&self) -> Result<Option<super::cluster::ClusterUrl>, ConfigError> {
        if super::cluster::is_cluster_url(&self.url) {
            super::cluster::parse(&self.url).map(Some)
        } else {
            Ok(None)
        }
    }

    /// True when the URL names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        super::cluster::is_cluster_url(&self.url)
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

/// A URL with any password replaced by `***` (a lone user name too: some clients read
/// `redis://secret@host` as a password). Input that does not parse as a URL is redacted as
/// one raw string ([`redact_raw`]).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        // `redis:/:pw@host` parses, as a path with no host: the raw form is what it meant.
        Ok(u) if u.host_str().is_none_or(str::is_empty) => redact_raw(url),
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(mut u) if !u.username().is_empty() => {
            let _ = u.set_username("***");
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => redact_raw(url),
    }
}

/// Redacts a string known to be one URL-like value (a `--redis` argument, a `--set` value,
/// REDIS_URL) that may not parse: everything between the scheme's `//` (or the start) and
/// the last `@` is replaced by `***`, so a malformed URL (`redis//:pw@host`), a password
/// with an unencoded `@` or a space, all stay hidden.
pub fn redact_raw(text: &str) -> String {
    let Some(at) = text.rfind('@') else {
        return text.to_string();
    };
    let start = text[..at].find("//").map_or(0, |i| i + 2);
    if start == at {
        return text.to_string();
    }
    format!("{}***{}", &text[..start], &text[at..])
}

/// Hides userinfo in every `user:pass@host`-shaped word of free text (error messages),
/// with or without a well-formed scheme: in each word holding an `@`, what lies between the
/// scheme's `//` (else the last `=`, else the word's start) and the word's last `@` becomes
/// `***`. It may hide more than a password (an e-mail's local part), never less, except
/// inside a password with white space, which only [`redact_raw`] can see whole.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest
            .find(|c: char| c.is_whitespace() || "\"'`<>()[]{},".contains(c))
            .unwrap_or(rest.len());
        let (word, tail) = rest.split_at(word_end);
        out.push_str(&redact_word(word));
        let sep_len = tail.chars().next().map_or(0, char::len_utf8);
        out.push_str(&tail[..sep_len]);
        rest = &tail[sep_len..];
    }
    out
}

fn redact_word(word: &str) -> String {
    let Some(at) = word.rfind('@') else {
        return word.to_string();
    };
    let head = &word[..at];
    let start = match head.find("//") {
        Some(i) => i + 2,
        None => head.rfind('=').map_or(0, |i| i + 1),
    };
    if start == at {
        return word.to_string();
    }
    format!("{}***{}", &word[..start], &word[at..])
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
    fn malformed_urls_lose_their_password_too() {
        // (input, redact_url, redact_text)
        let cases = [
            ("redis//:hunter2@host", "redis//***@host"),
            ("redis:/:hunter2@host:1", "***@host:1"),
            ("redis://:hun@ter2@127.0.0.1:1", "redis://***@127.0.0.1:1"),
            (
                "target.url=redis//:hunter2@host",
                "target.url=redis//***@host",
            ),
            (":hunter2@host", "***@host"),
            ("redis://hunter2@host", "redis://***@host"),
        ];
        for (raw, want) in cases {
            assert_eq!(redact_text(raw), want, "{raw}");
            let url = redact_url(raw);
            assert!(
                !url.contains("hunter2") && !url.contains("ter2"),
                "{raw} -> {url}"
            );
        }
        assert_eq!(redact_raw("redis://:my secret@h:1"), "redis://***@h:1");
        assert_eq!(
            redact_text(
                "bad value \"redis//u:hunter2@h\" (in --set target.url=redis//u:hunter2@h)"
            ),
            "bad value \"redis//***@h\" (in --set target.url=redis//***@h)"
        );
        assert_eq!(redact_text("no secrets: a=b c"), "no secrets: a=b c");
    }

    #[test]
    fn tls_scheme_is_recognised_in_any_case() {
        assert!(RedisConfig::new("rediss://h:1").uses_tls());
        assert!(RedisConfig::new("REDISS://h:1").uses_tls());
        assert!(!RedisConfig::new("redis://h:1").uses_tls());
        assert!(!RedisConfig::new("r").uses_tls());
    }
}
