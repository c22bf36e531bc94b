//! The production-readiness audit: the guide's "Security Best Practices" and "Migration
//! Checklist" items that can be read off a live server. Read-only: it uses INFO, CONFIG
//! GET and COMMAND INFO, never the commands it asks about.

use std::net::IpAddr;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use super::steps::one_line_error;
use super::{AuditItem, AuditStatus, Target, RESPONSE_TIMEOUT};
use crate::target::info::InfoDict;

/// Commands the guide says to rename or disable.
const DANGEROUS: [&str; 4] = ["FLUSHDB", "FLUSHALL", "KEYS", "CONFIG"];

/// Runs every audit item. `info` is the INFO check 8 fetched, if it did.
pub(super) async fn run(
    target: &Target,
    con: &mut MultiplexedConnection,
    info: Option<&InfoDict>,
) -> Vec<AuditItem> {
    let mut items = vec![
        authentication(target).await,
        persistence(con, info).await,
        maxmemory(con, info).await,
        tls(target),
        dangerous_commands(con).await,
    ];
    for item in &mut items {
        item.detail = target.scrub(std::mem::take(&mut item.detail));
    }
    items
}

fn item(name: &'static str, status: AuditStatus, detail: impl Into<String>) -> AuditItem {
    AuditItem {
        name,
        status,
        detail: detail.into(),
    }
}

/// A fresh connection without credentials must be refused with NOAUTH.
async fn authentication(target: &Target) -> AuditItem {
    const NAME: &str = "authentication";
    let probe = async {
        let client = redis::Client::open(target.anonymous_url.as_str())?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut con = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING").query_async::<String>(&mut con).await
    };
    match tokio::time::timeout(RESPONSE_TIMEOUT * 3, probe).await {
        Ok(Ok(_)) => item(
            NAME,
            AuditStatus::Warn,
            "the server answers clients without a password: set requirepass (or ACL users)",
        ),
        Ok(Err(e)) if e.code() == Some("NOAUTH") => item(
            NAME,
            AuditStatus::Pass,
            "password required: an unauthenticated client gets NOAUTH",
        ),
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => one_line_error(&e),
                _ => "timed out".to_string(),
            };
            if target.has_password {
                item(
                    NAME,
                    AuditStatus::Pass,
                    format!("a password is configured (unauthenticated probe inconclusive: {why})"),
                )
            } else {
                item(
                    NAME,
                    AuditStatus::Warn,
                    format!("unknown: unauthenticated probe failed: {why}"),
                )
            }
        }
    }
}

/// RDB save points or AOF must be on (Migration Checklist: "Persistence enabled").
async fn persistence(con: &mut MultiplexedConnection, info: Option<&InfoDict>) -> AuditItem {
    const NAME: &str = "persistence";
    let aof_from_info = info
        .and_then(|i| i.get::<u64>("aof_enabled"))
        .map(|v| v == 1);
    let save = config_get(con, "save").await;
    let appendonly = config_get(con, "appendonly").await;
    match (save, appendonly) {
        (Ok(save), Ok(appendonly)) => {
            let rdb = !save.trim().is_empty();
            let aof = appendonly == "yes";
            let mut on = Vec::new();
            if rdb {
                on.push(format!("RDB (save {save})"));
            }
            if aof {
                on.push("AOF".to_string());
            }
            if on.is_empty() {
                item(
                    NAME,
                    AuditStatus::Warn,
                    "off: data is lost on restart (enable RDB save points or appendonly yes)",
                )
            } else {
                item(NAME, AuditStatus::Pass, format!("on: {}", on.join(" + ")))
            }
        }
        (Err(why), _) | (_, Err(why)) => match aof_from_info {
            Some(true) => item(
                NAME,
                AuditStatus::Pass,
                format!("AOF on (from INFO; {why})"),
            ),
            _ => item(NAME, AuditStatus::Warn, format!("unknown: {why}")),
        },
    }
}

/// maxmemory must be set with allkeys-lru (the guide's eviction recommendation). INFO
/// carries both, so this works even when CONFIG is disabled.
async fn maxmemory(con: &mut MultiplexedConnection, info: Option<&InfoDict>) -> AuditItem {
    const NAME: &str = "maxmemory";
    let from_info = info.and_then(|i| {
        let bytes = i.get::<u64>("maxmemory")?;
        Some((bytes, i.get::<String>("maxmemory_policy")?))
    });
    let (bytes, policy) = match from_info {
        Some(found) => found,
        None => {
            let bytes = config_get(con, "maxmemory").await;
            let policy = config_get(con, "maxmemory-policy").await;
            match (bytes, policy) {
                (Ok(b), Ok(p)) => (b.parse().unwrap_or(0), p),
                (Err(why), _) | (_, Err(why)) => {
                    return item(NAME, AuditStatus::Warn, format!("unknown: {why}"))
                }
            }
        }
    };
    match (bytes, policy.as_str()) {
        (0, _) => item(
            NAME,
            AuditStatus::Warn,
            format!("no maxmemory limit (policy {policy}): set maxmemory and maxmemory-policy allkeys-lru"),
        ),
        (_, "allkeys-lru") => item(
            NAME,
            AuditStatus::Pass,
            format!("maxmemory {bytes} bytes with allkeys-lru"),
        ),
        _ => item(
            NAME,
            AuditStatus::Warn,
            format!("maxmemory {bytes} bytes with policy {policy}: the guide recommends allkeys-lru"),
        ),
    }
}

/// Plaintext is fine on loopback only.
fn tls(target: &Target) -> AuditItem {
    const NAME: &str = "tls";
    if target.tls {
        return item(NAME, AuditStatus::Pass, "TLS in use (rediss://)");
    }
    let loopback = target.host.eq_ignore_ascii_case("localhost")
        || target
            .host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        item(
            NAME,
            AuditStatus::Pass,
            format!("plaintext to loopback host {}", target.host),
        )
    } else {
        item(
            NAME,
            AuditStatus::Warn,
            format!(
                "plaintext to {}: use rediss:// or REDIS_TLS_ENABLED=true",
                target.host
            ),
        )
    }
}

/// FLUSHDB, FLUSHALL, KEYS and CONFIG should be renamed away; COMMAND INFO answers nil for
/// a command that does not exist under its own name.
async fn dangerous_commands(con: &mut MultiplexedConnection) -> AuditItem {
    const NAME: &str = "dangerous commands";
    let reply: Result<Vec<redis::Value>, _> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(&DANGEROUS[..])
        .query_async(con)
        .await;
    match reply {
        Err(e) => item(
            NAME,
            AuditStatus::Warn,
            format!("unknown: COMMAND INFO failed: {}", one_line_error(&e)),
        ),
        Ok(entries) => {
            let enabled: Vec<&str> = DANGEROUS
                .iter()
                .zip(
                    entries
                        .iter()
                        .map(|v| !matches!(v, redis::Value::Nil))
                        .chain(std::iter::repeat(true)),
                )
                .filter_map(|(name, present)| present.then_some(*name))
                .collect();
            if enabled.is_empty() {
                item(
                    NAME,
                    AuditStatus::Pass,
                    "FLUSHDB, FLUSHALL, KEYS and CONFIG are renamed or disabled",
                )
            } else {
                item(
                    NAME,
                    AuditStatus::Warn,
                    format!(
                        "still enabled: {} (rename-command them to \"\")",
                        enabled.join(", ")
                    ),
                )
            }
        }
    }
}

/// CONFIG GET one parameter; the error names why CONFIG could not be used.
async fn config_get(con: &mut MultiplexedConnection, name: &str) -> Result<String, String> {
    let reply: Result<Vec<String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(con)
        .await;
    match reply {
        Ok(pair) => Ok(pair.get(1).cloned().unwrap_or_default()),
        Err(e) if e.code() == Some("NOPERM") => Err("CONFIG not permitted for this user".into()),
        Err(e) if one_line_error(&e).contains("unknown command") => Err("CONFIG disabled".into()),
        Err(e) => Err(format!("CONFIG GET failed: {}", one_line_error(&e))),
    }
}
