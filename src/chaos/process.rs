//! Process faults on a `redis-server` redline started: `kill` (SIGKILL, then a start on the
//! same port), `pause` (SIGSTOP, then SIGCONT) and `restart` (graceful shutdown, then a
//! start). Each injected fault is a [`ProcessFault`] guard: [`ProcessFault::undo`] undoes it
//! at its planned end or when the run stops, and dropping a guard that was not undone (a
//! run that failed or panicked) undoes it synchronously, so no server is left paused or
//! down behind the target.
//!
//! The server is shared with the target as a [`ServerProcess`]; the blocking parts (waiting
//! for the kernel, for PING after a start) run off the async threads.

use crate::scenario::FaultKind;
use crate::server::EmbeddedRedis;
use std::sync::{Arc, Mutex, MutexGuard};

/// The embedded server, shared by the target and the fault timeline.
pub type ServerProcess = Arc<Mutex<EmbeddedRedis>>;

/// Locks the server; a panic while holding the lock leaves a process handle that is still
/// the best knowledge of the process, so the poison is ignored.
pub fn lock(server: &ServerProcess) -> MutexGuard<'_, EmbeddedRedis> {
    server.lock().unwrap_or_else(|e| e.into_inner())
}

/// A process fault in force.
#[derive(Debug)]
pub struct ProcessFault {
    server: ServerProcess,
    kind: FaultKind,
    /// False until undone (or found not needing it): Drop undoes it then.
    undone: bool,
}

/// Applies `kind` (kill, pause or restart) to `server`: returns the guard and what was done.
pub async fn inject(
    server: &ServerProcess,
    kind: FaultKind,
) -> Result<(ProcessFault, String), String> {
    let shared = server.clone();
    let detail = tokio::task::spawn_blocking(move || {
        let mut s = lock(&shared);
        let pid = s.pid().ok_or("the server is not running")?;
        let done = match kind {
            FaultKind::Kill => s.kill().map(|()| format!("SIGKILL pid {pid}")),
            FaultKind::Pause => s.pause_detached().map(|()| format!("SIGSTOP pid {pid}")),
            FaultKind::Restart => s
                .stop()
                .map(|()| format!("graceful shutdown of pid {pid} (SIGTERM)")),
            other => return Err(format!("{} is not a process fault", other.name().as_str())),
        };
        done.map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the fault task failed: {e}"))??;
    let fault = ProcessFault {
        server: server.clone(),
        kind,
        undone: false,
    };
    Ok((fault, detail))
}

impl ProcessFault {
    /// Undoes the fault: SIGCONT, or a start on the same port (waiting for PING).
    pub async fn undo(mut self) -> Result<String, String> {
        let server = self.server.clone();
        let kind = self.kind;
        let result = tokio::task::spawn_blocking(move || undo_blocking(&server, kind))
            .await
            .map_err(|e| format!("the fault task failed: {e}"))
            .and_then(|r| r);
        // Whatever the outcome, a second attempt from Drop would do the same again.
        self.undone = true;
        result
    }
}

fn undo_blocking(server: &ServerProcess, kind: FaultKind) -> Result<String, String> {
    let mut s = lock(server);
    match kind {
        FaultKind::Pause => match s.pid() {
            Some(pid) => s.resume().map(|()| format!("SIGCONT pid {pid}")),
            None => Ok("the server was gone; nothing to resume".into()),
        },
        _ => s.restart().map(|()| {
            let pid = s.pid().map_or("?".into(), |p| p.to_string());
            format!("started again on port {} (pid {pid})", s.port())
        }),
    }
    .map_err(|e| e.to_string())
}

impl Drop for ProcessFault {
    fn drop(&mut self) {
        if !self.undone {
            if let Err(e) = undo_blocking(&self.server, self.kind) {
                tracing::warn!("cannot undo a {} fault: {e}", self.kind.name().as_str());
            }
        }
    }
}
