//! Talking to a freshly spawned server: the readiness probe (PING, with AUTH and TLS as
//! configured) and reading the tail of its log for error messages.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use super::ServerOptions;

/// How long one probe attempt may take; the caller retries until its own deadline.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Outcome of one probe attempt against the server.
pub(crate) enum Probe {
    /// PING answered and INFO said the server has this pid and version.
    Ready { pid: u32, version: String },
    /// Not answering (yet): nothing listening, handshake failed, timeout.
    NotYet(String),
}

/// Builds a client for the server's URL, with the test CA as the only TLS root when the
/// server speaks TLS.
pub(crate) fn client(
    url: &str,
    opts: &ServerOptions,
    ca_pem: Option<&[u8]>,
) -> redis::RedisResult<redis::Client> {
    match (&opts.tls, ca_pem) {
        (Some(_), Some(ca)) => {
            super::install_crypto_provider();
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.to_vec()),
                },
            )
        }
        _ => redis::Client::open(url),
    }
}

/// One readiness attempt: connect, PING, then INFO server for the pid (so we know the
/// answer came from *our* process and not from whoever else holds the port) and version.
pub(crate) fn probe(client: &redis::Client) -> Probe {
    let attempt = || -> redis::RedisResult<(u32, String)> {
        let mut con = client.get_connection_with_timeout(PROBE_TIMEOUT)?;
        con.set_read_timeout(Some(PROBE_TIMEOUT))?;
        con.set_write_timeout(Some(PROBE_TIMEOUT))?;
        let _: String = redis::cmd("PING").query(&mut con)?;
        let info: redis::InfoDict = redis::cmd("INFO").arg("server").query(&mut con)?;
        let pid = info.get("process_id").unwrap_or(0);
        let version = info
            .get("redis_version")
            .unwrap_or_else(|| "unknown".to_string());
        Ok((pid, version))
    };
    match attempt() {
        Ok((pid, version)) => Probe::Ready { pid, version },
        Err(e) => Probe::NotYet(e.to_string()),
    }
}

/// The last `max_lines` lines of the log written since byte `from` (this start's output).
pub(crate) fn log_tail(path: &Path, from: u64, max_lines: usize) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        // Cap what we read: a runaway log must not eat memory in an error path.
        f.take(1 << 20).read_to_string(&mut text)
    });
    if let Err(e) = read {
        return format!("(log unavailable: {e})");
    }
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(it logged nothing)".to_string();
    }
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_reads_only_this_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "old 1\nold 2\nnew 1\nnew 2\nnew 3\n").unwrap();
        assert_eq!(log_tail(&path, 12, 2), "new 2\nnew 3");
        assert_eq!(log_tail(&path, 12, 10), "new 1\nnew 2\nnew 3");
        assert!(log_tail(&dir.path().join("nope"), 0, 2).contains("unavailable"));
        assert_eq!(log_tail(&path, 1000, 2), "(it logged nothing)");
    }
}
