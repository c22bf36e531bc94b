//! The last phase of a run: removing the keys it wrote (SCAN + UNLINK under the run's prefix,
//! see [`sweep`](crate::cache::sweep)).
//!
//! A connection loss mid-run can leave the store's connections broken even though Redis is
//! back, so a failed attempt is retried over a fresh connection, with the guide's backoff,
//! for at most [`CLEANUP_FOR`]. A second signal ends the cleanup at once. Whatever the end,
//! the result says under which prefix the keys lived and, when some may be left, the
//! command that removes them.

use crate::cache::config::retry_delay;
use crate::cache::{sweep, OpError, RedisStore};
use crate::report::summary::{Cleanup, CleanupOutcome};
use crate::shutdown::Shutdown;
use std::time::{Duration, Instant};

/// How long the cleanup keeps trying to reach Redis after a failed attempt.
pub const CLEANUP_FOR: Duration = Duration::from_secs(10);

/// Removes every key under `prefix` (taken literally) through `admin`, a connection without
/// a key prefix of its own, unless `keep`; reconnects after a failure.
pub async fn remove_run_keys(
    admin: &RedisStore,
    prefix: &str,
    keep: bool,
    shutdown: &Shutdown,
) -> Cleanup {
    let prefix = prefix.to_string();
    let remove_with = Some(Cleanup::command(&admin.config().redacted_url(), &prefix));
    let left = |outcome, reason: Option<String>| Cleanup {
        prefix: prefix.clone(),
        outcome,
        removed: 0,
        reason,
        remove_with: remove_with.clone(),
    };
    if keep {
        return left(CleanupOutcome::Kept, None);
    }
    let skipped = || {
        left(
            CleanupOutcome::Skipped,
            Some("a second signal skipped the cleanup".into()),
        )
    };
    if shutdown.is_abandoning() {
        return skipped();
    }
    let pattern = sweep::match_pattern(&prefix);
    tokio::select! {
        result = sweep_with_retries(admin, &pattern) => match result {
            Ok(removed) => Cleanup {
                prefix: prefix.clone(),
                outcome: CleanupOutcome::Removed,
                removed,
                reason: None,
                remove_with: None,
            },
            Err(e) => left(
                CleanupOutcome::Failed,
                Some(format!(
                    "could not remove them within {} s: {e}",
                    CLEANUP_FOR.as_secs()
                )),
            ),
        },
        _ = shutdown.abandoning() => skipped(),
    }
}

/// One pass over the store's own connections, then passes over fresh connections until one
/// completes or [`CLEANUP_FOR`] has passed.
async fn sweep_with_retries(store: &RedisStore, pattern: &str) -> Result<u64, OpError> {
    let mut last = match store.del_pattern(pattern, sweep::DEFAULT_BATCH).await {
        Ok(n) => return Ok(n),
        Err(e) => e,
    };
    tracing::info!("cleanup failed ({last}); retrying over a fresh connection");
    let deadline = Instant::now() + CLEANUP_FOR;
    let mut attempt = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last);
        }
        attempt += 1;
        tokio::time::sleep(retry_delay(attempt).min(left)).await;
        let mut config = store.config().clone();
        config.connections = 1;
        config.max_retries = 0;
        config.connect_timeout = config
            .connect_timeout
            .min(left.max(Duration::from_millis(100)));
        last = match RedisStore::connect(config).await {
            Ok(fresh) => match fresh.del_pattern(pattern, sweep::DEFAULT_BATCH).await {
                Ok(n) => return Ok(n),
                Err(e) => e,
            },
            Err(e) => OpError::Connection(e.to_string()),
        };
    }
}
