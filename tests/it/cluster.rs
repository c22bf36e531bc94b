//! The embedded Redis Cluster: six real `redis-server` processes on free loopback ports
//! form a cluster of three primaries with one replica each; a killed primary's replica is
//! promoted and the killed node rejoins as a replica; `CLUSTER FAILOVER` swaps the roles;
//! starting is cancellable; dropping the topology leaves no process behind.

use crate::failover::alive;
use redline::server::cluster::{ClusterRole, ClusterTopology, CLUSTER_SETTLE_TIMEOUT};
use redline::server::{redis_server_binary, ServerError, ServerOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn start(opts: ServerOptions) -> ClusterTopology {
    let binary = redis_server_binary().expect("redis-server");
    ClusterTopology::start(binary, opts, Arc::new(AtomicBool::new(false)))
        .unwrap_or_else(|e| panic!("cannot start the embedded cluster: {e}"))
}

fn connection(addr: std::net::SocketAddr, password: Option<&str>) -> redis::Connection {
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    redis::Client::open(format!("redis://{auth}{addr}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
}

#[test]
fn an_embedded_cluster_serves_every_slot_from_three_primaries_with_a_replica_each() {
    let cluster = start(ServerOptions {
        password: Some("s3cret pw".into()),
        ..ServerOptions::default()
    });
    let nodes = cluster.nodes().unwrap();
    assert_eq!(nodes.len(), 6, "{nodes:?}");
    let primaries = cluster.primaries().unwrap();
    assert_eq!(primaries.len(), 3, "{nodes:?}");
    let slots: Vec<(u16, u16)> = primaries.iter().flat_map(|p| p.slots.clone()).collect();
    assert_eq!(slots, [(0, 5460), (5461, 10922), (10923, 16383)]);
    for p in &primaries {
        let replicas: Vec<_> = nodes
            .iter()
            .filter(|n| n.primary_id.as_deref() == Some(p.id.as_str()))
            .collect();
        assert_eq!(replicas.len(), 1, "{} has {replicas:?}", p.addr);
        assert_eq!(replicas[0].role, ClusterRole::Replica);
        assert!(replicas[0].slots.is_empty());
    }
    // Loopback, distinct, and really the nodes redline started.
    let mut ports: Vec<u16> = nodes.iter().map(|n| n.addr.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6);
    for n in &nodes {
        assert!(n.addr.ip().is_loopback(), "{n:?}");
        assert!(cluster.node_at(n.addr).is_some(), "{n:?} is not ours");
    }
    // Every node agrees the cluster is ok and a write to any slot lands (on its primary).
    let seeds = cluster.seeds_url();
    assert!(
        seeds.starts_with("redis+cluster://:s3cret%20pw@127.0.0.1:"),
        "{seeds}"
    );
    assert_eq!(seeds.matches(',').count(), 5, "{seeds}");
    let shown = cluster.redacted_seeds_url();
    assert!(shown.starts_with("redis+cluster://:***@") && !shown.contains("s3cret"));
    assert!(!format!("{cluster:?}").contains("s3cret"));
    for n in &nodes {
        let mut con = connection(n.addr, Some("s3cret%20pw"));
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
        assert!(info.contains("cluster_state:ok"), "{}: {info}", n.addr);
        assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    }
    let mut con = connection(primaries[0].addr, Some("s3cret%20pw"));
    // `{a}` hashes to slot 15495, served by the third primary: the first one redirects.
    let reply: redis::RedisResult<()> = redis::cmd("SET").arg("{a}x").arg(1).query(&mut con);
    let err = reply.unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "{err}");
    let moved = cluster
        .watch()
        .redirections()
        .into_iter()
        .find(|(a, _)| *a == primaries[0].addr)
        .unwrap()
        .1;
    assert_eq!(
        moved.moved, 1,
        "the MOVED reply is counted by the node that sent it"
    );

    let pids = cluster.pids();
    assert_eq!(pids.len(), 6);
    let dirs: Vec<_> = cluster
        .processes()
        .iter()
        .map(|n| n.dir().to_path_buf())
        .collect();
    assert!(dirs.iter().all(|d| d.join("nodes.conf").is_file()));
    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "node {pid} outlived its cluster");
    }
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_killed_primary_is_replaced_by_its_replica_and_rejoins_as_a_replica() {
    let mut cluster = start(ServerOptions::default());
    let nodes = cluster.nodes().unwrap();
    let old = cluster.primaries().unwrap()[1].clone();
    let replica = nodes
        .iter()
        .find(|n| n.primary_id.as_deref() == Some(old.id.as_str()))
        .unwrap()
        .clone();
    let never = AtomicBool::new(false);
    let killed_at = Instant::now();
    cluster.kill(old.addr).unwrap();
    let new = cluster
        .wait_promoted(&old, CLUSTER_SETTLE_TIMEOUT, &never)
        .expect("the replica is promoted");
    let took = killed_at.elapsed();
    assert_eq!(new.id, replica.id);
    assert_eq!(new.slots, old.slots);
    // While a node is down the cluster is not settled, and a cancelled wait says so at once.
    let cancelled = AtomicBool::new(true);
    assert!(matches!(
        cluster.wait_settled(CLUSTER_SETTLE_TIMEOUT, &cancelled),
        Err(ServerError::Cancelled)
    ));
    let e = cluster
        .wait_settled(Duration::from_millis(200), &never)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&old.addr.to_string()), "{e}");

    cluster.restart(old.addr).unwrap();
    cluster
        .wait_settled(CLUSTER_SETTLE_TIMEOUT, &never)
        .expect("the killed node rejoins");
    let rejoined = cluster
        .nodes()
        .unwrap()
        .into_iter()
        .find(|n| n.addr == old.addr)
        .unwrap();
    assert_eq!(rejoined.id, old.id, "it rejoined under its own id");
    assert_eq!(rejoined.role, ClusterRole::Replica);
    assert_eq!(rejoined.primary_id.as_deref(), Some(new.id.as_str()));
    eprintln!("cluster failover by kill: replica promoted {took:?} after the kill");
}

#[test]
fn cluster_failover_on_a_replica_swaps_it_with_its_primary() {
    let cluster = start(ServerOptions::default());
    let nodes = cluster.nodes().unwrap();
    let old = cluster.primaries().unwrap()[0].clone();
    let replica = nodes
        .iter()
        .find(|n| n.primary_id.as_deref() == Some(old.id.as_str()))
        .unwrap()
        .clone();
    let never = AtomicBool::new(false);
    cluster.failover_to(replica.addr).unwrap();
    let new = cluster
        .wait_promoted(&old, CLUSTER_SETTLE_TIMEOUT, &never)
        .unwrap();
    assert_eq!(new.id, replica.id);
    cluster
        .wait_settled(CLUSTER_SETTLE_TIMEOUT, &never)
        .expect("the old primary follows the new one");
    let demoted = cluster
        .nodes()
        .unwrap()
        .into_iter()
        .find(|n| n.id == old.id)
        .unwrap();
    assert_eq!(demoted.role, ClusterRole::Replica);
    // A replica cannot be asked to fail over to itself twice: a primary refuses.
    let e = cluster.failover_to(replica.addr).unwrap_err().to_string();
    assert!(e.contains("CLUSTER FAILOVER"), "{e}");
}

#[test]
fn starting_a_cluster_is_cancellable_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    // A "redis-server" that never answers: the start waits for it until cancelled.
    let fake = dir.path().join("mute-cluster-redis-server");
    // A shell loop, not `exec sleep`, so the process keeps the script's name.
    std::fs::write(&fake, "#!/bin/sh\nwhile true; do sleep 1; done\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let starting = {
        let (fake, cancel) = (fake.clone(), cancel.clone());
        std::thread::spawn(move || ClusterTopology::start(fake, ServerOptions::default(), cancel))
    };
    // Matched by the script's full path, so a run of this test elsewhere on the machine is
    // not ours.
    let fake_path = fake.to_string_lossy().into_owned();
    let ours = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*fake_path))
            })
            .filter(|pid| alive(*pid))
            .collect()
    };
    crate::support::wait_until(Duration::from_secs(30), "the first node to start", || {
        !ours().is_empty()
    });
    let started = ours();
    cancel.store(true, Ordering::SeqCst);
    // Cancelled, not ended by the start's own deadline: the cancel was heard.
    let outcome = starting.join().unwrap();
    assert!(
        matches!(outcome, Err(ServerError::Cancelled)),
        "{outcome:?}"
    );
    for pid in started {
        crate::support::wait_until(
            Duration::from_secs(10),
            "the half-started node to be gone",
            || !alive(pid),
        );
    }
}
