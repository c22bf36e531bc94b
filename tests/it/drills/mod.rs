//! Failover drills: every fault kind against real redis-server processes and what a client
//! sees of it (`injectors`), fault timelines run by the engine with the breaker's path and
//! the report's fault windows (`runs`), drills interrupted mid-fault by SIGINT and SIGTERM
//! (`interrupted`), and drills refused before any load (`validation`).

mod injectors;
mod interrupted;
mod runs;
mod validation;

use redline::scenario::{FaultKind, FaultSpec};
use std::time::Duration;

/// Runs a blocking client call off the async threads (the proxy's tasks need them).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// A fresh synchronous connection (2 s connect deadline).
fn client(url: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(2))
}

/// A connection whose replies must come within `timeout`.
fn read_timeout_client(url: &str, timeout: Duration) -> redis::Connection {
    let con = client(url).expect("connect");
    con.set_read_timeout(Some(timeout)).expect("read timeout");
    con
}

fn get(url: &str, key: &str) -> redis::RedisResult<Option<String>> {
    redis::cmd("GET").arg(key).query(&mut client(url)?)
}

fn set(url: &str, key: &str, value: &str) -> redis::RedisResult<()> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut client(url)?)
}

/// A fault of the timeline, for the injectors that take one.
fn fault(name: &str, kind: FaultKind) -> FaultSpec {
    FaultSpec {
        name: name.to_string(),
        at: Duration::ZERO,
        duration: Duration::from_secs(1),
        kind,
    }
}

/// A drill scenario: closed model (so a busy machine cannot make it inconclusive), managed
/// get_or_set and set under `prefix`, the breaker quick to probe, then `extra` (thresholds
/// before any table, faults after).
fn drill(thresholds: &[&str], duration: &str, faults: &str, breaker: &str) -> String {
    let thresholds: Vec<String> = thresholds.iter().map(|t| format!("{t:?}")).collect();
    format!(
        r#"
name = "drill"
thresholds = [{}]

[target]
kind = "managed"
response_timeout = "300ms"
connect_timeout = "500ms"

[target.breaker]
reset_timeout = "500ms"
half_open_max_calls = 1
{breaker}

[keyspace]
keys = 200
value_size = "64B"
prefix = "drill:"

[[ops]]
kind = "get_or_set"
weight = 9

[[ops]]
kind = "set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "closed"
clients = 4
think_time = "5ms"
connections = 2
duration = "{duration}"

{faults}
"#,
        thresholds.join(", ")
    )
}
