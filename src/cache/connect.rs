//! Opening a store: [`ConnectError`], and the retry loop every store's connections are
//! opened with ([`retrying`]: the guide's backoff, at most `max_retries` retries, a refused
//! password or a peer that is not Redis never retried), for single-node links
//! ([`connect_one`]) and cluster clients alike.

use super::config::{retry_delay, ConfigError, RedisConfig};
use super::link::{Connector, Link};
use super::reply;
use redis::aio::ConnectionLike;
use std::time::Instant;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL or settings are unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server refused the password or requires one.
    #[error("authentication failed at {url}: {reason} (check the password in the URL or REDIS_PASSWORD)")]
    Auth { url: String, reason: String },
    /// Nothing answered, after every retry.
    #[error("cannot connect to {url} after {attempts} attempt(s): {reason}")]
    Unreachable {
        url: String,
        attempts: u32,
        reason: String,
    },
    /// Something answered, but not as Redis does.
    #[error("{url} does not speak the Redis protocol: {reason}")]
    NotRedis { url: String, reason: String },
}

/// Opens one single-node link, retrying with the guide's backoff (see [`retrying`]). A
/// server that requires a password accepts the connection and refuses commands, so the
/// link only counts once it answers PING with PONG.
pub(super) async fn connect_one(
    connector: &Connector,
    config: &RedisConfig,
    url: &str,
) -> Result<Link, ConnectError> {
    retrying(config, url, "connect", || async {
        let link = connector.open().await.map_err(|e| classify(&e, url))?;
        let mut conn = link.conn.clone();
        let ping_cmd = redis::cmd("PING");
        let ping = conn.req_packed_command(&ping_cmd);
        match tokio::time::timeout(config.connect_timeout, ping).await {
            Ok(Ok(v)) => match v.extract_error() {
                Ok(v) => match reply::pong(v) {
                    Ok(()) => Ok(link),
                    Err(e) => Err(Failed::Fatal(ConnectError::NotRedis {
                        url: url.to_string(),
                        reason: e.to_string(),
                    })),
                },
                Err(e) => Err(classify(&e, url)),
            },
            Ok(Err(e)) => match link.violation.get() {
                Some(reason) => Err(Failed::Fatal(ConnectError::NotRedis {
                    url: url.to_string(),
                    reason: reason.clone(),
                })),
                None => Err(classify(&e, url)),
            },
            Err(_) => Err(Failed::Again(format!(
                "no answer within the connect timeout of {:?}",
                config.connect_timeout
            ))),
        }
    })
    .await
}

/// Why one attempt to open a connection failed.
pub(super) enum Failed {
    /// Retrying cannot help (wrong password, not Redis).
    Fatal(ConnectError),
    /// Nothing answered (yet): the reason, for the message once the retries run out.
    Again(String),
}

/// A single-node connection error: a refused password or a peer that is not Redis is
/// fatal; an I/O error or a timeout is worth another attempt.
fn classify(e: &redis::RedisError, url: &str) -> Failed {
    let text = super::config::redact_text(&e.to_string());
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
    {
        return Failed::Fatal(ConnectError::Auth {
            url: url.to_string(),
            reason: text,
        });
    }
    if !(e.is_io_error() || e.is_timeout()) {
        return Failed::Fatal(ConnectError::NotRedis {
            url: url.to_string(),
            reason: text,
        });
    }
    Failed::Again(text)
}

/// Runs `attempt` until it succeeds or fails fatally, at most `max_retries` more times after
/// the first, spaced by the guide's backoff; then [`ConnectError::Unreachable`] with the
/// last reason. `what` names the attempts in the debug log.
pub(super) async fn retrying<T, F, Fut>(
    config: &RedisConfig,
    url: &str,
    what: &str,
    mut attempt: F,
) -> Result<T, ConnectError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failed>>,
{
    let mut attempts = 0;
    loop {
        let started = Instant::now();
        let reason = match attempt().await {
            Ok(done) => return Ok(done),
            Err(Failed::Fatal(e)) => return Err(e),
            Err(Failed::Again(reason)) => reason,
        };
        attempts += 1;
        if attempts > config.max_retries {
            return Err(ConnectError::Unreachable {
                url: url.to_string(),
                attempts,
                reason,
            });
        }
        tracing::debug!(
            "{what} attempt {attempts} to {url} failed after {:?}: {reason}",
            started.elapsed()
        );
        tokio::time::sleep(retry_delay(attempts)).await;
    }
}
