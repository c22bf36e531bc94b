//! Client counts and server INFO deltas cover the same window, the measured phase: preload
//! and warmup traffic is in neither, so the two hit rates can be compared.

use crate::engine::{options, run, scenario};
use crate::support::redis;

/// GETs over a preloaded keyspace, with DELs so that some reads miss; one second of warmup
/// at the same rate as the measured second.
const PRELOAD_AND_WARMUP: &str = r#"
name = "windows"
thresholds = []

[target]
kind = "redis"

[keyspace]
keys = 2000
value_size = "32B"

[[ops]]
kind = "get"
weight = 4

[[ops]]
kind = "del"
weight = 1

[load]
model = "open"
rate = 600
connections = 2
preload = true
warmup = "1s"
duration = "1s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_info_deltas_cover_the_measured_phase_like_the_client_counts() {
    let server = redis();
    let summary = run(&scenario(PRELOAD_AND_WARMUP), &options(&server, 7, false)).await;
    let t = &summary.totals;
    let sv = summary.server.as_ref().expect("server stats from INFO");
    assert!(t.hits > 100 && t.misses > 0, "{t:?}");
    // Operations in flight when warmup ends can land on either side of the INFO snapshot:
    // allow a few, nothing like the warmup's 600 operations.
    let close = |client: u64, server: u64| client.abs_diff(server) <= 10 + client / 20;
    assert!(
        close(t.hits, sv.keyspace_hits) && close(t.misses, sv.keyspace_misses),
        "client hits/misses {}/{} vs INFO {}/{}: the server window is not the measured phase \
         (server {sv:?}, measured window {:?})",
        t.hits,
        t.misses,
        sv.keyspace_hits,
        sv.keyspace_misses,
        summary.measured_window
    );
    // Both windows start when warmup (1 s) ends, never before it, and the INFO window ends
    // with the measured phase, after the last counted operation.
    let (client, info) = (summary.measured_window, sv.window);
    assert!(
        client.start_s >= 1.0 && info.start_s >= 1.0,
        "client window {client:?}, INFO window {info:?}"
    );
    assert!(
        info.start_s < client.end_s && info.end_s >= client.end_s,
        "client window {client:?}, INFO window {info:?}"
    );
}
