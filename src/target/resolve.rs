//! Deciding what a command drives, without touching the network: `--redis`, else the
//! scenario's `target.url`, else REDIS_URL, else REDIS_HOST/REDIS_PORT, else an embedded
//! `redis-server`, else (only when none is installed) the in-memory store. The optional
//! variables (REDIS_PASSWORD, REDIS_TLS_ENABLED, REDIS_CONNECT_TIMEOUT, REDIS_MAX_RETRIES)
//! complete whichever URL was chosen; REDIS_KEY_PREFIX namespaces every target's keys.

use super::env::{EnvSettings, Lookup};
use super::{TargetError, TargetRequest};
use crate::cache::RedisConfig;
use crate::scenario::TargetKind;
use crate::server::{redis_server_binary_in, ServerError};
use std::path::PathBuf;
use std::time::Duration;

/// Where the URL of a [`Plan::Url`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// `--redis`.
    Flag,
    /// The scenario's `target.url`.
    Scenario,
    /// REDIS_URL.
    RedisUrl,
    /// REDIS_HOST and REDIS_PORT.
    RedisHost,
}

/// What to open.
#[derive(Debug)]
pub enum Plan {
    /// A server the user named. `config` carries the URL, password, TLS and timeouts, with
    /// no key prefix (prefixes are per run).
    Url {
        /// How to reach it.
        config: RedisConfig,
        /// Which setting named it.
        source: UrlSource,
    },
    /// Start this `redis-server` executable.
    Embedded {
        /// The executable found (REDLINE_REDIS_SERVER or PATH).
        binary: PathBuf,
    },
    /// The in-memory store alone.
    Memory {
        /// Why: `None` when the scenario asked for it (`target.kind = "memory"`), else the
        /// reason no server could be used (redis-server is not installed).
        missing: Option<ServerError>,
    },
}

/// The outcome of resolution: the plan and the environment it was made from.
#[derive(Debug)]
pub struct Resolved {
    /// What to open.
    pub plan: Plan,
    /// The checked environment (its key prefix applies to every target).
    pub env: EnvSettings,
    /// Deadline for one connection attempt: REDIS_CONNECT_TIMEOUT, else the scenario's.
    pub connect_timeout: Duration,
}

/// Resolves `req` against the environment `env`. Errors name the setting at fault; no
/// network and no process is touched.
pub fn resolve(req: &TargetRequest<'_>, env: Lookup<'_>) -> Result<Resolved, TargetError> {
    let settings = EnvSettings::read(env)?;
    let connect_timeout = settings.connect_timeout.unwrap_or(req.spec.connect_timeout);
    let named = [
        (req.flag_url.map(str::to_string), UrlSource::Flag),
        (req.spec.url.clone(), UrlSource::Scenario),
        (settings.url.clone(), UrlSource::RedisUrl),
        (settings.host_url.clone(), UrlSource::RedisHost),
    ]
    .into_iter()
    .find_map(|(url, source)| {
        let url = url?.trim().to_string();
        (!url.is_empty()).then_some((url, source))
    });
    let plan = if req.spec.kind == TargetKind::Memory {
        Plan::Memory { missing: None }
    } else if let Some((url, source)) = named {
        let mut config = RedisConfig::new(url);
        config.password = settings.password.clone();
        config.tls = settings.tls.unwrap_or(false);
        config.connect_timeout = connect_timeout;
        config.response_timeout = req.spec.response_timeout;
        if let Some(n) = settings.max_retries {
            config.max_retries = n;
        }
        // Checked here, so a bad URL is the same error for every command.
        config.connection_info()?;
        Plan::Url { config, source }
    } else {
        match redis_server_binary_in(&settings.server_lookup()) {
            Ok(binary) => Plan::Embedded { binary },
            Err(e @ ServerError::NotInstalled { .. }) => Plan::Memory { missing: Some(e) },
            Err(e) => return Err(TargetError::EmbeddedServer(e.to_string())),
        }
    };
    Ok(Resolved {
        plan,
        env: settings,
        connect_timeout,
    })
}

/// The URL a client connects with: the config's URL with REDIS_PASSWORD filled in when it
/// has none and `rediss://` when TLS is forced. Holds the password: never print it.
pub fn credentialed_url(config: &RedisConfig) -> Result<String, TargetError> {
    config.connection_info()?;
    if config.sentinel()?.is_some() {
        return Err(TargetError::Url(
            crate::cache::config::ConfigError::MalformedUrl {
                url: config.redacted_url(),
                reason: "this command needs one server's redis:// URL, not redis+sentinel://"
                    .into(),
            },
        ));
    }
    if config.cluster()?.is_some() {
        return Err(TargetError::Url(
            crate::cache::config::ConfigError::MalformedUrl {
                url: config.redacted_url(),
                reason: "this command checks one server: give one node's redis://host:port, \
                         not redis+cluster:// (a cluster node answers keys of other nodes' \
                         slots with MOVED)"
                    .into(),
            },
        ));
    }
    let mut url = url::Url::parse(&config.url).map_err(|e| {
        TargetError::Url(crate::cache::config::ConfigError::MalformedUrl {
            url: config.redacted_url(),
            reason: e.to_string(),
        })
    })?;
    if config.tls && url.scheme() == "redis" {
        // Both schemes are non-special, so switching between them is allowed.
        let _ = url.set_scheme("rediss");
    }
    if url.password().is_none() {
        if let Some(p) = &config.password {
            // connection_info() above accepted this URL, so it can carry credentials.
            let _ = url.set_password(Some(p));
        }
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::TargetSpec;
    use crate::target::env::tests::map;

    fn plan(flag: Option<&str>, spec: &TargetSpec, vars: &[(&str, &str)]) -> Plan {
        let req = TargetRequest {
            flag_url: flag,
            spec,
        };
        resolve(&req, &map(vars)).expect("resolves").plan
    }

    fn url_of(p: Plan) -> (String, UrlSource) {
        match p {
            Plan::Url { config, source } => (config.url, source),
            other => panic!("expected a URL, got {other:?}"),
        }
    }

    #[test]
    fn precedence_is_flag_scenario_redis_url_host_port() {
        let spec = TargetSpec {
            url: Some("redis://scenario:2".into()),
            ..TargetSpec::default()
        };
        let env = [
            ("REDIS_URL", "redis://envurl:3"),
            ("REDIS_HOST", "envhost"),
            ("REDIS_PORT", "4"),
        ];
        let bare = TargetSpec::default();
        assert_eq!(
            url_of(plan(Some("redis://flag:1"), &spec, &env)),
            ("redis://flag:1".into(), UrlSource::Flag)
        );
        assert_eq!(
            url_of(plan(None, &spec, &env)),
            ("redis://scenario:2".into(), UrlSource::Scenario)
        );
        assert_eq!(
            url_of(plan(None, &bare, &env)),
            ("redis://envurl:3".into(), UrlSource::RedisUrl)
        );
        assert_eq!(
            url_of(plan(None, &bare, &env[1..])),
            ("redis://envhost:4".into(), UrlSource::RedisHost)
        );
    }

    #[test]
    fn no_url_and_no_server_installed_means_memory_with_the_reason() {
        let env = [("PATH", "/nonexistent-dir")];
        match plan(None, &TargetSpec::default(), &env) {
            Plan::Memory { missing: Some(e) } => {
                assert!(
                    e.to_string().contains("apt-get install redis-server"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_embedded_server_is_found_through_the_given_path_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("redis-server");
        std::fs::write(&binary, "").unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().to_str().unwrap();
        match plan(None, &TargetSpec::default(), &[("PATH", path)]) {
            Plan::Embedded { binary: found } => assert_eq!(found, binary),
            other => panic!("{other:?}"),
        }
        // REDLINE_REDIS_SERVER wins over PATH, and naming no executable is an error: neither
        // PATH's binary nor the in-memory store is what was asked for.
        let env = [
            ("PATH", path),
            ("REDLINE_REDIS_SERVER", "/nonexistent/redis"),
        ];
        let req = TargetRequest {
            flag_url: None,
            spec: &TargetSpec::default(),
        };
        match resolve(&req, &map(&env)) {
            Err(TargetError::EmbeddedServer(m)) => {
                assert!(
                    m.contains("REDLINE_REDIS_SERVER names /nonexistent/redis"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn memory_kind_is_memory_whatever_is_configured() {
        let spec = TargetSpec {
            kind: TargetKind::Memory,
            ..TargetSpec::default()
        };
        let p = plan(Some("redis://h:1"), &spec, &[("REDIS_URL", "redis://h:2")]);
        assert!(matches!(p, Plan::Memory { missing: None }), "{p:?}");
    }

    #[test]
    fn env_completes_the_chosen_url_and_its_timeouts() {
        let spec = TargetSpec::default();
        let env = [
            ("REDIS_PASSWORD", "p@ss word"),
            ("REDIS_TLS_ENABLED", "true"),
            ("REDIS_CONNECT_TIMEOUT", "250"),
            ("REDIS_MAX_RETRIES", "7"),
        ];
        let req = TargetRequest {
            flag_url: Some("redis://example.com:6380"),
            spec: &spec,
        };
        let r = resolve(&req, &map(&env)).unwrap();
        assert_eq!(r.connect_timeout, Duration::from_millis(250));
        let Plan::Url { config, .. } = r.plan else {
            panic!("no url")
        };
        assert_eq!(config.max_retries, 7);
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(
            credentialed_url(&config).unwrap(),
            "rediss://:p%40ss%20word@example.com:6380"
        );
        // A password in the URL wins over REDIS_PASSWORD.
        let mut c = config.clone();
        c.url = "redis://default:fromurl@h".into();
        assert_eq!(credentialed_url(&c).unwrap(), "rediss://default:fromurl@h");
        // Without the variable the scenario's connect timeout holds.
        let r = resolve(&req, &map(&[])).unwrap();
        assert_eq!(r.connect_timeout, spec.connect_timeout);
    }

    #[test]
    fn bad_urls_fail_resolution_without_the_password() {
        let spec = TargetSpec::default();
        for url in [
            "redis://:hunter22@h:notaport",
            "http://:hunter22@h:80",
            "redis://:hunter22@h/notadb",
            "not a url",
            "redis://",
        ] {
            let req = TargetRequest {
                flag_url: Some(url),
                spec: &spec,
            };
            let e = resolve(&req, &map(&[])).unwrap_err();
            assert!(matches!(e, TargetError::Url(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("hunter22"), "{e}");
        }
    }
}
