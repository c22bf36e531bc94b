//! Integration tests: one binary, every test against its own real `redis-server` started on a
//! free loopback port (see `support`), so the tests run in parallel.

mod bad_input;
mod cache;
mod check;
mod cluster;
mod cluster_drill;
mod cluster_report;
mod cluster_target;
mod consistency;
mod doc_commands;
mod drills;
mod engine;
mod failover;
mod gate;
mod kubernetes;
mod overload;
mod pipeline_batches;
mod proxy;
mod proxy_api;
mod redis_errors;
mod report_browser;
mod report_files;
mod report_verdicts;
mod report_windows;
mod run_process;
mod scale_out;
mod scenario;
mod server;
mod signals;
mod size;
mod support;
mod target;
mod ux;
mod workload;
