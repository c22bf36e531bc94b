//! [`Shutdown`]: the request to stop a run, as a value the library is handed.
//!
//! A run stops in two steps, as CI systems and Kubernetes expect (SIGTERM, then SIGKILL
//! after a grace period) and as a user at a terminal does (Ctrl-C, then Ctrl-C again):
//!
//! 1. the first request *stops*: every phase ends promptly, the partial report is written,
//!    the run's keys are removed and the embedded server is stopped;
//! 2. the second request *abandons*: cleanup is skipped (redline says which key prefix was
//!    left and how to remove it) and the process exits at once.
//!
//! The library never installs signal handlers: the binary calls [`Shutdown::on_signals`],
//! tests and embedders use [`Shutdown::new`] and trigger it themselves (or
//! [`Shutdown::never`]). Clones share one state, so every phase can wait on its own clone.

use std::fmt;
use tokio::sync::watch;

/// How far a shutdown has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Nothing requested.
    Running,
    /// First request: stop, report, clean up.
    Stopping,
    /// Second request: skip cleanup and exit.
    Abandoning,
}

/// What asked for the shutdown, for messages ("SIGTERM received").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Sigint,
    Sigterm,
    /// A caller of [`ShutdownTrigger::trigger`] (tests, an embedding program).
    Requested,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Sigint => "SIGINT",
            Cause::Sigterm => "SIGTERM",
            Cause::Requested => "a shutdown request",
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct State {
    stage: Stage,
    /// The cause of the first request.
    cause: Option<Cause>,
}

/// The receiving side: cheap to clone, every clone sees the same requests.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<State>,
}

/// The sending side: each [`trigger`](Self::trigger) moves the shutdown one stage on.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    tx: std::sync::Arc<watch::Sender<State>>,
}

impl Shutdown {
    /// A shutdown and the trigger that requests it.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(State {
            stage: Stage::Running,
            cause: None,
        });
        (
            ShutdownTrigger {
                tx: std::sync::Arc::new(tx),
            },
            Shutdown { rx },
        )
    }

    /// A shutdown that is never requested (its trigger is dropped at once).
    pub fn never() -> Shutdown {
        Shutdown::new().1
    }

    /// A shutdown requested by SIGINT and SIGTERM of this process: the first of them stops,
    /// the second abandons. Installing the handlers replaces the default action (terminate)
    /// for the rest of the process, so call it once, from the binary, inside the runtime.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            let mut received = 0;
            loop {
                let cause = tokio::select! {
                    Some(()) = sigint.recv() => Cause::Sigint,
                    Some(()) = sigterm.recv() => Cause::Sigterm,
                    else => return,
                };
                received += 1;
                match received {
                    1 => eprintln!(
                        "\n{cause} received: stopping (partial report, then cleanup); \
                         send it again to skip the cleanup"
                    ),
                    2 => eprintln!("\n{cause} received again: skipping the cleanup"),
                    // The second request should already have ended the run; if something
                    // still holds it up, a third one is a plain exit (an embedded server
                    // dies with the process).
                    _ => {
                        eprintln!("\n{cause} received a third time: exiting now");
                        std::process::exit(3);
                    }
                }
                trigger.trigger(cause);
            }
        });
        Ok(shutdown)
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        self.rx.borrow().stage
    }

    /// True once a stop was requested (first or second request).
    pub fn is_stopping(&self) -> bool {
        self.stage() >= Stage::Stopping
    }

    /// True once cleanup is to be skipped (second request).
    pub fn is_abandoning(&self) -> bool {
        self.stage() >= Stage::Abandoning
    }

    /// What asked for the stop, once one was asked for.
    pub fn cause(&self) -> Option<Cause> {
        self.rx.borrow().cause
    }

    /// Completes when a stop is requested (at once if it already was).
    pub async fn stopping(&self) {
        self.reach(Stage::Stopping).await;
    }

    /// Completes when cleanup is to be skipped (at once if it already is).
    pub async fn abandoning(&self) {
        self.reach(Stage::Abandoning).await;
    }

    async fn reach(&self, stage: Stage) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|s| s.stage >= stage).await.is_err() {
            // Every trigger is gone, so the stage can no longer change: never complete.
            std::future::pending::<()>().await;
        }
    }
}

impl ShutdownTrigger {
    /// Requests the next stage (stop, then abandon) and returns the stage reached.
    pub fn trigger(&self, cause: Cause) -> Stage {
        let mut reached = Stage::Running;
        self.tx.send_modify(|s| {
            s.stage = match s.stage {
                Stage::Running => Stage::Stopping,
                _ => Stage::Abandoning,
            };
            s.cause.get_or_insert(cause);
            reached = s.stage;
        });
        reached
    }
}

/// [`Shutdown::never`]: options structs that carry a shutdown default to one that never
/// comes.
impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::never()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn first_request_stops_and_second_abandons() {
        let (trigger, shutdown) = Shutdown::new();
        let waiter = shutdown.clone();
        let stopped = tokio::spawn(async move { waiter.stopping().await });
        assert_eq!(shutdown.stage(), Stage::Running);
        assert!(!stopped.is_finished());
        assert_eq!(trigger.trigger(Cause::Sigterm), Stage::Stopping);
        stopped.await.unwrap();
        assert!(shutdown.is_stopping() && !shutdown.is_abandoning());
        let abandon = tokio::time::timeout(Duration::from_secs(1), shutdown.abandoning()).await;
        assert!(abandon.is_err(), "one request must not abandon the cleanup");
        assert_eq!(trigger.trigger(Cause::Sigint), Stage::Abandoning);
        shutdown.abandoning().await;
        // The first cause is the one reports name.
        assert_eq!(shutdown.cause(), Some(Cause::Sigterm));
        assert_eq!(trigger.trigger(Cause::Sigint), Stage::Abandoning);
    }

    #[tokio::test(start_paused = true)]
    async fn never_and_dropped_triggers_never_complete() {
        let never = Shutdown::never();
        let waited = tokio::time::timeout(Duration::from_secs(3600), never.stopping()).await;
        assert!(waited.is_err());
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        let waited = tokio::time::timeout(Duration::from_secs(3600), shutdown.stopping()).await;
        assert!(waited.is_err());
        assert!(!shutdown.is_stopping());
    }
}
