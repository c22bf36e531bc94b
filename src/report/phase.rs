//! The phases of a run, named in reports of interrupted runs (`aborted_in`), and what became
//! of the keys the run wrote ([`Cleanup`]), with the command that removes any left behind.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phase of a run, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Starting the embedded `redis-server`.
    StartingServer,
    /// Connecting to Redis (retries included).
    Connecting,
    /// Writing every key once before the load (`load.preload`).
    Preload,
    /// Waiting for the other generators of a sharded run, or for `--start-at`.
    Waiting,
    /// The load's warmup, not measured.
    Warmup,
    /// The measured load.
    Measured,
    /// Removing the run's keys.
    Cleanup,
}

impl Phase {
    /// Logs the start of this phase (at info level: `RUST_LOG=redline=info` shows it), so
    /// people and tests watching a run can tell where it is.
    pub fn enter(self) {
        tracing::info!("phase: {}", self.name());
    }

    /// The name used in report.json.
    pub fn name(self) -> &'static str {
        match self {
            Phase::StartingServer => "starting_server",
            Phase::Connecting => "connecting",
            Phase::Preload => "preload",
            Phase::Waiting => "waiting",
            Phase::Warmup => "warmup",
            Phase::Measured => "measured",
            Phase::Cleanup => "cleanup",
        }
    }
}

/// " during preload" for a run interrupted in a known phase, "" otherwise.
pub fn during(phase: Option<Phase>) -> String {
    phase.map(|p| format!(" during {p}")).unwrap_or_default()
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::StartingServer => "starting the embedded server",
            Phase::Connecting => "connecting",
            Phase::Preload => "preload",
            Phase::Waiting => "the wait for the start",
            Phase::Warmup => "warmup",
            Phase::Measured => "the measured phase",
            Phase::Cleanup => "cleanup",
        })
    }
}

/// What became of the run's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupOutcome {
    /// Every key under the prefix was removed.
    Removed,
    /// `--keep-keys`: left on purpose.
    Kept,
    /// A second signal skipped the cleanup.
    Skipped,
    /// Redis could not be reached (after reconnecting) or refused; keys may be left.
    Failed,
    /// Another generator of a sharded run (shard 0) removes the keys once every shard is
    /// done.
    OtherShard,
}

/// The run's keys at the end: under which prefix they lived and whether they are gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cleanup {
    /// The full key prefix the run wrote under (`REDIS_KEY_PREFIX`, `keyspace.prefix`, run id).
    pub prefix: String,
    /// Removed, kept, skipped or failed.
    pub outcome: CleanupOutcome,
    /// Keys the cleanup removed.
    pub removed: u64,
    /// Why keys may be left (for skipped and failed).
    pub reason: Option<String>,
    /// The command that removes what is left (password redacted), when keys may be left.
    pub remove_with: Option<String>,
}

impl Cleanup {
    /// True when keys may still be on the server.
    pub fn keys_left(&self) -> bool {
        !matches!(
            self.outcome,
            CleanupOutcome::Removed | CleanupOutcome::OtherShard
        )
    }

    /// The command that removes every key under `prefix` on the server at `redacted_url`.
    pub fn command(redacted_url: &str, prefix: &str) -> String {
        format!(
            "redline clean --redis {} {}",
            shell_quote(redacted_url),
            shell_quote(prefix)
        )
    }

    /// One sentence for people: where the keys are and how to remove them.
    pub fn sentence(&self) -> Option<String> {
        let why = match self.outcome {
            CleanupOutcome::Removed => return None,
            CleanupOutcome::OtherShard => {
                return Some(format!(
                    "keys under `{}` are removed by shard 0 once every shard is done",
                    self.prefix
                ))
            }
            CleanupOutcome::Kept => "kept (--keep-keys)".to_string(),
            CleanupOutcome::Skipped | CleanupOutcome::Failed => format!(
                "left behind: {}",
                self.reason.as_deref().unwrap_or("cleanup did not run")
            ),
        };
        let mut s = format!("keys under `{}` {why}", self.prefix);
        if let Some(cmd) = &self.remove_with {
            s.push_str(&format!("; remove them with: {cmd}"));
        }
        Some(s)
    }
}

/// `text` quoted for a POSIX shell when it holds anything but plain characters.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_serialize_by_name() {
        for p in [
            Phase::StartingServer,
            Phase::Connecting,
            Phase::Preload,
            Phase::Waiting,
            Phase::Warmup,
            Phase::Measured,
            Phase::Cleanup,
        ] {
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json, p.name());
        }
    }

    #[test]
    fn the_command_quotes_what_a_shell_would_misread() {
        assert_eq!(
            Cleanup::command("redis://127.0.0.1:6379", "redline:1a2b:"),
            "redline clean --redis redis://127.0.0.1:6379 redline:1a2b:"
        );
        assert_eq!(
            Cleanup::command("redis://:***@h:1", "it's me:"),
            "redline clean --redis 'redis://:***@h:1' 'it'\\''s me:'"
        );
    }

    #[test]
    fn a_failed_cleanup_names_the_prefix_and_the_command() {
        let c = Cleanup {
            prefix: "redline:1a2b:".into(),
            outcome: CleanupOutcome::Failed,
            removed: 0,
            reason: Some("connection refused".into()),
            remove_with: Some(Cleanup::command("redis://h:1", "redline:1a2b:")),
        };
        let s = c.sentence().unwrap();
        assert!(s.contains("redline:1a2b:") && s.contains("connection refused"));
        assert!(
            s.contains("redline clean --redis redis://h:1 redline:1a2b:"),
            "{s}"
        );
        assert!(c.keys_left());
    }
}
