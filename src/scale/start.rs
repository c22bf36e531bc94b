//! `--start-at TIME`: the wall-clock instant a run's load starts, so that generators on
//! several machines start on the same second and their per-second series line up. TIME is
//! RFC 3339 (`2030-01-02T03:04:05Z`) or unix seconds (`1893553445`); a time more than
//! [`MAX_PAST`] ago or more than [`MAX_AHEAD`] ahead is refused (a stale manifest or a
//! typo, not a plan).

use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

/// How far in the past a start may lie: a generator a few seconds late still joins (it
/// starts at once); one minutes late would measure another run's tail.
pub const MAX_PAST: Duration = Duration::from_secs(60);
/// How far ahead a start may lie.
pub const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// A `--start-at` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Parses and checks `text` against `now`.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, StartError> {
    let text = text.trim();
    let at = if let Ok(secs) = text.parse::<i64>() {
        Utc.timestamp_opt(secs, 0).single()
    } else {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
    .ok_or_else(|| {
        StartError(format!(
            "--start-at must be RFC 3339 (e.g. 2030-01-02T03:04:05Z) or unix seconds \
             (got {text:?})"
        ))
    })?;
    let past = chrono::Duration::from_std(MAX_PAST).unwrap_or_default();
    let ahead = chrono::Duration::from_std(MAX_AHEAD).unwrap_or_default();
    if at < now - past {
        return Err(StartError(format!(
            "--start-at {} is {} s in the past (at most {} s is allowed): give a time to come",
            at.to_rfc3339(),
            (now - at).num_seconds(),
            MAX_PAST.as_secs()
        )));
    }
    if at > now + ahead {
        return Err(StartError(format!(
            "--start-at {} is more than {} h ahead",
            at.to_rfc3339(),
            MAX_AHEAD.as_secs() / 3600
        )));
    }
    Ok(at)
}

/// How long from `now` until `at` (zero when it has passed).
pub fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000, 0).single().expect("valid")
    }

    #[test]
    fn rfc3339_and_unix_seconds_name_the_same_instant() {
        let a = parse("1900000030", now()).expect("unix");
        let b = parse("2030-03-17T17:47:10Z", now()).expect("rfc3339");
        assert_eq!(a, b);
        let c = parse("2030-03-17T19:47:10+02:00", now()).expect("offset");
        assert_eq!(a, c);
        assert_eq!(until(a, now()), Duration::from_secs(30));
        assert_eq!(until(now(), a), Duration::ZERO);
    }

    #[test]
    fn garbage_and_far_times_are_refused_with_the_reason() {
        let e = parse("tomorrow", now()).unwrap_err();
        assert!(e.0.contains("RFC 3339"), "{e}");
        let e = parse("1899999000", now()).unwrap_err();
        assert!(e.0.contains("in the past"), "{e}");
        let e = parse("1999999999", now()).unwrap_err();
        assert!(e.0.contains("ahead"), "{e}");
        assert!(
            parse("1899999990", now()).is_ok(),
            "ten seconds late still joins"
        );
    }
}
