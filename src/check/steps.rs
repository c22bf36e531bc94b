//! The guide's eight checks, run in order against one connection, and the cleanup of the
//! keys they write. A failed check is recorded and the next one still runs; only a failed
//! connection skips the rest.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::RedisError;

use crate::cache::sweep;
use crate::target::info::InfoDict;

use super::{
    audit, millis, remaining, CheckReport, CheckResult, Summary, Target, TargetInfo,
    RESPONSE_TIMEOUT, TOTAL_CHECKS,
};

/// Names of the eight checks, in the guide's order.
const NAMES: [&str; TOTAL_CHECKS] = [
    "Connection",
    "PING Command",
    "SET/GET",
    "TTL Expiry",
    "DEL",
    "Pattern Delete",
    "Pipeline",
    "INFO",
];
/// Safety-net TTL on every key written: if cleanup cannot run, they still go away.
const KEY_TTL_SECS: u64 = 60;
/// How long the TTL check waits for its 1 s key to expire.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(3);
/// Keys written by the pattern-delete check.
const PATTERN_KEYS: u64 = 20;
/// Upper bound for one SCAN walk over the keyspace (it is O(keys) round trips).
const SCAN_DEADLINE: Duration = Duration::from_secs(20);

/// Outcome of one step: the detail to print, pass or fail.
type Step = Result<String, String>;

/// Connects, runs the checks and the audit, cleans up. Never fails: problems are results.
/// Every key lives under `prefix` (REDIS_KEY_PREFIX + `redline:check:<random>:`).
pub(super) async fn run_all(
    target: &Target,
    connect_timeout: Duration,
    prefix: &str,
) -> CheckReport {
    let mut checks = Vec::with_capacity(TOTAL_CHECKS);
    let mut audit_items = Vec::new();
    let mut version = None;
    let mut error = None;
    let mut cleanup_error = None;

    let started = Instant::now();
    match connect(target, connect_timeout).await {
        Err(reason) => {
            let reason = target.scrub(reason);
            checks.push(result(0, Err(reason.clone())));
            for i in 1..TOTAL_CHECKS {
                checks.push(result(i, Err("skipped: not connected".into())));
            }
            error = Some(format!("cannot connect to {}: {reason}", target.redacted));
        }
        Ok(mut con) => {
            let detail = format!(
                "Successfully connected to Redis ({} ms)",
                millis(started.elapsed())
            );
            checks.push(result(0, Ok(detail)));
            let steps = [
                ping(&mut con).await,
                set_get(&mut con, prefix).await,
                ttl_expiry(&mut con, prefix).await,
                del(&mut con, prefix).await,
                pattern_delete(&mut con, prefix).await,
                pipeline(&mut con, prefix).await,
            ];
            for (i, step) in steps.into_iter().enumerate() {
                checks.push(result(i + 1, step.map_err(|e| target.scrub(e))));
            }
            let info = info(&mut con).await;
            if let Ok(info) = &info {
                version = info.get("redis_version");
            }
            let info_step = match &info {
                Ok(info) => describe_info(info),
                Err(e) => Err(e.clone()),
            };
            checks.push(result(7, info_step.map_err(|e| target.scrub(e))));
            audit_items = audit::run(target, &mut con, info.as_ref().ok()).await;
            if let Err(e) = cleanup(&mut con, prefix).await {
                cleanup_error = Some(target.scrub(format!(
                    "could not remove keys under {prefix} (they expire within {KEY_TTL_SECS} s): {e}"
                )));
            }
        }
    }
    let passed = checks.iter().filter(|c| c.passed).count();
    CheckReport {
        target: TargetInfo {
            url: target.redacted.clone(),
            version,
            provider: target.provider,
        },
        checks,
        audit: audit_items,
        summary: Summary {
            total: TOTAL_CHECKS,
            passed,
            failed: TOTAL_CHECKS - passed,
        },
        cleanup_error,
        error,
    }
}

fn result(index: usize, step: Step) -> CheckResult {
    let (passed, detail) = match step {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    CheckResult {
        name: NAMES[index],
        passed,
        detail,
    }
}

/// Largest reply `check` accepts: its INFO and CONFIG replies are kilobytes.
const CHECK_MAX_REPLY_BYTES: u64 = 16 << 20;

/// Check 1. The TCP connect gets the (long, configurable) connect timeout; the Redis
/// handshake and a ready-check PING get the short response timeout, so a port that accepts
/// but never speaks Redis fails in seconds. The PING is what ioredis's ready check does:
/// without it a missing password would only show up in check 2.
async fn connect(
    target: &Target,
    connect_timeout: Duration,
) -> Result<MultiplexedConnection, String> {
    let addr = (target.host.as_str(), target.port);
    let started = Instant::now();
    match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(format!(
                "connect timed out after {} ms",
                millis(connect_timeout)
            ))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err("connection refused (is Redis running on that host and port?)".into())
        }
        Ok(Err(e)) => return Err(format!("cannot reach {}:{}: {e}", target.host, target.port)),
        Ok(Ok(_probe)) => {}
    }
    // Allow the handshake a few round trips on top of the response timeout (TLS needs two).
    let handshake = RESPONSE_TIMEOUT + started.elapsed() * 4;
    if target.tls {
        crate::server::install_crypto_provider();
    }
    // Opened through the cache layer's connector, so no reply (INFO, CONFIG GET, a value)
    // can grow past the cap whatever the peer sends.
    let mut config = crate::cache::RedisConfig::new(target.url.clone());
    config.connect_timeout = handshake;
    config.max_reply_bytes = CHECK_MAX_REPLY_BYTES;
    let connector = crate::cache::link::Connector::new(&config)
        .map_err(|e| e.to_string())?
        .with_response_timeout(RESPONSE_TIMEOUT);
    let connecting = connector.open();
    let mut con = match tokio::time::timeout(handshake + RESPONSE_TIMEOUT, connecting).await {
        Ok(Ok(link)) => link.conn,
        Ok(Err(e)) => return Err(describe_connect_error(&e, target, handshake)),
        Err(_) => return Err(no_reply(target, handshake)),
    };
    match redis::cmd("PING").query_async::<String>(&mut con).await {
        Ok(_) => Ok(con),
        Err(e) => Err(describe_connect_error(&e, target, RESPONSE_TIMEOUT)),
    }
}

fn no_reply(target: &Target, waited: Duration) -> String {
    let hint = if target.tls {
        "is the port serving TLS?"
    } else {
        "is it a Redis server? does it expect TLS (rediss://)?"
    };
    format!(
        "no reply to the Redis handshake within {:.1} s ({hint})",
        waited.as_secs_f64()
    )
}

/// One line saying what went wrong while connecting, with a hint to fix it.
fn describe_connect_error(e: &RedisError, target: &Target, waited: Duration) -> String {
    let code = e.code().unwrap_or("");
    let text = e.to_string();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(code, "NOAUTH" | "WRONGPASS")
        || text.contains("AUTH")
    {
        let hint = if target.has_password {
            "check the password in the URL or REDIS_PASSWORD"
        } else {
            "the server requires a password: put it in the URL or REDIS_PASSWORD"
        };
        return format!("authentication failed: {} ({hint})", one_line(&text));
    }
    if e.is_timeout() {
        return no_reply(target, waited);
    }
    if e.kind() == redis::ErrorKind::Parse {
        return "the server does not speak the Redis protocol (unexpected reply; wrong port?)"
            .into();
    }
    if e.is_connection_dropped() || e.is_io_error() {
        let hint = if target.tls {
            "TLS handshake or connection failed"
        } else {
            "closed by the server; not Redis, or it expects TLS (rediss://)?"
        };
        return format!("connection failed: {} ({hint})", one_line(&text));
    }
    one_line(&text)
}

/// A redis error's message on one line.
pub(super) fn one_line_error(e: &RedisError) -> String {
    one_line(&e.to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Any redis error as a one-line failure detail.
fn fail(what: &str, e: RedisError) -> String {
    format!("{what}: {}", one_line(&e.to_string()))
}

/// Check 2.
async fn ping(con: &mut MultiplexedConnection) -> Step {
    let reply: String = redis::cmd("PING")
        .query_async(con)
        .await
        .map_err(|e| fail("PING failed", e))?;
    match reply.as_str() {
        "PONG" => Ok(format!("PING successful: {reply}")),
        other => Err(format!("PING returned {other:?}, expected PONG")),
    }
}

/// Check 3: a JSON value like the cache layer stores, read back byte for byte.
async fn set_get(con: &mut MultiplexedConnection, prefix: &str) -> Step {
    let key = format!("{prefix}setget");
    let value = format!(
        r#"{{"test":true,"timestamp":"{}"}}"#,
        chrono::Utc::now().to_rfc3339()
    );
    redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .arg("EX")
        .arg(KEY_TTL_SECS)
        .exec_async(con)
        .await
        .map_err(|e| fail("SET failed", e))?;
    let read: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(con)
        .await
        .map_err(|e| fail("GET failed", e))?;
    match read {
        Some(read) if read == value => Ok(format!("SET/GET round trip OK ({} bytes)", value.len())),
        Some(_) => Err("GET returned a different value than was SET".into()),
        None => Err("GET returned nothing right after SET".into()),
    }
}

/// Check 4: SET EX 1, TTL must be positive, then the key must disappear within 3 s.
async fn ttl_expiry(con: &mut MultiplexedConnection, prefix: &str) -> Step {
    let key = format!("{prefix}ttl");
    let set_at = Instant::now();
    redis::cmd("SET")
        .arg(&key)
        .arg("expires")
        .arg("EX")
        .arg(1)
        .exec_async(con)
        .await
        .map_err(|e| fail("SET EX failed", e))?;
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(con)
        .await
        .map_err(|e| fail("TTL failed", e))?;
    if ttl <= 0 {
        return Err(format!(
            "TTL returned {ttl} right after SET EX 1, expected 1"
        ));
    }
    let deadline = set_at + EXPIRY_DEADLINE;
    loop {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(con)
            .await
            .map_err(|e| fail("EXISTS failed", e))?;
        if exists == 0 {
            let after = set_at.elapsed().as_secs_f64();
            return Ok(format!("TTL was {ttl} s; key expired after {after:.1} s"));
        }
        if remaining(deadline).is_zero() {
            return Err(format!(
                "key with a 1 s TTL still exists after {} s",
                EXPIRY_DEADLINE.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50).min(remaining(deadline))).await;
    }
}

/// Check 5.
async fn del(con: &mut MultiplexedConnection, prefix: &str) -> Step {
    let key = format!("{prefix}del");
    redis::cmd("SET")
        .arg(&key)
        .arg("gone soon")
        .arg("EX")
        .arg(KEY_TTL_SECS)
        .exec_async(con)
        .await
        .map_err(|e| fail("SET failed", e))?;
    let removed: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(con)
        .await
        .map_err(|e| fail("DEL failed", e))?;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(con)
        .await
        .map_err(|e| fail("EXISTS failed", e))?;
    match (removed, exists) {
        (1, 0) => Ok("DEL removed the key".into()),
        _ => Err(format!(
            "DEL returned {removed}, key exists afterwards: {}",
            exists != 0
        )),
    }
}

/// Check 6: the cache layer's pattern invalidation — SCAN MATCH + UNLINK, never KEYS — and
/// it must not touch a neighbouring key outside the pattern.
async fn pattern_delete(con: &mut MultiplexedConnection, prefix: &str) -> Step {
    let pattern = format!("{}pattern:*", sweep::escape_glob(prefix));
    let bystander = format!("{prefix}bystander");
    let mut pipe = redis::pipe();
    for i in 0..PATTERN_KEYS {
        pipe.cmd("SET")
            .arg(format!("{prefix}pattern:{i}"))
            .arg(i)
            .arg("EX")
            .arg(KEY_TTL_SECS)
            .ignore();
    }
    pipe.cmd("SET")
        .arg(&bystander)
        .arg("stays")
        .arg("EX")
        .arg(KEY_TTL_SECS)
        .ignore();
    pipe.exec_async(con)
        .await
        .map_err(|e| fail("writing the keys failed", e))?;
    let removed = delete_matching(con, &pattern)
        .await
        .map_err(|e| format!("SCAN + UNLINK failed: {e}"))?;
    let left = count_matching(con, &pattern)
        .await
        .map_err(|e| format!("SCAN failed: {e}"))?;
    let bystander_kept: i64 = redis::cmd("EXISTS")
        .arg(&bystander)
        .query_async(con)
        .await
        .map_err(|e| fail("EXISTS failed", e))?;
    if left != 0 {
        return Err(format!(
            "{left} keys matching {pattern} remain after UNLINK"
        ));
    }
    if removed != PATTERN_KEYS {
        return Err(format!("removed {removed} keys, expected {PATTERN_KEYS}"));
    }
    if bystander_kept != 1 {
        return Err("a key outside the pattern was deleted too".into());
    }
    Ok(format!(
        "deleted {removed} keys matching {pattern} with SCAN + UNLINK"
    ))
}

/// Check 7: several commands in one round trip, results in order.
async fn pipeline(con: &mut MultiplexedConnection, prefix: &str) -> Step {
    let (a, b, counter) = (
        format!("{prefix}pipe:a"),
        format!("{prefix}pipe:b"),
        format!("{prefix}pipe:n"),
    );
    let started = Instant::now();
    let (values, count): (Vec<Option<String>>, i64) = redis::pipe()
        .cmd("SET")
        .arg(&a)
        .arg("1")
        .arg("EX")
        .arg(KEY_TTL_SECS)
        .ignore()
        .cmd("SET")
        .arg(&b)
        .arg("2")
        .arg("EX")
        .arg(KEY_TTL_SECS)
        .ignore()
        .cmd("INCRBY")
        .arg(&counter)
        .arg(5)
        .ignore()
        .cmd("EXPIRE")
        .arg(&counter)
        .arg(KEY_TTL_SECS)
        .ignore()
        .cmd("MGET")
        .arg(&a)
        .arg(&b)
        .cmd("GET")
        .arg(&counter)
        .query_async(con)
        .await
        .map_err(|e| fail("pipeline failed", e))?;
    let elapsed = started.elapsed();
    if values != [Some("1".to_string()), Some("2".to_string())] || count != 5 {
        return Err(format!(
            "pipeline returned {values:?} and {count}, expected [1, 2] and 5"
        ));
    }
    Ok(format!(
        "6 commands in one round trip ({} ms)",
        millis(elapsed)
    ))
}

/// Check 8's query; its fields also feed the audit.
async fn info(con: &mut MultiplexedConnection) -> Result<InfoDict, String> {
    redis::cmd("INFO")
        .query_async(con)
        .await
        .map_err(|e| fail("INFO failed", e))
}

fn describe_info(info: &InfoDict) -> Step {
    let version: String = info
        .get("redis_version")
        .ok_or("INFO has no redis_version")?;
    let used: u64 = info.get("used_memory").ok_or("INFO has no used_memory")?;
    let human: String = info
        .get("used_memory_human")
        .unwrap_or_else(|| "?".to_string());
    Ok(format!(
        "Redis {version}, used_memory {human} ({used} bytes)"
    ))
}

/// Removes every key the checks wrote.
async fn cleanup(con: &mut MultiplexedConnection, prefix: &str) -> Result<u64, String> {
    delete_matching(con, &sweep::match_pattern(prefix)).await
}

/// SCAN MATCH + UNLINK (see [`sweep`]) within [`SCAN_DEADLINE`]; how many keys were removed.
async fn delete_matching(con: &mut MultiplexedConnection, pattern: &str) -> Result<u64, String> {
    let mut con = sweep::Timed::new(con, SCAN_DEADLINE);
    bounded(sweep::unlink_matching(
        &mut con,
        pattern,
        sweep::DEFAULT_BATCH,
    ))
    .await
}

/// How many keys match `pattern`, within [`SCAN_DEADLINE`].
async fn count_matching(con: &mut MultiplexedConnection, pattern: &str) -> Result<u64, String> {
    let mut con = sweep::Timed::new(con, SCAN_DEADLINE);
    bounded(sweep::count_matching(&mut con, pattern)).await
}

async fn bounded(
    walk: impl std::future::Future<Output = Result<u64, crate::cache::OpError>>,
) -> Result<u64, String> {
    match tokio::time::timeout(SCAN_DEADLINE, walk).await {
        Ok(r) => r.map_err(|e| one_line(&e.to_string())),
        Err(_) => Err(format!(
            "SCAN did not finish within {} s (very large keyspace)",
            SCAN_DEADLINE.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_described_with_version_and_memory() {
        let info = InfoDict::new("# Server\r\nredis_version:7.0.15\r\n# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n");
        assert_eq!(
            describe_info(&info).unwrap(),
            "Redis 7.0.15, used_memory 1.00K (1024 bytes)"
        );
        assert!(describe_info(&InfoDict::new("# Server\r\n")).is_err());
    }

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line("a\n b\t c "), "a b c");
    }
}
