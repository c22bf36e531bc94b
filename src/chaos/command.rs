//! Command faults, for any Redis server (those redline did not start included), sent on the
//! target's direct admin connection: `client_pause` (`CLIENT PAUSE <for> ALL|WRITE`) and
//! `oom` (`maxmemory` squeezed to 1 byte with `noeviction`, so every write gets Redis's OOM
//! error while reads go on).
//!
//! Each injected fault is a [`CommandFault`] guard. [`CommandFault::undo`] restores the
//! server at the fault's end or when the run stops; dropping a guard that was not undone
//! restores it on a fresh connection from a thread of its own, so a run that fails or
//! panics leaves no squeezed maxmemory. A pause carries its own timeout (the fault's
//! length), so it ends even if redline is killed; Redis holds every command during
//! `CLIENT PAUSE ALL`, `CLIENT UNPAUSE` included, so such a pause cannot end early and its
//! undo waits for its timeout.

use crate::cache::{RedisConfig, RedisStore};
use crate::scenario::faults::PauseMode;
use crate::scenario::FaultKind;
use std::time::{Duration, Instant};

/// How long restoring a server from a dropped guard may take.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a command fault changed, and so how to restore it.
#[derive(Debug, Clone)]
enum Change {
    /// A pause until `until` (its own timeout).
    Paused { mode: PauseMode, until: Instant },
    /// maxmemory and its policy as they were.
    Squeezed { maxmemory: String, policy: String },
}

/// A command fault in force.
#[derive(Debug)]
pub struct CommandFault {
    admin: RedisStore,
    change: Change,
    undone: bool,
}

fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

async fn config_get(admin: &RedisStore, name: &str) -> Result<String, String> {
    let pair: Vec<String> = admin
        .raw(&cmd(&["CONFIG", "GET", name]))
        .await
        .map_err(|e| format!("CONFIG GET {name}: {e}"))?;
    pair.get(1)
        .cloned()
        .ok_or_else(|| format!("CONFIG GET {name} returned nothing (renamed or disabled CONFIG?)"))
}

async fn send(admin: &RedisStore, args: &[&str]) -> Result<(), String> {
    admin
        .raw::<redis::Value>(&cmd(args))
        .await
        .map(drop)
        .map_err(|e| format!("{}: {e}", args[..2.min(args.len())].join(" ")))
}

/// Applies `kind` (client_pause or oom) lasting `length` through `admin`.
pub async fn inject(
    admin: &RedisStore,
    kind: FaultKind,
    length: Duration,
) -> Result<(CommandFault, String), String> {
    let (change, detail) = match kind {
        FaultKind::ClientPause { mode } => {
            let ms = length.as_millis().max(1).to_string();
            send(admin, &["CLIENT", "PAUSE", &ms, mode.as_arg()]).await?;
            let until = Instant::now() + length;
            (
                Change::Paused { mode, until },
                format!("CLIENT PAUSE {ms} {}", mode.as_arg()),
            )
        }
        FaultKind::Oom => {
            let maxmemory = config_get(admin, "maxmemory").await?;
            let policy = config_get(admin, "maxmemory-policy").await?;
            send(admin, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]).await?;
            if let Err(e) = send(admin, &["CONFIG", "SET", "maxmemory", "1"]).await {
                let _ = send(admin, &["CONFIG", "SET", "maxmemory-policy", &policy]).await;
                return Err(e);
            }
            let detail =
                format!("maxmemory {maxmemory} -> 1 and maxmemory-policy {policy} -> noeviction");
            (Change::Squeezed { maxmemory, policy }, detail)
        }
        other => return Err(format!("{} is not a command fault", other.name().as_str())),
    };
    let fault = CommandFault {
        admin: admin.clone(),
        change,
        undone: false,
    };
    Ok((fault, detail))
}

impl CommandFault {
    /// Restores the server: CLIENT UNPAUSE (or the end of an ALL pause), or maxmemory and
    /// its policy as they were. An ALL pause is waited for until `hurried` resolves (a run
    /// abandoned by a second signal); it then ends on its own timeout.
    pub async fn undo(
        mut self,
        hurried: impl std::future::Future<Output = ()>,
    ) -> Result<String, String> {
        self.undone = true;
        if !matches!(
            self.change,
            Change::Paused {
                mode: PauseMode::All,
                ..
            }
        ) {
            // A restore is one or two commands: always completed.
            return restore(&self.admin, &self.change).await;
        }
        tokio::select! {
            restored = restore(&self.admin, &self.change) => restored,
            _ = hurried => Ok("left to end on its own timeout (the run was abandoned)".into()),
        }
    }
}

async fn restore(admin: &RedisStore, change: &Change) -> Result<String, String> {
    match change {
        Change::Paused {
            mode: PauseMode::All,
            until,
        } => {
            // Redis holds CLIENT UNPAUSE itself until the pause times out.
            tokio::time::sleep_until((*until).into()).await;
            admin
                .ping()
                .await
                .map(|()| "the pause timed out; the server answers".to_string())
                .map_err(|e| format!("PING after the pause: {e}"))
        }
        Change::Paused { .. } => send(admin, &["CLIENT", "UNPAUSE"])
            .await
            .map(|()| "CLIENT UNPAUSE".into()),
        Change::Squeezed { maxmemory, policy } => {
            let memory = send(admin, &["CONFIG", "SET", "maxmemory", maxmemory]).await;
            let policy_set = send(admin, &["CONFIG", "SET", "maxmemory-policy", policy]).await;
            memory
                .and(policy_set)
                .map(|()| format!("maxmemory {maxmemory} and maxmemory-policy {policy} restored"))
        }
    }
}

impl Drop for CommandFault {
    fn drop(&mut self) {
        // A pause ALL ends on its own timeout; nothing could end it sooner.
        if self.undone
            || matches!(
                self.change,
                Change::Paused {
                    mode: PauseMode::All,
                    ..
                }
            )
        {
            return;
        }
        // No await here: restore on a fresh connection, on a thread with its own runtime,
        // so this works even while the run's runtime is shutting down.
        let mut config: RedisConfig = self.admin.config().clone();
        config.connections = 1;
        config.key_prefix = String::new();
        let change = self.change.clone();
        let restored = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let work = async {
                    let admin = RedisStore::connect(config)
                        .await
                        .map_err(|e| e.to_string())?;
                    restore(&admin, &change).await
                };
                tokio::time::timeout(RESTORE_TIMEOUT, work)
                    .await
                    .map_err(|_| "timed out".to_string())?
            })
        })
        .join();
        match restored {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot undo a command fault: {e}"),
            Err(_) => tracing::warn!("cannot undo a command fault: the restoring thread panicked"),
        }
    }
}
