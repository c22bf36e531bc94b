//! Embedded Redis: a private `redis-server` process on a free loopback port, for tests and
//! for `redline run`/`check` when the user names no Redis URL.
//!
//! [`EmbeddedRedis`] owns the process and its temp dir (log, RDB/AOF files; the generated
//! `redis.conf`, which may hold the password, only until the server is up) and is an RAII
//! guard: dropping it kills the process and removes the dir. The process also dies with
//! redline when no destructor runs (SIGKILL: `PR_SET_PDEATHSIG`), and the dir of a redline
//! that was killed is removed by the next embedded server's start (an owner lock tells it
//! apart from a dir in use).
//! It also provides the process faults failover drills need — graceful stop, kill, pause
//! (SIGSTOP) and resume, restart on the same port.
//!
//! - this file: the options and the [`EmbeddedRedis`] lifecycle.
//! - `error`: [`ServerError`].
//! - `config`: renders the `redis.conf` (so secrets stay out of `ps`).
//! - `probe`: the readiness probe and the log tail quoted in errors.
//! - `process`: OS plumbing — finding the executable, spawning tied to redline's life,
//!   free ports, signals, /proc state, the temp dir's owner lock.
//! - `cluster`: [`ClusterTopology`], an embedded Redis Cluster (three primaries, three
//!   replicas); `topology`: the embedded Sentinel topology.
//! - `docker` (feature `docker`): the same idea with the `redis:7-alpine` image.

pub mod cluster;
mod config;
#[cfg(feature = "docker")]
pub mod docker;
mod error;
mod probe;
mod process;
mod topology;

use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

pub use cluster::{ClusterNodeInfo, ClusterRole, ClusterTopology};
pub use error::ServerError;
pub use process::{free_port, redis_sentinel_binary, redis_server_binary, redis_server_binary_in};
pub use topology::{
    ask_failover, ask_primary, SentinelTimings, SentinelTopology, MASTER_NAME, SETTLE_TIMEOUT,
};

use probe::Probe;
use process::{
    is_executable, is_sentinel_binary, lock_owner, percent_encode, remove_orphaned_dirs,
    send_signal, spawn_tied_to_process, try_free_port, wait_for_stop_state, write_private,
    OwnerLock, TEMP_DIR_PREFIX,
};

/// How long a start or restart may take before we give up (includes all port retries).
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before we fall back to SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval between polls of the process and the readiness probe.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Fresh ports tried when another process wins the race for the one we picked.
const PORT_ATTEMPTS: usize = 5;
/// Log lines quoted in startup errors.
const LOG_TAIL_LINES: usize = 20;
/// What `redis-server` prints when its port is taken.
const ADDR_IN_USE: &str = "Address already in use";

/// How to configure an embedded server. `Default` is a plain, password-less, non-persistent
/// server: what a throwaway test instance wants.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// `requirepass`; clients then need it in the URL. Never printed (see `Debug`).
    pub password: Option<String>,
    /// `maxmemory` in bytes; `None` keeps redis's default (no limit).
    pub maxmemory: Option<u64>,
    /// `maxmemory-policy`, e.g. `allkeys-lru` as the guide recommends.
    pub maxmemory_policy: Option<String>,
    /// RDB save points and AOF on; off by default so tests do no disk I/O.
    pub persistence: bool,
    /// Serve TLS only on the port (`tls-port N`, `port 0`).
    pub tls: Option<TlsFiles>,
    /// Run as `redis-sentinel` (the executable must be one, or `redis-server`, which is
    /// then given `--sentinel`): only the port, logging and `extra_config` are written, and
    /// the config file is kept because Sentinel rewrites it.
    pub sentinel_mode: bool,
    /// Any other redis.conf directive, written last and verbatim (so it overrides the
    /// defaults above and may carry several arguments, e.g. `("rename-command", "KEYS \"\"")`).
    pub extra_config: Vec<(String, String)>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("maxmemory", &self.maxmemory)
            .field("maxmemory_policy", &self.maxmemory_policy)
            .field("persistence", &self.persistence)
            .field("tls", &self.tls)
            .field("sentinel_mode", &self.sentinel_mode)
            .field("extra_config", &self.extra_config)
            .finish()
    }
}

/// PEM files for a TLS-only server. The CA is also what the readiness probe trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Server certificate (must name 127.0.0.1, which is what clients connect to).
    pub cert_file: PathBuf,
    /// Private key of `cert_file`.
    pub key_file: PathBuf,
    /// CA that signed `cert_file`.
    pub ca_file: PathBuf,
}
/// A `redis-server` child process on 127.0.0.1, killed and cleaned up on drop.
pub struct EmbeddedRedis {
    /// Executable used for every (re)start, resolved once.
    binary: PathBuf,
    /// Options reused verbatim by `restart`.
    opts: ServerOptions,
    /// Private working dir (config, log, data files); removed on drop.
    dir: tempfile::TempDir,
    /// Held while this value lives, so other redlines know `dir` is in use.
    _owner: OwnerLock,
    /// The port, kept across restarts so clients and proxies can reconnect.
    port: u16,
    /// `None` once stopped or killed (the process has been reaped).
    child: Option<Child>,
    /// `redis_version` of the running binary.
    version: String,
    /// The CA PEM, read once, so TLS readiness probes trust the server.
    ca_pem: Option<Vec<u8>>,
    /// True while SIGSTOPped, so stop/drop resume it first and guards know the state.
    paused: AtomicBool,
    /// Set by the caller of [`start_cancellable_with_binary`](Self::start_cancellable_with_binary)
    /// to give up waiting for readiness.
    cancel: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for EmbeddedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedRedis")
            .field("url", &self.redacted_url())
            .field("pid", &self.pid())
            .field("version", &self.version)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl EmbeddedRedis {
    /// Starts a server with the binary from [`redis_server_binary`] and blocks until it
    /// answers PING (10 s deadline).
    pub fn start(opts: ServerOptions) -> Result<EmbeddedRedis, ServerError> {
        Self::start_with_binary(redis_server_binary()?, opts)
    }

    /// Like [`start_with_binary`](Self::start_with_binary), but setting `cancel` ends the
    /// wait for readiness within one poll interval with [`ServerError::Cancelled`] (the
    /// process is killed and its dir removed): for a run interrupted while its server starts.
    pub fn start_cancellable_with_binary(
        binary: impl Into<PathBuf>,
        opts: ServerOptions,
        cancel: Arc<AtomicBool>,
    ) -> Result<EmbeddedRedis, ServerError> {
        Self::start_inner(binary.into(), opts, Some(cancel))
    }

    /// Like [`start`](Self::start) with an explicit executable; tests use it instead of
    /// mutating REDLINE_REDIS_SERVER in a multi-threaded process.
    pub fn start_with_binary(
        binary: impl Into<PathBuf>,
        opts: ServerOptions,
    ) -> Result<EmbeddedRedis, ServerError> {
        Self::start_inner(binary.into(), opts, None)
    }

    fn start_inner(
        binary: PathBuf,
        opts: ServerOptions,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<EmbeddedRedis, ServerError> {
        if !is_executable(&binary) {
            return Err(ServerError::NotInstalled {
                location: format!("at {}", binary.display()),
            });
        }
        let ca_pem = match &opts.tls {
            Some(tls) => Some(fs::read(&tls.ca_file).map_err(|e| {
                ServerError::io(format!("cannot read TLS CA {}", tls.ca_file.display()), e)
            })?),
            None => None,
        };
        remove_orphaned_dirs(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(TEMP_DIR_PREFIX)
            .tempdir()
            .map_err(|e| ServerError::io("cannot create a temp dir for redis-server", e))?;
        let owner = lock_owner(dir.path())?;
        let mut server = EmbeddedRedis {
            binary,
            opts,
            dir,
            _owner: owner,
            port: 0,
            child: None,
            version: String::new(),
            ca_pem,
            paused: AtomicBool::new(false),
            cancel,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_port = 0;
        for _ in 0..PORT_ATTEMPTS {
            last_port = try_free_port()?;
            match server.spawn_on(last_port, deadline) {
                Err(ServerError::PortInUse { .. }) => continue,
                other => return other.map(|()| server),
            }
        }
        Err(ServerError::PortInUse {
            port: last_port,
            attempts: PORT_ATTEMPTS,
        })
    }

    /// The loopback port the server listens on (TLS-only when configured).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Connection URL *including the password* — for tests and internal clients only;
    /// print [`redacted_url`](Self::redacted_url) instead.
    pub fn url(&self) -> String {
        let userinfo = match &self.opts.password {
            Some(p) => format!(":{}@", percent_encode(p)),
            None => String::new(),
        };
        format!("{}://{userinfo}127.0.0.1:{}", self.scheme(), self.port)
    }

    /// [`url`](Self::url) with the password replaced by `***`, safe to print.
    pub fn redacted_url(&self) -> String {
        let userinfo = if self.opts.password.is_some() {
            ":***@"
        } else {
            ""
        };
        format!("{}://{userinfo}127.0.0.1:{}", self.scheme(), self.port)
    }

    /// `redis_version` from INFO server, as reported at the last (re)start.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Pid of the process last started, until it is stopped or killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The options the server was started with (and restarts with).
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// The server's private working dir (config, `redis.log`, data files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Graceful shutdown: SIGTERM (after SIGCONT if paused) and wait for the exit, which
    /// lets a persistent server save. Falls back to SIGKILL after 10 s and reports
    /// [`ServerError::StopTimedOut`]. A no-op when not running.
    pub fn stop(&mut self) -> Result<(), ServerError> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        if self.paused.load(Ordering::SeqCst) {
            self.resume()?;
        }
        send_signal(pid, libc::SIGTERM, "SIGTERM")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.try_reap()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        self.kill()?;
        Err(ServerError::StopTimedOut(STOP_TIMEOUT))
    }

    /// SIGKILL and reap: the crash fault. A no-op when not running.
    pub fn kill(&mut self) -> Result<(), ServerError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        self.paused.store(false, Ordering::SeqCst);
        // The process may already have exited on its own; reaping it is all that is left.
        if child.try_wait().ok().flatten().is_none() {
            send_signal(pid, libc::SIGKILL, "SIGKILL")?;
        }
        child
            .wait()
            .map_err(|e| ServerError::io(format!("cannot reap redis-server (pid {pid})"), e))?;
        Ok(())
    }

    /// SIGSTOP: the server keeps its connections but answers nothing until the returned
    /// guard is dropped (SIGCONT). Returns once the kernel reports the process stopped.
    pub fn pause(&self) -> Result<PauseGuard<'_>, ServerError> {
        self.pause_detached()?;
        Ok(PauseGuard { server: self })
    }

    /// SIGSTOP without a guard, for fault timelines that resume at a later point in time.
    /// Pair it with [`resume`](Self::resume); drop resumes a paused server anyway.
    pub fn pause_detached(&self) -> Result<(), ServerError> {
        let pid = self.pid().ok_or(ServerError::NotRunning)?;
        send_signal(pid, libc::SIGSTOP, "SIGSTOP")?;
        self.paused.store(true, Ordering::SeqCst);
        wait_for_stop_state(pid, true);
        Ok(())
    }

    /// SIGCONT: undo [`pause_detached`](Self::pause_detached).
    pub fn resume(&self) -> Result<(), ServerError> {
        let pid = self.pid().ok_or(ServerError::NotRunning)?;
        send_signal(pid, libc::SIGCONT, "SIGCONT")?;
        self.paused.store(false, Ordering::SeqCst);
        wait_for_stop_state(pid, false);
        Ok(())
    }

    /// Starts the server again on the same port with the same options (killing it first
    /// if it still runs) and waits for PING. Data survives only with persistence on and a
    /// graceful [`stop`](Self::stop) before. Retries the bind until the 10 s deadline in
    /// case the port is briefly held by someone else.
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.kill()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn_on(self.port, deadline) {
                Err(ServerError::PortInUse { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(POLL_INTERVAL * 5);
                }
                other => return other,
            }
        }
    }

    /// [`restart`](Self::restart) as a replica of `primary` (`replicaof` replaced in the
    /// options, so later restarts keep it): how a killed primary rejoins its topology.
    pub fn restart_as_replica_of(&mut self, primary: SocketAddr) -> Result<(), ServerError> {
        self.opts.extra_config.retain(|(d, _)| d != "replicaof");
        self.opts.extra_config.push((
            "replicaof".into(),
            format!("{} {}", primary.ip(), primary.port()),
        ));
        self.restart()
    }

    fn scheme(&self) -> &'static str {
        if self.opts.tls.is_some() {
            "rediss"
        } else {
            "redis"
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Reaps the child if it has exited, returning its status.
    fn try_reap(&mut self) -> Result<Option<ExitStatus>, ServerError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.paused.store(false, Ordering::SeqCst);
                Ok(Some(status))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(ServerError::io("cannot poll redis-server", e)),
        }
    }

    /// Writes the config for `port`, spawns the process and waits until it answers or
    /// `deadline` passes. On failure the process is killed and reaped.
    fn spawn_on(&mut self, port: u16, deadline: Instant) -> Result<(), ServerError> {
        let dir = self.dir.path().to_path_buf();
        let conf = config::render(&self.opts, port, &dir)?;
        let conf_path = dir.join("redis.conf");
        write_private(&conf_path, &conf)?;
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| ServerError::io("cannot open the redis-server log", e))?;
        // Startup errors quote only what this start logged.
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let stderr = log
            .try_clone()
            .map_err(|e| ServerError::io("cannot open the redis-server log", e))?;
        let mut command = Command::new(&self.binary);
        command.arg(&conf_path);
        if self.opts.sentinel_mode && !is_sentinel_binary(&self.binary) {
            command.arg("--sentinel");
        }
        command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Own process group: a terminal Ctrl-C goes to redline only, which then drains
            // its run against a still-living server and kills it on drop.
            .process_group(0);
        let child = spawn_tied_to_process(command).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ServerError::NotInstalled {
                location: format!("at {}", self.binary.display()),
            },
            _ => ServerError::Spawn {
                binary: self.binary.clone(),
                source: e,
            },
        })?;
        self.child = Some(child);
        self.port = port;
        let result = self.wait_ready(deadline, &log_path, log_start);
        if result.is_err() {
            let _ = self.kill();
        }
        // The server has read its config; the password in it need not outlive this moment
        // (restarts write it again). Sentinel keeps its file: it rewrites it as it learns.
        if !self.opts.sentinel_mode {
            let _ = fs::remove_file(&conf_path);
        }
        result
    }

    fn wait_ready(
        &mut self,
        deadline: Instant,
        log_path: &Path,
        log_start: u64,
    ) -> Result<(), ServerError> {
        let client =
            probe::client(&self.url(), &self.opts, self.ca_pem.as_deref()).map_err(|e| {
                ServerError::InvalidOption {
                    name: "tls".into(),
                    reason: format!("cannot build a client for the server: {e}"),
                }
            })?;
        loop {
            if self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst))
            {
                return Err(ServerError::Cancelled);
            }
            if let Some(status) = self.try_reap()? {
                let log_tail = probe::log_tail(log_path, log_start, LOG_TAIL_LINES);
                if log_tail.contains(ADDR_IN_USE) {
                    return Err(ServerError::PortInUse {
                        port: self.port,
                        attempts: 1,
                    });
                }
                return Err(ServerError::Exited { status, log_tail });
            }
            let reason = match probe::probe(&client) {
                // Another server holding the port answers with another pid; ours will then
                // fail to bind and exit, which the next iteration sees.
                Probe::Ready { pid, version } if Some(pid) == self.pid() => {
                    self.version = version;
                    return Ok(());
                }
                Probe::Ready { pid, .. } => {
                    format!("port {} is served by another process ({pid})", self.port)
                }
                Probe::NotYet(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(ServerError::NotReady {
                    timeout: READY_TIMEOUT,
                    reason,
                    log_tail: probe::log_tail(log_path, log_start, LOG_TAIL_LINES),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for EmbeddedRedis {
    fn drop(&mut self) {
        if self.paused.load(Ordering::SeqCst) {
            let _ = self.resume();
        }
        let _ = self.kill();
        // `dir` (a TempDir) is removed when the fields drop, after this.
    }
}

/// Keeps the server paused (SIGSTOP) while alive; dropping it sends SIGCONT.
#[must_use = "the server resumes as soon as the guard is dropped"]
#[derive(Debug)]
pub struct PauseGuard<'a> {
    server: &'a EmbeddedRedis,
}

impl Drop for PauseGuard<'_> {
    fn drop(&mut self) {
        let _ = self.server.resume();
    }
}
/// Installs ring as rustls's process-wide crypto provider, once. rustls refuses to build
/// a TLS config without one, and with only `ring` enabled nothing picks it automatically.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already installed, which serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let opts = ServerOptions {
            password: Some("hunter2-secret".into()),
            ..ServerOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
