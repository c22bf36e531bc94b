//! `OpError`: why one cache operation failed, classified so that the breaker can tell "the
//! server is unwell" from "the caller made a mistake", and the reporter can count by kind.

use crate::op::ErrorKind;
use std::fmt;

/// A failed cache operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpError {
    /// No reply within the response timeout.
    #[error("timed out after {0:?} waiting for Redis")]
    Timeout(std::time::Duration),
    /// The connection could not be made or was lost.
    #[error("connection to Redis failed: {0}")]
    Connection(String),
    /// Redis answered with an error reply, e.g. `OOM ...` or `WRONGTYPE ...`.
    #[error("Redis replied with an error: {code}{}", detail_suffix(.detail))]
    Server {
        /// The reply's first word (OOM, LOADING, WRONGTYPE, ...).
        code: String,
        /// The rest of the reply.
        detail: String,
    },
    /// The reply could not be understood: the peer is not Redis, or a value is corrupt.
    #[error("unexpected reply: {0}")]
    Protocol(String),
    /// The circuit breaker is open and the fallback could not serve the call.
    #[error("circuit breaker is OPEN; failing fast")]
    BreakerOpen,
    /// A value could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(String),
    /// A value does not fit in the in-memory fallback's byte bound.
    #[error("value of {size} bytes is larger than the fallback's bound of {bound} bytes")]
    TooLarge { size: u64, bound: u64 },
    /// The loader of `get_or_set` (the origin) failed.
    #[error("loader failed: {0}")]
    Loader(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" {detail}")
    }
}

/// Server error codes that mean the server itself is unwell: they count against the breaker.
const UNWELL_CODES: [&str; 7] = [
    "OOM",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
];

impl OpError {
    /// True when this failure says the server is unwell and so counts against the breaker.
    /// Caller mistakes (WRONGTYPE, syntax errors) and codec/loader errors do not.
    pub fn is_breaker_failure(&self) -> bool {
        match self {
            OpError::Timeout(_) | OpError::Connection(_) | OpError::Protocol(_) => true,
            OpError::Server { code, .. } => UNWELL_CODES.contains(&code.as_str()),
            OpError::BreakerOpen
            | OpError::Codec(_)
            | OpError::TooLarge { .. }
            | OpError::Loader(_) => false,
        }
    }

    /// True when the fallback should answer instead: Redis is unwell or the breaker refused
    /// the call. Caller mistakes (WRONGTYPE, codec errors) are returned as they are.
    pub fn wants_fallback(&self) -> bool {
        self.is_breaker_failure() || matches!(self, OpError::BreakerOpen)
    }

    /// True when this is a failure of Redis itself (or the breaker's refusal to ask it),
    /// as opposed to the codec, the fallback's bound or the origin.
    pub fn is_redis_failure(&self) -> bool {
        matches!(
            self,
            OpError::Timeout(_)
                | OpError::Connection(_)
                | OpError::Server { .. }
                | OpError::Protocol(_)
                | OpError::BreakerOpen
        )
    }

    /// The reporting bucket for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpError::Timeout(_) => ErrorKind::Timeout,
            OpError::Connection(_) => ErrorKind::Connection,
            OpError::Server { .. } => ErrorKind::ServerReply,
            OpError::Protocol(_) | OpError::Codec(_) | OpError::TooLarge { .. } => {
                ErrorKind::Protocol
            }
            OpError::BreakerOpen => ErrorKind::BreakerRejected,
            OpError::Loader(_) => ErrorKind::Origin,
        }
    }

    /// Classifies an error from the redis crate. `timeout` is the configured response
    /// timeout, reported in the message.
    pub fn from_redis(err: &redis::RedisError, timeout: std::time::Duration) -> OpError {
        if err.is_timeout() {
            return OpError::Timeout(timeout);
        }
        if let (Some(code), false) = (err.code(), err.is_io_error()) {
            return OpError::Server {
                code: code.to_string(),
                detail: err.detail().unwrap_or("").to_string(),
            };
        }
        if err.is_io_error()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || err.kind() == redis::ErrorKind::AuthenticationFailed
        {
            return OpError::Connection(Redacted(err).to_string());
        }
        OpError::Protocol(Redacted(err).to_string())
    }
}

/// Displays a redis error. The redis crate never echoes AUTH arguments, but URLs can appear
/// in its messages; those are printed without userinfo.
struct Redacted<'a>(&'a redis::RedisError);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        f.write_str(&crate::cache::config::redact_text(&text))
    }
}
