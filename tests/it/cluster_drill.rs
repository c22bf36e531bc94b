//! The `cluster_failover` fault against redline's own Redis Cluster: the bundled drill
//! passes its expectations (kill: writes stop and come back on the promoted replica, the
//! breaker opens and closes, MOVED/ASK counted; command: a switch without a failed write);
//! the acknowledged-writes check's lost count equals one the test takes itself from the
//! nodes; the fault is refused on any other target before the load.

use crate::failover::open_topology;
use redline::chaos::acked_writes::WriteChecker;
use redline::chaos::cluster_failover::ClusterFailoverInjector;
use redline::engine::{self, RunOptions};
use redline::report::summary::RunSummary;
use redline::report::Verdict;
use redline::scenario::ClusterFailoverMethod;
use redline::server::cluster::ClusterRole;
use std::time::{Duration, Instant};

const DRILL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/drills/cluster-failover.toml"
);

/// The bundled drill, shortened: the primary failed over at 1 s, the fault ending at 5 s,
/// 7.5 s of load in all (time for the breaker to close on a busy machine).
async fn drill(method: &str) -> RunSummary {
    let overrides: Vec<String> = [
        "load.duration=7500ms",
        "load.clients=2",
        "faults[0].at=1s",
        "faults[0].for=4s",
        &format!("faults[0].method={method}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let scenario = redline::scenario::load_file(DRILL.as_ref(), &overrides).expect("the drill");
    assert!(
        scenario.cache.replay_invalidations,
        "the drill replays the outage's invalidations"
    );
    let target = open_topology(&scenario).await;
    assert!(target.cluster_topology().is_some(), "an embedded cluster");
    engine::run(
        &scenario,
        &target,
        &RunOptions::default(),
        redline::shutdown::Shutdown::never(),
        &mut |_| {},
    )
    .await
    .expect("the drill runs")
}

/// The drill's breaker reset timeout, seconds.
fn summary_reset_timeout_s() -> f64 {
    let scenario = redline::scenario::load_file(DRILL.as_ref(), &[]).expect("the drill");
    scenario.target.breaker.reset_timeout.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_failover_drill_passes_its_expectations() {
    use redline::cache::BreakerState::{Closed, HalfOpen, Open};
    let summary = drill("kill").await;
    let failed: Vec<_> = summary
        .thresholds
        .iter()
        .filter(|t| t.status != redline::report::ThresholdStatus::Pass)
        .collect();
    assert_eq!(
        summary.verdict,
        Verdict::Pass,
        "{:?} {failed:?}",
        summary.verdict_reason
    );
    let f = summary.failover.as_ref().expect("a failover section");
    let w = &f.failovers[0];
    assert_eq!(
        (w.fault.as_str(), w.method.as_str()),
        ("cluster_failover", "kill")
    );
    assert!(w.error.is_none(), "{w:?}");
    assert!(w.old_primary.is_some() && w.new_primary.is_some(), "{w:?}");
    assert_ne!(w.old_primary, w.new_primary);
    let (started, promoted) = (w.started_s.unwrap(), w.promoted_s.unwrap());
    assert!(started >= 0.9 && promoted > started, "{w:?}");
    // Writes failed from the kill and came back once the replica was promoted.
    let resumed = w.writes_resumed_after_ms.expect("writes came back");
    assert!(resumed > 0, "no write failed: {w:?}");
    assert!(
        w.writes_failed_from_s.is_some_and(|t| t >= started),
        "{w:?}"
    );
    let back = w.writes_resumed_s.unwrap();
    // The watch sees the promotion once every other node says ok: a poll later than the
    // first node that took writes again.
    assert!(
        back >= promoted - 1.0,
        "writes back at {back} before the promotion at {promoted}"
    );
    let path = &w.breaker_path;
    assert!(
        path.first()
            .is_some_and(|t| t.from == Closed && t.to == Open),
        "{path:?}"
    );
    assert!(path.last().is_some_and(|t| t.to == Closed), "{path:?}");
    // Once writes are taken again, the replay of the outage's invalidations (per-slot DELs
    // on the new primary) must not keep failing the breaker's trials: a trial that failed
    // later than two reset timeouts after the writes came back is the replay stalling.
    let reset_s = summary_reset_timeout_s();
    let late: Vec<_> = path
        .iter()
        .filter(|t| t.from == HalfOpen && t.to == Open && t.t_s > back + 2.0 * reset_s)
        .collect();
    assert!(
        late.is_empty(),
        "breaker trials failed after writes came back at {back:.2} s: {late:?}"
    );
    let stale = summary
        .consistency
        .as_ref()
        .expect("the stale-read checker ran");
    assert!(stale.replay_invalidations, "{stale:?}");
    assert!(stale.checked_reads > 0, "{stale:?}");
    assert_eq!(
        (stale.stale_reads, stale.lost_invalidations),
        (0, 0),
        "{stale:?}"
    );
    let redirections = w.redirections.expect("the nodes' MOVED/ASK count");
    assert!(
        f.writes.checked && f.writes.acknowledged > 0,
        "{:?}",
        f.writes
    );
    let lost = summary
        .thresholds
        .iter()
        .find(|t| t.expr.starts_with("lost_writes"))
        .unwrap();
    assert_eq!(lost.measured, Some(f.writes.lost as f64));
    let fault = &summary.faults[0];
    assert!(fault.undone, "{fault:?}");
    assert!(
        fault.detail.contains("rejoined as a replica"),
        "{}",
        fault.detail
    );
    assert_eq!(
        summary.totals.errors_total, 0,
        "the fallback absorbed the outage"
    );
    eprintln!(
        "cluster failover (kill): promoted {:.2} s after the kill, writes back after {resumed} ms, \
         breaker {}, {} stale of {} checked reads, \
         {} MOVED / {} ASK, {} of {} acknowledged writes lost ({} failed)",
        promoted - started,
        path.iter()
            .map(|t| format!("{:?}@{:.2}", t.to, t.t_s))
            .collect::<Vec<_>>()
            .join(" "),
        stale.stale_reads,
        stale.checked_reads,
        redirections.moved,
        redirections.ask,
        f.writes.lost,
        f.writes.acknowledged,
        f.writes.failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_cluster_failover_moves_the_slots_without_losing_a_write() {
    let summary = drill("command").await;
    let f = summary.failover.as_ref().expect("a failover section");
    let w = &f.failovers[0];
    assert_eq!(w.method, "command");
    assert!(w.error.is_none(), "{w:?}");
    assert_ne!(w.old_primary, w.new_primary);
    assert!(w.promoted_s.is_some(), "{w:?}");
    // CLUSTER FAILOVER is coordinated: the replica caught up before it took over.
    assert_eq!(f.writes.lost, 0, "{:?}", f.writes);
    assert!(
        f.writes.checked && f.writes.acknowledged > 0,
        "{:?}",
        f.writes
    );
    // Clients still sending to the demoted primary were told where the slots went.
    let r = w.redirections.expect("the nodes' MOVED/ASK count");
    assert!(r.moved > 0, "no MOVED after the slots moved: {w:?}");
    let fault = &summary.faults[0];
    assert!(fault.undone, "{fault:?}");
    assert!(
        fault.detail.contains("follows it as a replica"),
        "{}",
        fault.detail
    );
    let redis = summary.redis.as_ref().unwrap();
    assert!(redis.calls > 0, "{redis:?}");
    eprintln!(
        "cluster failover (command): writes back after {:?} ms, {} MOVED / {} ASK",
        w.writes_resumed_after_ms, r.moved, r.ask
    );
}

/// Every acknowledged key read straight from the primary serving its slot (the slot asked
/// of the cluster with CLUSTER KEYSLOT): how many are missing or changed.
fn missing_on_the_nodes(
    topology: &redline::server::ClusterTopology,
    prefix: &str,
    ranges: &[[u64; 2]],
) -> (u64, u64) {
    let nodes = topology.nodes().unwrap();
    let primaries: Vec<_> = nodes
        .iter()
        .filter(|n| n.role == ClusterRole::Primary && !n.slots.is_empty())
        .collect();
    let connect = |addr: std::net::SocketAddr| {
        redis::Client::open(format!("redis://{addr}"))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    };
    let mut asker = connect(primaries[0].addr);
    let mut cons: Vec<_> = primaries.iter().map(|p| connect(p.addr)).collect();
    let (mut acknowledged, mut missing) = (0, 0);
    for [first, last] in ranges {
        for n in *first..=*last {
            acknowledged += 1;
            let key = format!("{prefix}{n}");
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&key)
                .query(&mut asker)
                .unwrap();
            let owner = primaries.iter().position(|p| p.serves(slot)).unwrap();
            let v: Option<String> = redis::cmd("GET").arg(&key).query(&mut cons[owner]).unwrap();
            if v.as_deref() != Some(n.to_string().as_str()) {
                missing += 1;
            }
        }
    }
    (acknowledged, missing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_lost_writes_match_a_count_read_from_the_nodes() {
    // Only its target is used: the test drives the fault itself.
    let scenario = redline::scenario::load_file(DRILL.as_ref(), &[]).unwrap();
    let target = open_topology(&scenario).await;
    let prefix = "redline:cluster-failover-test:acked:";
    let store = target
        .connect_cache(prefix, 1, 1 << 20)
        .await
        .unwrap()
        .expect("a cluster store");
    let start = Instant::now();
    let checker = WriteChecker::start(store, start);
    let topology = target.cluster_topology().unwrap().clone();
    let injector = ClusterFailoverInjector::new(topology.clone(), start).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fault, detail) = injector
        .inject("cluster_failover", ClusterFailoverMethod::Kill, Some(1))
        .await
        .expect("inject");
    assert!(detail.contains("killed the primary"), "{detail}");
    let undone = fault
        .undo(std::future::pending())
        .await
        .expect("the failover completes");
    assert!(undone.contains("rejoined as a replica"), "{undone}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Seven acknowledged writes removed behind the checker's back, straight on their nodes:
    // the read-back through the cluster must count them with whatever the failover lost.
    let removed = {
        let t = topology.clone();
        tokio::task::spawn_blocking(move || {
            let t = t.lock().unwrap();
            let mut removed = 0u64;
            for n in (10..80).step_by(10) {
                let key = format!("{prefix}{n}");
                for p in t.primaries().unwrap() {
                    let mut con = redis::Client::open(format!("redis://{}", p.addr))
                        .unwrap()
                        .get_connection()
                        .unwrap();
                    let deleted: redis::RedisResult<u64> =
                        redis::cmd("DEL").arg(&key).query(&mut con);
                    removed += deleted.unwrap_or(0);
                }
            }
            removed
        })
        .await
        .unwrap()
    };
    assert_eq!(removed, 7, "every removed key was on exactly one primary");
    let writes = checker.finish(std::future::pending()).await;
    let events = injector.finish().await;
    assert!(writes.checked, "{writes:?}");
    assert!(writes.acknowledged > 0 && writes.failed > 0, "{writes:?}");
    assert!(
        writes.acknowledged_ranges.len() < 100,
        "every range is listed: {writes:?}"
    );
    let event = &events[0];
    assert_ne!(event.old_primary, event.new_primary);
    assert!(event.redirections.is_some());

    let ranges = writes.acknowledged_ranges.clone();
    let (acknowledged, missing) = tokio::task::spawn_blocking(move || {
        let t = topology.lock().unwrap();
        missing_on_the_nodes(&t, prefix, &ranges)
    })
    .await
    .unwrap();
    assert_eq!(acknowledged, writes.acknowledged, "all ranges are listed");
    assert_eq!(missing, writes.lost, "{writes:?}");
    assert!(writes.lost >= 7, "the removed keys are counted: {writes:?}");
    eprintln!(
        "cluster failover: {acknowledged} acknowledged, {} lost by the check, {missing} missing \
         on the nodes (7 removed by the test)",
        writes.lost
    );
}

/// `redline run` of a one-second scenario with a `cluster_failover` fault named `promote`
/// and `extra` appended; returns the exit code and everything printed.
fn run_with_cluster_failover(extra_args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        r#"
name = "bad"
[keyspace]
keys = 10
value_size = "16B"
[[ops]]
kind = "get"
weight = 1
[load]
model = "closed"
clients = 1
duration = "1s"
[[faults]]
name = "promote"
kind = "cluster_failover"
at = "0s"
for = "1s"
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut cmd = crate::support::redline_bin();
    cmd.args([
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    cmd.args(extra_args);
    let out = crate::support::output_within(cmd, Duration::from_secs(60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn a_cluster_failover_off_redlines_own_cluster_is_an_error_naming_the_fault() {
    // A single embedded server: the scenario itself is refused.
    let (code, text) = run_with_cluster_failover(&[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("`promote` (cluster_failover)"), "{text}");
    assert!(text.contains("topology = \"cluster\""), "{text}");
    // Someone else's cluster (here one the test started), although the scenario asks for an
    // embedded one: refused once the target is open, before any load.
    let cluster = redline::server::ClusterTopology::start(
        redline::server::redis_server_binary().unwrap(),
        redline::server::ServerOptions {
            password: Some("hunter22".into()),
            ..Default::default()
        },
        std::sync::Arc::default(),
    )
    .unwrap();
    let seeds = cluster.seeds_url();
    let args = ["--redis", &seeds, "--set", "target.server.topology=cluster"];
    let (code, text) = run_with_cluster_failover(&args);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("`promote` (cluster_failover)"), "{text}");
    assert!(text.contains("redline's own Redis Cluster"), "{text}");
    assert!(
        !text.contains("hunter22"),
        "the password was printed: {text}"
    );
}
