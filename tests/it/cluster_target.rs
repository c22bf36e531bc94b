//! Redis Cluster as a target: runs through the redis crate's cluster client on an embedded
//! cluster (three primaries, a replica each), managed and raw, with batches split by hash
//! slot and with hash tags; keys spread over every primary and swept from every primary;
//! bad and unreachable `redis+cluster://` URLs; prefixes with braces refused.

use crate::engine::scenario;
use crate::support::{finished_within, redline_bin};
use redline::engine::{self, EngineError, RunOptions};
use redline::report::summary::{ClusterBatches, RunSummary};
use redline::scenario::Scenario;
use redline::shutdown::Shutdown;
use redline::target::{Target, TargetRequest};
use std::time::Duration;

/// Opens an embedded cluster with only PATH and REDLINE_REDIS_SERVER from the environment.
async fn open_cluster(scenario: &Scenario) -> Target {
    let env = |name: &str| match name {
        "PATH" | "REDLINE_REDIS_SERVER" => std::env::var(name).ok(),
        _ => None,
    };
    let request = TargetRequest {
        flag_url: None,
        spec: &scenario.target,
    };
    Target::open(&request, &env)
        .await
        .unwrap_or_else(|e| panic!("cannot open the embedded cluster: {e}"))
}

/// A 1.5 s closed-model run of mget/mset/pipeline/get_or_set over 3 000 keys on the
/// embedded cluster; `extra` goes into `[keyspace]`.
fn batches(kind: &str, keyspace_extra: &str) -> Scenario {
    scenario(&format!(
        r#"
        name = "cluster-batches"
        thresholds = ["error_rate < 0.001"]
        [target]
        kind = "{kind}"
        [target.server]
        topology = "cluster"
        [keyspace]
        keys = 3000
        value_size = "64B"
        {keyspace_extra}
        [[ops]]
        kind = "mget"
        weight = 4
        batch = 10
        [[ops]]
        kind = "mset"
        weight = 1
        batch = 5
        [[ops]]
        kind = "pipeline"
        weight = 1
        batch = 8
        [[ops]]
        kind = "get_or_set"
        weight = 2
        [load]
        model = "closed"
        clients = 6
        connections = 2
        duration = "1500ms"
        preload = true
        "#
    ))
}

async fn run(scenario: &Scenario, target: &Target, run_id: &str, keep_keys: bool) -> RunSummary {
    let opts = RunOptions {
        run_id: Some(run_id.to_string()),
        keep_keys,
        seed: Some(7),
        ..RunOptions::default()
    };
    engine::run(scenario, target, &opts, Shutdown::never(), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("engine::run failed: {e}"))
}

/// Keys under `prefix` on each primary, counted over the node's own direct connection.
async fn keys_per_primary(target: &Target, prefix: &str) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    for node in target.cluster_nodes().unwrap().iter().filter(|n| n.primary) {
        let mut cursor = 0u64;
        let mut n = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = node
                .admin
                .raw(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(1000),
                )
                .await
                .expect("SCAN");
            n += keys.len() as u64;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        counts.push((node.addr.clone(), n));
    }
    counts
}

/// MGET calls the primaries served so far (INFO commandstats).
async fn mget_calls(target: &Target) -> u64 {
    let mut total = 0;
    for node in target.cluster_nodes().unwrap().iter().filter(|n| n.primary) {
        let text = node.admin.info(Some("commandstats")).await.expect("INFO");
        total += text
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_mget:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn mget_ops(s: &RunSummary) -> u64 {
    s.latency.per_op[&redline::op::OpKind::Mget].response.count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_an_embedded_cluster_spread_keys_over_every_primary_and_clean_up_every_node() {
    let split = batches("managed", "");
    let target = open_cluster(&split).await;
    let nodes = target
        .cluster_nodes()
        .expect("a cluster target lists its nodes");
    assert_eq!(nodes.len(), 6, "{nodes:?}");
    assert_eq!(nodes.iter().filter(|n| n.primary).count(), 3, "{nodes:?}");
    assert!(target.is_cluster());

    // Managed, keys spread: every mget batch of 10 keys is split by slot.
    let calls_before = mget_calls(&target).await;
    let s = run(&split, &target, "c1split", true).await;
    let calls = mget_calls(&target).await - calls_before;
    assert_eq!(s.totals.errors_total, 0, "{:?}", s.totals.errors);
    assert_eq!(s.target.cluster_batches, Some(ClusterBatches::SplitBySlot));
    assert!(mget_ops(&s) > 0);
    assert!(
        calls > 5 * mget_ops(&s),
        "batches of 10 spread keys split by slot: {calls} MGETs for {} mget ops",
        mget_ops(&s)
    );
    let hit = s.totals.hit_rate.unwrap();
    let server = s.server.as_ref().expect("INFO summed over the primaries");
    assert!(
        server.hit_rate_server.is_some_and(|h| h > 0.5),
        "{server:?}"
    );
    assert!(hit > 0.5, "preloaded keys are hits: {hit}");
    let spread = keys_per_primary(&target, "redline:c1split:").await;
    assert!(
        spread.iter().all(|(_, n)| *n > 500),
        "3 000 keys over three primaries: {spread:?}"
    );

    // The kept keys go with one sweep of every primary (what `redline clean` does).
    let admin = target.admin().unwrap();
    let removed = admin.del_pattern("redline:c1split:*", 1000).await.unwrap();
    assert!(removed >= 3000, "{removed}");
    let left = keys_per_primary(&target, "redline:c1split:").await;
    assert!(left.iter().all(|(_, n)| *n == 0), "{left:?}");

    // Raw, hash tags: one MGET per batch; the run's own cleanup leaves no key on any node.
    let tagged = batches("redis", "hash_tags = true");
    let calls_before = mget_calls(&target).await;
    let s = run(&tagged, &target, "c1tags", false).await;
    let calls = mget_calls(&target).await - calls_before;
    assert_eq!(s.totals.errors_total, 0, "{:?}", s.totals.errors);
    assert_eq!(s.target.cluster_batches, Some(ClusterBatches::HashTags));
    assert!(
        calls < 2 * mget_ops(&s) && calls >= mget_ops(&s),
        "a tagged batch is one MGET: {calls} MGETs for {} mget ops",
        mget_ops(&s)
    );
    let left = keys_per_primary(&target, "redline:c1tags:").await;
    assert!(left.iter().all(|(_, n)| *n == 0), "{left:?}");
    for node in target.cluster_nodes().unwrap() {
        let n: u64 = node.admin.raw(&redis::cmd("DBSIZE")).await.unwrap();
        assert!(!node.primary || n == 0, "{} keeps {n} keys", node.addr);
    }

    // A prefix with braces would pin every key to one slot: refused before any load.
    let braces = batches("redis", r#"prefix = "app{1}:""#);
    let opts = RunOptions {
        run_id: Some("c1brace".into()),
        ..RunOptions::default()
    };
    match engine::run(&braces, &target, &opts, Shutdown::never(), &mut |_| {}).await {
        Err(e @ EngineError::ClusterPrefix(_)) => {
            assert!(e.to_string().contains("one hash slot"), "{e}")
        }
        other => panic!("expected the prefix to be refused, got {other:?}"),
    }
}

#[test]
fn bad_and_unreachable_cluster_urls_are_exit_2_with_a_clear_message() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let unreachable = format!("redis+cluster://:hunter22@127.0.0.1:{port}");
    for (url, want) in [
        ("redis+cluster://:hunter22@127.0.0.1:notaport", "bad port"),
        ("redis+cluster://:hunter22@127.0.0.1:1/2", "only database 0"),
        (
            "rediss+cluster://:hunter22@127.0.0.1:1",
            "TLS to a Redis Cluster",
        ),
        (unreachable.as_str(), "cannot connect"),
    ] {
        let mut cmd = redline_bin();
        cmd.args(["run", "scenarios/smoke.toml", "--redis", url, "--quiet"])
            .env("REDIS_CONNECT_TIMEOUT", "500")
            .env("REDIS_MAX_RETRIES", "0")
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        let out = finished_within(cmd, Duration::from_secs(30));
        assert_eq!(out.code(), Some(2), "{url}: {}", out.describe());
        assert!(out.stderr.contains(want), "{url}: {}", out.describe());
        assert!(!out.stderr.contains("hunter22"), "{}", out.describe());
    }
}

#[test]
fn hash_tags_that_cannot_keep_a_batch_in_one_slot_are_refused() {
    for (extra, batch, want) in [
        (
            "hash_tags = true",
            101,
            "at most 100 keys with keyspace.hash_tags",
        ),
        (
            "hash_tags = true\nprefix = \"a{b}:\"",
            10,
            "must not contain { or } with hash_tags",
        ),
    ] {
        let toml = format!(
            "name = \"t\"\n[keyspace]\nkeys = 1000\n{extra}\n[[ops]]\nkind = \"mget\"\nweight = 1\nbatch = {batch}\n[load]\nduration = \"1s\"\n"
        );
        let e = redline::scenario::parse_str(&toml, redline::scenario::Format::Toml, "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
}

/// A fake cluster node on a free loopback port that serves every slot itself and answers
/// GET with `$4294967296` followed by bytes for as long as the client reads; returns its
/// port and the bytes it managed to send.
async fn endless_cluster_node() -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = sent.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let total = total.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                loop {
                    // One command: an array of bulk strings; its first two words matter.
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let Some(n) = line.trim().strip_prefix('*').and_then(|n| n.parse().ok()) else {
                        return;
                    };
                    let mut words = Vec::new();
                    for _ in 0..n {
                        line.clear();
                        let _ = read.read_line(&mut line).await;
                        let len: usize = line.trim()[1..].parse().unwrap_or(0);
                        let mut arg = vec![0; len + 2];
                        if read.read_exact(&mut arg).await.is_err() {
                            return;
                        }
                        arg.truncate(len);
                        words.push(String::from_utf8_lossy(&arg).to_ascii_uppercase());
                    }
                    let reply = match words.first().map(String::as_str) {
                        Some("PING") => "+PONG\r\n".to_string(),
                        Some("CLUSTER") => format!(
                            "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n"
                        ),
                        Some("GET") => {
                            let _ = write.write_all(b"$4294967296\r\n").await;
                            let chunk = vec![b'x'; 64 * 1024];
                            while write.write_all(&chunk).await.is_ok() {
                                total.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            }
                            return;
                        }
                        _ => "+OK\r\n".to_string(),
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_sending_an_endless_reply_is_cut_at_the_cap_as_a_protocol_error() {
    use redline::cache::{OpError, RedisConfig, RedisStore};
    let (port, sent) = endless_cluster_node().await;
    let mut config = RedisConfig::new(format!("redis+cluster://127.0.0.1:{port}"));
    config.max_reply_bytes = 1 << 20;
    // The crate notices the cut connection only at the reply deadline: keep it short.
    config.response_timeout = Duration::from_secs(1);
    config.max_retries = 0;
    let store = RedisStore::connect(config)
        .await
        .expect("the fake node connects");
    assert!(store.is_cluster());
    match store.get("k").await {
        Err(OpError::Protocol(reason)) => assert!(reason.contains("4294967296"), "{reason}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    let bytes = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        bytes < 64 << 20,
        "the client stopped reading near the cap, not after {bytes} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_client_that_keeps_timing_out_is_replaced() {
    let s = scenario(
        r#"
        name = "cluster-replace"
        [target]
        kind = "redis"
        response_timeout = "200ms"
        connect_timeout = "500ms"
        [target.server]
        topology = "cluster"
        [keyspace]
        keys = 10
        value_size = "8B"
        [[ops]]
        kind = "get"
        weight = 1
        [load]
        model = "closed"
        clients = 1
        duration = "1s"
        "#,
    );
    let target = open_cluster(&s).await;
    let store = target
        .connect_cache("redline:replace-test:", 1, 1 << 20)
        .await
        .unwrap()
        .expect("a cluster store");
    let topology = target.cluster_topology().unwrap().clone();
    let primary = topology.lock().unwrap().primaries().unwrap()[0].addr;
    let (host, port) = (primary.ip().to_string(), primary.port());
    let ping = redis::cmd("PING");
    assert!(store.raw_on(&host, port, &ping).await.is_ok());
    assert_eq!(store.reconnects(), 0);
    // A node that answers nothing (shorter than cluster-node-timeout, so no failover):
    // reconnect_after_timeouts (3) timeouts in a row through the cluster client.
    topology
        .lock()
        .unwrap()
        .node_at(primary)
        .unwrap()
        .pause_detached()
        .unwrap();
    for _ in 0..3 {
        let r = store.raw_on(&host, port, &ping).await;
        assert!(
            matches!(r, Err(redline::cache::OpError::Timeout(_))),
            "{r:?}"
        );
    }
    topology
        .lock()
        .unwrap()
        .node_at(primary)
        .unwrap()
        .resume()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.reconnects() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster client was not replaced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.reconnects(), 1, "one replacement for one streak");
    assert!(store.raw_on(&host, port, &ping).await.is_ok());
}
