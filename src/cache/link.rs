//! One connection to Redis, opened by us rather than by the redis crate: TCP (and TLS for
//! `rediss://`), wrapped in a [`CappedStream`] so no reply can grow past the cap, then handed
//! to the crate's `MultiplexedConnection`, which does the handshake (AUTH, SELECT, HELLO) and
//! the multiplexing.
//!
//! For a `redis+sentinel://` URL each connection first asks the sentinels for the primary
//! ([`SentinelResolver`]), so a reconnect after a failover reaches the new primary.
//!
//! Opening connections ourselves also gives the store full control of reconnecting: a link
//! that failed is dropped and the next call opens a fresh one, so the first call after Redis
//! comes back reaches it (the crate's `ConnectionManager` kept replaying a stale
//! "Connection refused" from a reconnect that had started while Redis was down).

use super::config::{ConfigError, RedisConfig};
use super::reply_cap::{CappedStream, Violation};
use super::sentinel::SentinelResolver;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr};
use std::sync::Arc;
use std::time::Duration;

/// An open connection and what it knows about how it ended.
pub struct Link {
    /// The crate's multiplexed connection (cheap to clone; clones share the socket).
    pub conn: MultiplexedConnection,
    /// Set when the reply cap cut the connection: the failure is the peer's protocol error.
    pub violation: Violation,
    /// Behind Sentinel, the resolver's epoch when the link was opened (0 otherwise): a link
    /// from an older epoch may reach a demoted primary.
    pub epoch: u64,
}

/// Where and how to connect, resolved once from a [`RedisConfig`].
#[derive(Clone)]
pub struct Connector {
    host: String,
    port: u16,
    /// TLS settings for `rediss://`.
    tls: Option<Arc<rustls::ClientConfig>>,
    redis: redis::RedisConnectionInfo,
    /// Largest reply accepted, bytes.
    max_reply_bytes: u64,
    connect_timeout: Duration,
    /// The crate's own per-command deadline; `None` for the store, which bounds every
    /// call itself.
    response_timeout: Option<Duration>,
    /// For `redis+sentinel://`: where each connection learns the primary's address
    /// (`host`/`port` are then only the first sentinel's, for messages).
    sentinel: Option<Arc<SentinelResolver>>,
}

impl Connector {
    /// Resolves `config` (URL, password, TLS roots) into a connector. Errors never contain
    /// the password.
    pub fn new(config: &RedisConfig) -> Result<Connector, ConfigError> {
        let info = config.connection_info()?;
        let malformed = |reason: String| ConfigError::MalformedUrl {
            url: config.redacted_url(),
            reason,
        };
        let sentinel = match config.sentinel()? {
            Some(url) => Some(Arc::new(
                SentinelResolver::new(&url, info.redis_settings().clone())
                    .map_err(|e| malformed(super::config::redact_text(&e.to_string())))?,
            )),
            None => None,
        };
        let (host, port, tls) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port, None),
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                ..
            } => {
                if *insecure {
                    return Err(malformed(
                        "#insecure (no certificate verification) is not supported; trust the \
                         server's CA instead"
                            .into(),
                    ));
                }
                let tls = tls_config(config.tls_root_cert.as_deref()).map_err(malformed)?;
                (host.clone(), *port, Some(Arc::new(tls)))
            }
            other => return Err(malformed(format!("unsupported address {other}"))),
        };
        Ok(Connector {
            host,
            port,
            tls,
            redis: info.redis_settings().clone(),
            max_reply_bytes: config.max_reply_bytes,
            connect_timeout: config.connect_timeout,
            response_timeout: None,
            sentinel,
        })
    }

    /// Connections that time out each command themselves (for callers such as `check`
    /// that use the connection directly).
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Opens one connection: TCP, TLS when asked, the reply cap, then the crate's handshake,
    /// all within the connect timeout.
    /// A reply over the cap during the handshake is a parse error: the peer is not Redis.
    pub async fn open(&self) -> redis::RedisResult<Link> {
        let violation = Violation::default();
        let opened = self.open_unbounded(violation.clone());
        match tokio::time::timeout(self.connect_timeout, opened).await {
            Ok(Ok(link)) => Ok(link),
            Ok(Err(e)) => match violation.get() {
                Some(reason) => Err(redis::RedisError::from((
                    redis::ErrorKind::Parse,
                    "reply over the size cap",
                    reason.clone(),
                ))),
                None => Err(e),
            },
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no connection to {}:{} within the connect timeout of {:?}",
                    self.host, self.port, self.connect_timeout
                ),
            )
            .into()),
        }
    }

    /// True when every connection asks Sentinel for the primary first.
    pub fn follows_sentinel(&self) -> bool {
        self.sentinel.is_some()
    }

    /// True when `link` was opened before the sentinels last switched the primary.
    pub fn is_stale(&self, link: &Link) -> bool {
        self.sentinel
            .as_ref()
            .is_some_and(|s| s.epoch() != link.epoch)
    }

    async fn open_unbounded(&self, violation: Violation) -> redis::RedisResult<Link> {
        // Read before resolving: a switch announced during the lookup makes the link stale.
        let epoch = self.sentinel.as_ref().map_or(0, |s| s.epoch());
        let tcp = match &self.sentinel {
            Some(sentinel) => {
                // No primary to be had is a connection failure, whatever Sentinel replied.
                let (host, port) = sentinel.primary().await.map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        format!(
                            "no primary from Sentinel: {}",
                            super::config::redact_text(&e.to_string())
                        ),
                    )
                })?;
                tokio::net::TcpStream::connect((host.as_str(), port)).await?
            }
            None => tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?,
        };
        tcp.set_nodelay(true)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(self.response_timeout);
        // The driver ends when every clone of the connection is dropped or the socket fails.
        let conn = match &self.tls {
            None => {
                let stream = CappedStream::new(tcp, self.max_reply_bytes, violation.clone());
                let (conn, driver) =
                    MultiplexedConnection::new_with_config(&self.redis, stream, config).await?;
                tokio::spawn(driver);
                conn
            }
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let session = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await?;
                let stream = CappedStream::new(session, self.max_reply_bytes, violation.clone());
                let (conn, driver) =
                    MultiplexedConnection::new_with_config(&self.redis, stream, config).await?;
                tokio::spawn(driver);
                conn
            }
        };
        Ok(Link {
            conn,
            violation,
            epoch,
        })
    }
}

/// A rustls client configuration trusting `root_pem` (a PEM CA) or else the system roots.
fn tls_config(root_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    super::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match root_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("unreadable CA certificate: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("unusable CA certificate: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no system CA certificates found to verify the server".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
