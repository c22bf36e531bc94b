//! Redis behind Sentinel: the `redis+sentinel://` URL and finding the current primary.
//!
//! `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name[/db]` names
//! the sentinels (port 26379 when omitted) and the name they monitor the primary under; the
//! credentials and database are the data nodes' (the sentinels are asked without a password).
//! TLS through Sentinel is not supported.
//!
//! [`SentinelResolver`] asks the sentinels for the primary with the redis crate's
//! [`redis::sentinel::Sentinel`], which also checks with `ROLE` that the node it names
//! really is a primary. The store's connector resolves again for every connection it opens,
//! so after a failover the first reconnect reaches the new primary. A connection that still
//! works does not fail by itself, though: after `SENTINEL FAILOVER` the old primary keeps
//! serving until Sentinel demotes it (seconds later). So the resolver also subscribes to
//! Sentinel's `+switch-master` events, as Sentinel's client guidelines ask, and bumps an
//! [`epoch`](SentinelResolver::epoch); the store drops links opened in an older epoch.

use super::config::{redact_raw, ConfigError};
use super::multi_host::{self, MultiHostUrl, Schemes};
use futures::StreamExt as _;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{ConnectionAddr, IntoConnectionInfo as _, RedisConnectionInfo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The URL scheme of a Sentinel-managed target.
pub const SCHEME: &str = "redis+sentinel";
/// Sentinel's default port.
const DEFAULT_PORT: u16 = 26379;

/// A parsed `redis+sentinel://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelUrl {
    /// `host:port` of each sentinel, in the URL's order.
    pub sentinels: Vec<(String, u16)>,
    /// The name the sentinels monitor the primary under.
    pub master_name: String,
    /// The equivalent `redis://[userinfo@]first-sentinel[/db]` URL: carries the data nodes'
    /// credentials and database (its address is not used).
    pub node_url: String,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelUrl")
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("node_url", &redact_raw(&self.node_url))
            .finish()
    }
}

/// True when `url` uses a Sentinel scheme (`redis+sentinel://` or the unsupported
/// `rediss+sentinel://`).
pub fn is_sentinel_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("redis+sentinel:") || lower.starts_with("rediss+sentinel:")
}

/// Parses a Sentinel URL. Errors name what is wrong and never contain the password.
pub fn parse(url: &str) -> Result<SentinelUrl, ConfigError> {
    let bad = |reason: &str| ConfigError::MalformedUrl {
        url: redact_raw(url),
        reason: reason.to_string(),
    };
    let MultiHostUrl {
        userinfo,
        hosts: sentinels,
        path,
    } = multi_host::split(
        url,
        &Schemes {
            plain: SCHEME,
            tls: "rediss+sentinel",
            expected: "expected redis+sentinel://host:port[,host:port]/master-name",
            tls_refused: "TLS through Sentinel is not supported; use redis+sentinel://",
            host: "sentinel",
            default_port: DEFAULT_PORT,
        },
    )?;
    let mut segments = path.split('/');
    let master_name = segments.next().unwrap_or("").to_string();
    if master_name.is_empty() {
        return Err(bad(
            "no master name: expected redis+sentinel://host:port[,host:port]/master-name",
        ));
    }
    let db = match segments.next() {
        None | Some("") => None,
        Some(db) => Some(
            db.parse::<u32>()
                .map_err(|_| bad(&format!("database {db:?} is not a number")))?,
        ),
    };
    if segments.next().is_some_and(|s| !s.is_empty()) {
        return Err(bad("expected at most /master-name/db after the sentinels"));
    }
    let (host, port) = &sentinels[0];
    let (host, port) = (multi_host::bracketed(host), *port);
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let db = db.map(|d| format!("/{d}")).unwrap_or_default();
    Ok(SentinelUrl {
        sentinels,
        master_name,
        node_url: format!("redis://{userinfo}{host}:{port}{db}"),
    })
}

/// Finds the current primary through the sentinels. Shared by a store's connections;
/// lookups are serialised (the crate's `Sentinel` caches its sentinel connections).
pub struct SentinelResolver {
    sentinel: tokio::sync::Mutex<Sentinel>,
    master_name: String,
    node: SentinelNodeConnectionInfo,
    /// The sentinels, for the `+switch-master` subscription.
    sentinels: Vec<redis::ConnectionInfo>,
    /// Bumped on every `+switch-master` of `master_name`; shared with the watcher task,
    /// which ends once the resolver is gone.
    epoch: Arc<AtomicU64>,
    /// Set once the watcher task is started (on the first lookup, inside a runtime).
    watching: AtomicBool,
}

/// Wait before trying the next sentinel when a subscription fails or ends.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);
/// How often the watcher checks that its resolver still exists.
const WATCH_TICK: Duration = Duration::from_secs(1);

impl SentinelResolver {
    /// A resolver for `url`; `node` carries the data nodes' credentials and database.
    pub fn new(url: &SentinelUrl, node: RedisConnectionInfo) -> redis::RedisResult<Self> {
        let infos: Vec<redis::ConnectionInfo> = url
            .sentinels
            .iter()
            .map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p).into_connection_info())
            .collect::<redis::RedisResult<_>>()?;
        Ok(SentinelResolver {
            sentinel: tokio::sync::Mutex::new(Sentinel::build(infos.clone())?),
            master_name: url.master_name.clone(),
            node: SentinelNodeConnectionInfo::default().set_redis_connection_info(node),
            sentinels: infos,
            epoch: Arc::default(),
            watching: AtomicBool::new(false),
        })
    }

    /// How many times the sentinels announced a new primary since this resolver watched:
    /// a link opened in an older epoch may reach a demoted primary.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn watch(&self) {
        if self.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let epoch = Arc::downgrade(&self.epoch);
        tokio::spawn(watch_switches(
            self.sentinels.clone(),
            self.master_name.clone(),
            epoch,
        ));
    }

    /// The primary's `host:port`, as the sentinels name it now and as it confirms (`ROLE`).
    pub async fn primary(&self) -> redis::RedisResult<(String, u16)> {
        self.watch();
        let mut sentinel = self.sentinel.lock().await;
        let client = sentinel
            .async_master_for(&self.master_name, Some(&self.node))
            .await?;
        match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) => Ok((host.clone(), *port)),
            other => Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "the sentinels name a primary that is not plain TCP",
                other.to_string(),
            ))),
        }
    }
}

/// Subscribes to `+switch-master` on one sentinel after another and bumps `epoch` for each
/// switch of `master_name`, until the resolver owning `epoch` is dropped.
async fn watch_switches(
    sentinels: Vec<redis::ConnectionInfo>,
    master_name: String,
    epoch: Weak<AtomicU64>,
) {
    let prefix = format!("{master_name} ");
    for info in sentinels.iter().cycle() {
        if epoch.strong_count() == 0 {
            return;
        }
        let subscribed = async {
            let client = redis::Client::open(info.clone())?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            redis::RedisResult::Ok(pubsub)
        };
        let Ok(Ok(mut pubsub)) = tokio::time::timeout(WATCH_TICK, subscribed).await else {
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
            continue;
        };
        let mut messages = pubsub.on_message();
        loop {
            match tokio::time::timeout(WATCH_TICK, messages.next()).await {
                Ok(Some(msg)) => {
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if payload.starts_with(&prefix) {
                        match epoch.upgrade() {
                            Some(e) => e.fetch_add(1, Ordering::AcqRel),
                            None => return,
                        };
                    }
                }
                // The subscription ended (the sentinel went away): try the next one.
                Ok(None) => break,
                Err(_) if epoch.strong_count() == 0 => return,
                Err(_) => {}
            }
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_name_credentials_and_db() {
        let u = parse("redis+sentinel://:p%40w@10.0.0.1:26380,s2,[::1]:5/mymaster/3").unwrap();
        assert_eq!(
            u.sentinels,
            vec![
                ("10.0.0.1".to_string(), 26380),
                ("s2".to_string(), 26379),
                ("::1".to_string(), 5)
            ]
        );
        assert_eq!(u.master_name, "mymaster");
        assert_eq!(u.node_url, "redis://:p%40w@10.0.0.1:26380/3");
        let u = parse("REDIS+SENTINEL://h/m").unwrap();
        assert_eq!(u.node_url, "redis://h:26379");
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, want) in [
            ("redis+sentinel://:hunter22@h:1", "no master name"),
            ("redis+sentinel://:hunter22@h:1/", "no master name"),
            ("redis+sentinel://:hunter22@h:x/m", "bad port"),
            ("redis+sentinel://:hunter22@h:0/m", "bad port"),
            (
                "redis+sentinel://:hunter22@h:1,,h:2/m",
                "empty sentinel address",
            ),
            ("redis+sentinel://:hunter22@h:1/m/db", "not a number"),
            ("redis+sentinel://:hunter22@/m", "empty sentinel address"),
            ("rediss+sentinel://:hunter22@h/m", "not supported"),
            ("redis+sentinel://:hunter22@h/m?x=1", "no query"),
        ] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("hunter22"), "{e}");
        }
        assert!(is_sentinel_url("redis+sentinel://h/m"));
        assert!(!is_sentinel_url("redis://h"));
    }
}
