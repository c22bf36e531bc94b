//! redline: a benchmarking and load-testing harness for Redis caching layers.
//!
//! - [`cache`]: the cache layer under test (Redis store, in-memory fallback, circuit breaker,
//!   cache-aside manager, codecs, health snapshot). Usable as a library on its own.
//! - [`server`]: an embedded `redis-server` started on demand on a free loopback port.
//! - [`chaos`]: fault injection (the TCP fault proxy and its toxics).
//! - [`check`]: `redline check`, the connection test and production-readiness audit.
//! - [`scenario`]: the scenario file model, validation and workload distributions.
//! - [`target`]: resolving and opening what a run drives (URL and REDIS_* variables,
//!   embedded server, in-memory store), handed to the engine as a value.
//! - [`engine`]: the load engine that drives a scenario through the cache layer.
//! - [`chaos`]: fault injection for failover drills (the fault timeline and its faults).
//! - [`report`]: HDR recording, thresholds, verdict, the report writers, charts and the
//!   live view.
//! - [`rerender`]: `redline report`, re-rendering a run's files from its report.json.
//! - [`scale`]: sharded runs (`--shard`, `--start-at`), `redline merge` and the live
//!   Prometheus metrics (`--metrics-addr`).
//! - [`shutdown`]: the stop request (first signal stops, second skips cleanup) every phase
//!   of a run waits on.
//! - [`op`]: operation and error vocabulary shared by all of the above.
//! - [`out_dir`]: the report folder of a run, chosen and checked before any load.
//! - [`gate`]: `redline compare` and `run --baseline/--junit`: the CI regression gate.
//! - [`size`]: `redline size`, capacity sizing from many engine runs on one target.

pub mod cache;
pub mod chaos;
pub mod check;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod gate;
pub mod op;
pub mod out_dir;
pub mod report;
pub mod rerender;
pub mod scale;
pub mod scenario;
pub mod server;
pub mod shutdown;
pub mod size;
pub mod target;
