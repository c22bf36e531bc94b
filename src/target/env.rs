//! The guide's environment variables, read once and checked by one rule each.
//!
//! Every command reads the environment through here, through a lookup function the caller
//! passes ([`process_env`] in the binary, a map in tests), so `run` and `check` cannot
//! disagree about what a variable means. An empty (or all-blank) variable counts as unset.
//! A variable that is set to something unusable is an error naming it, whatever target
//! the run ends up using: a typo must not be silently ignored on one path and fatal on
//! another.

use super::TargetError;
use crate::scenario::keyspace::forbidden_prefix_char;
use std::time::Duration;

/// A way to look environment variables up: [`process_env`], or a map in tests.
pub type Lookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment: the one place redline reads it (besides `SSL_CERT_FILE`, which
/// the TLS library reads for its trust store).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Upper bound of REDIS_CONNECT_TIMEOUT: an hour is already far past any sane deadline,
/// and larger values overflow timers.
pub const MAX_CONNECT_TIMEOUT_MS: u64 = 3_600_000;
/// Upper bound of REDIS_MAX_RETRIES: with the guide's 2 s maximum backoff, 100 retries
/// already wait more than three minutes.
pub const MAX_RETRIES: u32 = 100;

/// The REDIS_* variables (and where to find `redis-server`), checked.
#[derive(Clone, Default, PartialEq)]
pub struct EnvSettings {
    /// REDIS_URL.
    pub url: Option<String>,
    /// REDIS_HOST and REDIS_PORT (default 6379) as a `redis://host:port` URL; used when
    /// REDIS_URL is unset.
    pub host_url: Option<String>,
    /// REDIS_PASSWORD: used when the URL carries no password.
    pub password: Option<String>,
    /// REDIS_KEY_PREFIX: namespace in front of every key the run writes ("" when unset).
    pub key_prefix: String,
    /// REDIS_TLS_ENABLED: `Some(true)` turns a `redis://` URL into `rediss://`.
    pub tls: Option<bool>,
    /// REDIS_CONNECT_TIMEOUT in milliseconds; overrides `target.connect_timeout`.
    pub connect_timeout: Option<Duration>,
    /// REDIS_MAX_RETRIES: connection attempts after the first.
    pub max_retries: Option<u32>,
    /// REDLINE_REDIS_SERVER: the `redis-server` executable to start.
    pub redis_server: Option<String>,
    /// PATH, where `redis-server` is looked for.
    pub path: Option<String>,
}

impl std::fmt::Debug for EnvSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvSettings")
            .field(
                "url",
                &self.url.as_deref().map(crate::cache::config::redact_url),
            )
            .field("host_url", &self.host_url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key_prefix", &self.key_prefix)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("redis_server", &self.redis_server)
            .finish()
    }
}

impl EnvSettings {
    /// Reads and checks every variable.
    pub fn read(env: Lookup<'_>) -> Result<EnvSettings, TargetError> {
        // Blank means unset; the password keeps its spaces, anything else is trimmed.
        let raw = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let get = |name: &str| raw(name).map(|v| v.trim().to_string());
        let bad = |var: &'static str, value: &str, reason: String| TargetError::BadEnv {
            var,
            value: value.to_string(),
            reason,
        };

        let port = match get("REDIS_PORT") {
            None => 6379,
            Some(v) => match v.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(bad(
                        "REDIS_PORT",
                        &v,
                        "expected a port number, 1 to 65535".into(),
                    ))
                }
            },
        };
        let host_url = match get("REDIS_HOST") {
            None => None,
            Some(host) => Some(host_url(&host, port).ok_or_else(|| {
                bad(
                    "REDIS_HOST",
                    &host,
                    "expected a host name or IP address (put a full URL in REDIS_URL)".into(),
                )
            })?),
        };
        let key_prefix = get("REDIS_KEY_PREFIX").unwrap_or_default();
        if let Some(c) = forbidden_prefix_char(&key_prefix) {
            return Err(bad(
                "REDIS_KEY_PREFIX",
                &key_prefix,
                format!(
                    "must not contain {c:?}: the end-of-run cleanup deletes prefix* with SCAN MATCH, \
                     where whitespace and * ? [ ] \\ would match other keys or miss the run's own"
                ),
            ));
        }
        let tls = match get("REDIS_TLS_ENABLED") {
            None => None,
            Some(v) => Some(match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(bad(
                        "REDIS_TLS_ENABLED",
                        &v,
                        "expected true or false".into(),
                    ))
                }
            }),
        };
        let connect_timeout = match get("REDIS_CONNECT_TIMEOUT") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (1..=MAX_CONNECT_TIMEOUT_MS).contains(&ms) => {
                    Some(Duration::from_millis(ms))
                }
                _ => {
                    return Err(bad(
                        "REDIS_CONNECT_TIMEOUT",
                        &v,
                        format!(
                        "expected milliseconds, a whole number from 1 to {MAX_CONNECT_TIMEOUT_MS}"
                    ),
                    ))
                }
            },
        };
        let max_retries = match get("REDIS_MAX_RETRIES") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= MAX_RETRIES => Some(n),
                _ => {
                    return Err(bad(
                        "REDIS_MAX_RETRIES",
                        &v,
                        format!("expected a whole number from 0 to {MAX_RETRIES}"),
                    ))
                }
            },
        };
        Ok(EnvSettings {
            url: get("REDIS_URL"),
            host_url,
            password: raw("REDIS_PASSWORD"),
            key_prefix,
            tls,
            connect_timeout,
            max_retries,
            redis_server: get("REDLINE_REDIS_SERVER"),
            path: env("PATH"),
        })
    }

    /// REDLINE_REDIS_SERVER and PATH as a lookup, for [`crate::server::redis_server_binary_in`].
    pub fn server_lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| match name {
            "REDLINE_REDIS_SERVER" => self.redis_server.clone(),
            "PATH" => self.path.clone(),
            _ => None,
        }
    }
}

/// `redis://host:port`, or `None` when `host` is not a host (it holds a scheme, a path,
/// credentials...). A bare IPv6 address gets its brackets.
fn host_url(host: &str, port: u16) -> Option<String> {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if host.contains(['/', '@', '?', '#']) {
        return None;
    }
    let url = url::Url::parse(&format!("redis://{host}:{port}")).ok()?;
    (url.host_str().is_some_and(|h| !h.is_empty()) && url.port() == Some(port))
        .then(|| format!("redis://{host}:{port}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn map(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn read(vars: &[(&str, &str)]) -> Result<EnvSettings, TargetError> {
        EnvSettings::read(&map(vars))
    }

    fn rejected(var: &str, value: &str) -> String {
        match read(&[(var, value), ("REDIS_HOST", "h")]) {
            Err(e @ TargetError::BadEnv { .. }) => e.to_string(),
            other => panic!("{var}={value:?} was accepted: {other:?}"),
        }
    }

    #[test]
    fn nothing_set_is_all_defaults() {
        let e = read(&[]).unwrap();
        assert_eq!(e, EnvSettings::default());
    }

    #[test]
    fn every_variable_is_read() {
        let e = read(&[
            ("REDIS_URL", " redis://u:pw@cache:6380 "),
            ("REDIS_HOST", "cache.internal"),
            ("REDIS_PORT", "6390"),
            ("REDIS_PASSWORD", " with spaces "),
            ("REDIS_KEY_PREFIX", "unite-hub:"),
            ("REDIS_TLS_ENABLED", "YES"),
            ("REDIS_CONNECT_TIMEOUT", "2500"),
            ("REDIS_MAX_RETRIES", "0"),
            ("REDLINE_REDIS_SERVER", "/opt/redis-server"),
        ])
        .unwrap();
        assert_eq!(e.url.as_deref(), Some("redis://u:pw@cache:6380"));
        assert_eq!(e.host_url.as_deref(), Some("redis://cache.internal:6390"));
        assert_eq!(e.password.as_deref(), Some(" with spaces "));
        assert_eq!(e.key_prefix, "unite-hub:");
        assert_eq!(e.tls, Some(true));
        assert_eq!(e.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(e.max_retries, Some(0));
        assert_eq!(e.redis_server.as_deref(), Some("/opt/redis-server"));
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("pw@") && !shown.contains("with spaces"),
            "{shown}"
        );
    }

    #[test]
    fn blank_values_are_unset() {
        let e = read(&[
            ("REDIS_URL", ""),
            ("REDIS_HOST", "  "),
            ("REDIS_TLS_ENABLED", ""),
            ("REDIS_CONNECT_TIMEOUT", " "),
            ("REDIS_PASSWORD", ""),
        ])
        .unwrap();
        assert_eq!(e, EnvSettings::default());
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        let e = read(&[("REDIS_HOST", "::1"), ("REDIS_PORT", "7000")]).unwrap();
        assert_eq!(e.host_url.as_deref(), Some("redis://[::1]:7000"));
    }

    #[test]
    fn each_rule_names_the_variable_and_the_fix() {
        let cases = [
            ("REDIS_TLS_ENABLED", "garbage", "expected true or false"),
            ("REDIS_CONNECT_TIMEOUT", "0", "from 1 to 3600000"),
            ("REDIS_CONNECT_TIMEOUT", "soon", "milliseconds"),
            (
                "REDIS_CONNECT_TIMEOUT",
                "99999999999999999999",
                "milliseconds",
            ),
            ("REDIS_MAX_RETRIES", "-1", "from 0 to 100"),
            ("REDIS_MAX_RETRIES", "1000", "from 0 to 100"),
            ("REDIS_PORT", "0", "1 to 65535"),
            ("REDIS_PORT", "70000", "1 to 65535"),
            ("REDIS_KEY_PREFIX", "app[1]:", "'['"),
            ("REDIS_KEY_PREFIX", "a*", "'*'"),
            ("REDIS_KEY_PREFIX", "a b", "' '"),
        ];
        for (var, value, says) in cases {
            let msg = rejected(var, value);
            assert!(msg.starts_with(&format!("{var}=")), "{msg}");
            assert!(msg.contains(says), "{var}={value}: {msg}");
        }
        let msg = match read(&[("REDIS_HOST", "redis://h:1")]) {
            Err(e) => e.to_string(),
            Ok(e) => panic!("accepted {e:?}"),
        };
        assert!(
            msg.contains("REDIS_HOST") && msg.contains("REDIS_URL"),
            "{msg}"
        );
    }

    #[test]
    fn server_lookup_answers_only_the_server_variables() {
        let e = read(&[("REDLINE_REDIS_SERVER", "x"), ("PATH", "/bin")]).unwrap();
        let look = e.server_lookup();
        assert_eq!(look("REDLINE_REDIS_SERVER").as_deref(), Some("x"));
        assert_eq!(look("PATH").as_deref(), Some("/bin"));
        assert_eq!(look("HOME"), None);
    }
}
