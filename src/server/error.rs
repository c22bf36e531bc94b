//! [`ServerError`]: everything that can go wrong starting or controlling a server, with
//! variant docs saying how to fix it.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why the embedded server could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No usable `redis-server` executable. Install it or point REDLINE_REDIS_SERVER at one.
    #[error("redis-server not found {location} (set REDLINE_REDIS_SERVER or install it: apt-get install redis-server)")]
    NotInstalled {
        /// "on PATH" or "at /the/path/tried".
        location: String,
    },
    /// REDLINE_REDIS_SERVER names no executable. The user asked for that binary, so redline
    /// does not fall back to anything else: fix the path or unset the variable.
    #[error("REDLINE_REDIS_SERVER names {path}, which is not an executable redis-server: fix the path or unset it")]
    BadBinarySetting {
        /// The value of REDLINE_REDIS_SERVER.
        path: PathBuf,
    },
    /// An option cannot be expressed in redis.conf; fix the named option.
    #[error("invalid server option {name}: {reason}")]
    InvalidOption {
        /// Field of [`ServerOptions`].
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file operation failed (temp dir, config, log, TLS CA).
    #[error("{what}")]
    Io {
        /// What we were doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The executable exists but could not be run (permissions, not an executable...).
    #[error("cannot run {binary}")]
    Spawn {
        /// The executable tried.
        binary: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Every port tried was taken by another process by the time redis bound it.
    #[error("could not bind redis-server to a free port after {attempts} attempt(s) (last tried {port})")]
    PortInUse {
        /// The last port tried.
        port: u16,
        /// How many ports were tried.
        attempts: usize,
    },
    /// The process exited during startup; the log usually says why (bad config, TLS files).
    #[error("redis-server exited during startup ({status}); log tail:\n{log_tail}")]
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it logged.
        log_tail: String,
    },
    /// The process kept running but never answered PING in time.
    #[error("redis-server did not answer PING within {timeout:?} (last error: {reason}); log tail:\n{log_tail}")]
    NotReady {
        /// The deadline that passed.
        timeout: Duration,
        /// The last probe error.
        reason: String,
        /// The last lines it logged.
        log_tail: String,
    },
    /// The caller cancelled the start (a run interrupted while its server started).
    #[error("the redis-server start was cancelled")]
    Cancelled,
    /// A control operation (pause, resume) needs a running server; start or restart it.
    #[error("redis-server is not running")]
    NotRunning,
    /// Sending a signal to the process failed.
    #[error("cannot send {signal} to redis-server (pid {pid})")]
    Signal {
        /// Signal name.
        signal: &'static str,
        /// Target process.
        pid: u32,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Sentinel topology did not come up or settle (sentinels disagreeing, no replica
    /// in sync); the message says what was still missing.
    #[error("the embedded Sentinel topology {0}")]
    Topology(String),
    /// The embedded Redis Cluster did not form or settle (a node not answering, slots not
    /// served, a replica not in sync), or a request to it failed; the message says what.
    #[error("the embedded Redis Cluster {0}")]
    Cluster(String),
    /// SIGTERM did not end the process in time; it was killed instead.
    #[error("redis-server did not exit within {0:?} of SIGTERM and was killed")]
    StopTimedOut(Duration),
    /// The Docker provider failed (no engine, image pull, container start).
    #[cfg(feature = "docker")]
    #[error("docker redis: {0}")]
    Docker(String),
}

impl ServerError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ServerError::Io {
            what: what.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_installed_message_says_how_to_install() {
        let e = ServerError::NotInstalled {
            location: "on PATH".into(),
        };
        assert_eq!(
            e.to_string(),
            "redis-server not found on PATH (set REDLINE_REDIS_SERVER or install it: apt-get install redis-server)"
        );
    }
}
