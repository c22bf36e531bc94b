//! Docker provider: a `redis:7-alpine` container started the way the guide's compose file
//! does (`redis-server --requirepass ...`), for machines without a local `redis-server`.
//!
//! testcontainers removes the container when [`DockerRedis`] is dropped. Only compiled with
//! the `docker` feature. Unlike the embedded server the password is on the container's
//! command line (visible to `docker inspect`), exactly as in the guide.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::process::percent_encode;
use super::ServerError;

/// The image the guide's compose file runs.
const IMAGE: (&str, &str) = ("redis", "7-alpine");
/// The port redis listens on inside the container.
const REDIS_PORT: u16 = 6379;

/// A running `redis:7-alpine` container, removed on drop.
pub struct DockerRedis {
    /// Keeps the container alive; dropping it stops and removes the container.
    _container: ContainerAsync<GenericImage>,
    /// Host the mapped port is reachable on (the Docker host, usually localhost).
    host: String,
    /// Host port mapped to the container's 6379.
    port: u16,
    /// `requirepass`, if any; only ever put into [`url`](Self::url).
    password: Option<String>,
}

impl std::fmt::Debug for DockerRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerRedis")
            .field("url", &self.redacted_url())
            .finish()
    }
}

impl DockerRedis {
    /// Pulls (if needed) and starts the container, waiting for "Ready to accept connections".
    pub async fn start(password: Option<String>) -> Result<DockerRedis, ServerError> {
        let mut cmd = vec!["redis-server".to_string()];
        if let Some(p) = &password {
            cmd.push("--requirepass".into());
            cmd.push(p.clone());
        }
        let container = GenericImage::new(IMAGE.0, IMAGE.1)
            .with_exposed_port(REDIS_PORT.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
            .with_cmd(cmd)
            .with_startup_timeout(Duration::from_secs(120))
            .start()
            .await
            .map_err(|e| {
                ServerError::Docker(format!("cannot start {}:{}: {e}", IMAGE.0, IMAGE.1))
            })?;
        let port = container
            .get_host_port_ipv4(REDIS_PORT)
            .await
            .map_err(|e| ServerError::Docker(format!("cannot read the mapped port: {e}")))?;
        let host = container
            .get_host()
            .await
            .map_err(|e| ServerError::Docker(format!("cannot read the Docker host: {e}")))?
            .to_string();
        Ok(DockerRedis {
            _container: container,
            host,
            port,
            password,
        })
    }

    /// Connection URL including the password (for clients, never for output).
    pub fn url(&self) -> String {
        let userinfo = match &self.password {
            Some(p) => format!(":{}@", percent_encode(p)),
            None => String::new(),
        };
        format!("redis://{userinfo}{}:{}", self.host, self.port)
    }

    /// [`url`](Self::url) with the password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        let userinfo = if self.password.is_some() { ":***@" } else { "" };
        format!("redis://{userinfo}{}:{}", self.host, self.port)
    }

    /// The host port mapped to the container's 6379.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// True when a Docker engine accepts connections on `DOCKER_HOST` (unix or tcp) or the
/// default socket. Tests use it to skip rather than fail on machines without Docker.
pub fn engine_available() -> bool {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    if let Some(path) = host.strip_prefix("unix://") {
        return UnixStream::connect(path).is_ok();
    }
    if let Some(addr) = host.strip_prefix("tcp://") {
        use std::net::ToSocketAddrs;
        return addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .is_some_and(|a| {
                std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()
            });
    }
    UnixStream::connect("/var/run/docker.sock").is_ok()
}
