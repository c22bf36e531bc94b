//! The engine's two seams for running beside others: [`Peers`], the other load generators
//! of a sharded run (`redline run --shard`, implemented in [`crate::scale`]), and
//! [`Observer`], which sees every closed interval while the run goes (the live metrics
//! endpoint). A lone, unwatched run has neither.

use crate::cache::RedisStore;
use crate::report::{Recorder, TimePoint};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed future borrowing from its receiver.
pub type PeerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the generators of a sharded run could not start together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeersError(pub String);

/// The other generators of the same run. The engine waits on [`Peers::ready`] after its
/// preload and before the load (phase `waiting`), tells [`Peers::finished`] when its load
/// is over and, unless [`Peers::cleans_up`], leaves the run's keys to the one that does.
/// The engine bounds neither wait itself but gives up on either when a stop is requested.
pub trait Peers: Send + Sync + fmt::Debug {
    /// Waits until the load may start: every generator ready, the keyspace preloaded, the
    /// agreed start time reached. `admin` is the target's own connection (no key prefix);
    /// `run_prefix` the run's key prefix, under which any marker keys must live.
    fn ready<'a>(
        &'a self,
        admin: Option<&'a RedisStore>,
        run_prefix: &'a str,
    ) -> PeerFuture<'a, Result<(), PeersError>>;

    /// This generator's load is over (`interrupted`: by a stop request). The one that
    /// cleans up waits here for the others to finish, so it removes no key still in use.
    fn finished<'a>(
        &'a self,
        admin: Option<&'a RedisStore>,
        run_prefix: &'a str,
        interrupted: bool,
    ) -> PeerFuture<'a, ()>;

    /// Whether this generator removes the run's keys at the end (exactly one does).
    fn cleans_up(&self) -> bool;
}

/// Sees each interval as the aggregator closes it (once a second, and at the ends of warmup
/// and of the measured phase): its time-series point and the interval's raw counts. Called
/// on the engine's loop, so it must be quick and never block.
pub trait Observer: Send + Sync + fmt::Debug {
    /// One closed interval.
    fn interval(&self, point: &TimePoint, interval: &Recorder);
}
