//! Integration tests: one binary, every test against its own real `redis-server` started on a
//! free loopback port (see `support`), so the tests run in parallel.

mod cache;
mod check;
mod engine;
mod pipeline_batches;
mod run_process;
mod scenario;
mod server;
mod signals;
mod support;
mod target;
mod workload;
