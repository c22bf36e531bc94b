//! Fault injection for failover drills.
//!
//! - [`failover`]: the `failover` fault (Sentinel: kill the primary or `SENTINEL FAILOVER`).
//! - [`acked_writes`]: the acknowledged-writes checker that counts writes a failover lost.

pub mod acked_writes;
pub mod failover;
