//! [`FaultProxy`]: a TCP proxy placed between the cache layer and Redis that injects network
//! faults with Toxiproxy's vocabulary ([`Toxic`]: latency, bandwidth, timeout, reset_peer,
//! slicer) and its `enabled` switch, and counts what it forwarded ([`ProxyCounters`],
//! including the RESP commands that reached Redis).
//!
//! - [`toxic`]: the toxics, their bounds and their Toxiproxy JSON shape.
//! - `link`: one connection's copy loops (a plain copy while no toxic is set).
//! - [`resp`]: the streaming RESP frame counter behind `commands_up`.
//! - [`api`]: the subset of Toxiproxy's HTTP API these faults need.
//! - [`command`]: `redline proxy`, the proxy on its own with that API.
//!
//! Written here rather than taken from the `noxious` crate (a Rust port of Toxiproxy's
//! core): noxious has no reset_peer toxic, no place to count forwarded commands, drops the
//! bytes a timeout toxic holds (which desynchronises a Redis connection's replies from its
//! requests once the toxic goes), and pins old majors of rand, tokio-util and thiserror.
//!
//! One deliberate difference from Toxiproxy: a timeout toxic *holds* the bytes it stops
//! (bounded, then TCP backpressure) instead of dropping them, as a real partition does; a
//! TCP stream with a hole in it cannot happen on a real network and would make a Redis
//! client read one command's reply as another's.

pub mod api;
pub mod command;
mod link;
pub mod resp;
pub mod toxic;

pub use toxic::{Stream, Toxic, ToxicKind};

use link::{Installed, Snapshot};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why a change to a proxy was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A toxic of that name is already installed: remove it first or pick another name.
    #[error("toxic `{0}` already exists")]
    DuplicateToxic(String),
    /// No toxic of that name is installed.
    #[error("no toxic named `{0}`")]
    NoSuchToxic(String),
    /// A toxic's value is out of bounds; the message names the attribute.
    #[error("invalid toxic `{name}`: {reason}")]
    InvalidToxic {
        /// The toxic's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Re-enabling could not listen on the proxy's address again (someone else took it).
    #[error("cannot listen on {addr} again: {source}")]
    Listen {
        /// The proxy's address.
        addr: SocketAddr,
        /// The bind error.
        #[source]
        source: io::Error,
    },
}

/// What a proxy has forwarded since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now (accepted and not yet closed).
    pub open_connections: u64,
    /// Bytes written to the upstream (client → Redis).
    pub bytes_up: u64,
    /// Bytes written to clients (Redis → client).
    pub bytes_down: u64,
    /// Whole RESP commands written to the upstream: what reached Redis.
    pub commands_up: u64,
}

/// The live counters the connections update.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    commands_up: AtomicU64,
}

/// A running fault proxy. Dropping it (or [`shutdown`](Self::shutdown)) stops listening
/// and closes every connection through it.
#[derive(Debug)]
pub struct FaultProxy {
    listen: SocketAddr,
    upstream: Arc<str>,
    state: watch::Sender<Arc<Snapshot>>,
    /// The listening socket while enabled; `None` while disabled, so connects are refused.
    listener: Arc<Mutex<Option<TcpListener>>>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
    runtime: tokio::runtime::Handle,
    accept_task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `listen` (port 0 picks a free one, see [`local_addr`](Self::local_addr))
    /// and forwards each connection to `upstream` (`host:port`, resolved per connection).
    /// Must be called inside a tokio runtime; the proxy's tasks run on it.
    pub fn start(listen: SocketAddr, upstream: String) -> io::Result<FaultProxy> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| io::Error::other(format!("the fault proxy needs a tokio runtime: {e}")))?;
        check_upstream(&upstream)
            .map_err(|reason| io::Error::new(io::ErrorKind::InvalidInput, reason))?;
        let listener = bind(listen)?;
        let listen = listener.local_addr()?;
        let listener = Arc::new(Mutex::new(Some(listener)));
        let (state, rx) = watch::channel(Arc::new(Snapshot {
            enabled: true,
            closing: false,
            toxics: Vec::new(),
        }));
        let upstream: Arc<str> = upstream.into();
        let counters = Arc::new(Counters::default());
        let accept_task = runtime.spawn(accept_loop(
            listener.clone(),
            upstream.clone(),
            rx,
            counters.clone(),
        ));
        Ok(FaultProxy {
            listen,
            upstream,
            state,
            listener,
            counters,
            next_id: AtomicU64::new(1),
            runtime,
            accept_task,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The `host:port` connections are forwarded to.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Installs a toxic; it applies at once to open connections and to new ones.
    pub fn add_toxic(&self, toxic: Toxic) -> Result<(), ProxyError> {
        toxic
            .validate()
            .map_err(|reason| ProxyError::InvalidToxic {
                name: toxic.name.clone(),
                reason,
            })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut result = Ok(());
        self.state.send_if_modified(|s| {
            if s.toxics.iter().any(|t| t.toxic.name == toxic.name) {
                result = Err(ProxyError::DuplicateToxic(toxic.name.clone()));
                return false;
            }
            Arc::make_mut(s).toxics.push(Installed { id, toxic });
            true
        });
        result
    }

    /// Replaces the toxic of the same name (its timeouts restart, as in Toxiproxy).
    pub fn update_toxic(&self, toxic: Toxic) -> Result<(), ProxyError> {
        toxic
            .validate()
            .map_err(|reason| ProxyError::InvalidToxic {
                name: toxic.name.clone(),
                reason,
            })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut result = Err(ProxyError::NoSuchToxic(toxic.name.clone()));
        self.state.send_if_modified(|s| {
            let Some(i) = s.toxics.iter().position(|t| t.toxic.name == toxic.name) else {
                return false;
            };
            Arc::make_mut(s).toxics[i] = Installed {
                id,
                toxic: toxic.clone(),
            };
            result = Ok(());
            true
        });
        result
    }

    /// Removes a toxic; data it held flows again.
    pub fn remove_toxic(&self, name: &str) -> Result<(), ProxyError> {
        let mut found = false;
        self.state.send_if_modified(|s| {
            let Some(i) = s.toxics.iter().position(|t| t.toxic.name == name) else {
                return false;
            };
            Arc::make_mut(s).toxics.remove(i);
            found = true;
            true
        });
        if found {
            Ok(())
        } else {
            Err(ProxyError::NoSuchToxic(name.to_string()))
        }
    }

    /// Removes every toxic.
    pub fn remove_all_toxics(&self) {
        self.state.send_if_modified(|s| {
            if s.toxics.is_empty() {
                return false;
            }
            Arc::make_mut(s).toxics.clear();
            true
        });
    }

    /// The installed toxics, in the order they apply.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.state
            .borrow()
            .toxics
            .iter()
            .map(|t| t.toxic.clone())
            .collect()
    }

    /// The toxic named `name`.
    pub fn toxic(&self, name: &str) -> Option<Toxic> {
        self.state
            .borrow()
            .toxics
            .iter()
            .find(|t| t.toxic.name == name)
            .map(|t| t.toxic.clone())
    }

    /// Whether the proxy accepts connections.
    pub fn is_enabled(&self) -> bool {
        self.state.borrow().enabled
    }

    /// Toxiproxy's `enabled`. `false` closes every open connection and stops listening, so
    /// new connections are refused by the time this returns; `true` listens again on the
    /// same address.
    pub fn set_enabled(&self, enabled: bool) -> Result<(), ProxyError> {
        let mut slot = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        if enabled && slot.is_none() {
            let _guard = self.runtime.enter();
            *slot = Some(bind(self.listen).map_err(|source| ProxyError::Listen {
                addr: self.listen,
                source,
            })?);
        } else if !enabled {
            // Dropping the listener closes its socket now: the next connect is refused.
            *slot = None;
        }
        drop(slot);
        self.state.send_if_modified(|s| {
            if s.enabled == enabled {
                return false;
            }
            Arc::make_mut(s).enabled = enabled;
            true
        });
        Ok(())
    }

    /// What the proxy has forwarded so far.
    pub fn counters(&self) -> ProxyCounters {
        let c = &self.counters;
        ProxyCounters {
            connections: c.connections.load(Ordering::Relaxed),
            open_connections: c.open.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
            commands_up: c.commands_up.load(Ordering::Relaxed),
        }
    }

    /// Stops listening and closes every connection (also done on drop).
    pub fn shutdown(&self) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.accept_task.abort();
        self.state.send_modify(|s| Arc::make_mut(s).closing = true);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Accepts connections while a listener is in the slot; waits for a change otherwise.
async fn accept_loop(
    listener: Arc<Mutex<Option<TcpListener>>>,
    upstream: Arc<str>,
    mut state: watch::Receiver<Arc<Snapshot>>,
    counters: Arc<Counters>,
) {
    loop {
        // The lock is held only while polling, never across an await, so `set_enabled` can
        // take the listener away between two polls.
        let accept = std::future::poll_fn(|cx| {
            let slot = listener.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(l) => l.poll_accept(cx),
                None => std::task::Poll::Pending,
            }
        });
        let accepted = tokio::select! {
            accepted = accept => accepted,
            changed = state.changed() => {
                if changed.is_err() || state.borrow().closing {
                    return;
                }
                continue;
            }
        };
        match accepted {
            Ok((client, _)) => {
                let _ = client.set_nodelay(true);
                counters.connections.fetch_add(1, Ordering::Relaxed);
                let snapshot = state.borrow().clone();
                if !snapshot.enabled || snapshot.closing {
                    // Accepted in the instant before the listener closed.
                    continue;
                }
                tokio::spawn(link::serve(
                    client,
                    upstream.clone(),
                    state.clone(),
                    counters.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("proxy: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A listening socket on `addr` (SO_REUSEADDR, so re-enabling finds the port free).
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Checks that `upstream` reads as `host:port`; the message says what is wrong.
pub fn check_upstream(upstream: &str) -> Result<(), String> {
    let Some((host, port)) = upstream.rsplit_once(':') else {
        return Err(format!("upstream `{upstream}` must be host:port"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
        return Err(format!(
            "upstream `{upstream}` has no valid host (expected host:port)"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!(
            "upstream `{upstream}` has no valid port (1-65535 after the last `:`)"
        )),
    }
}
