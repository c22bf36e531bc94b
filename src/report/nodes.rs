//! report.json's `nodes` section: per-node figures of a Redis Cluster target over the
//! measured phase, and the **hot-shard skew** — how much more than an even share of the
//! work the busiest primary did. Zipfian keys make one shard hot; the skew says by how much,
//! which sizes the cluster (the busiest node, not the average, runs out first).
//!
//! Every figure is a Redis INFO change between two snapshots of each node, taken with the
//! run's server INFO (when warmup ends and when the measured phase ends), so preload, warmup
//! and cleanup traffic are left out:
//!
//! - `ops`: the **data commands** the node executed: the `calls` of every command in INFO
//!   commandstats except connection, server-admin and cluster-management commands (INFO,
//!   PING, CLUSTER, CONFIG, CLIENT, SCAN, REPLCONF, ... see
//!   [`crate::target::node_info::NOT_DATA_COMMANDS`]). Not `total_commands_processed`,
//!   which also counts redline's own INFO requests and the cluster client's topology
//!   queries. A command redirected by MOVED/ASK counts once, on the node that ran it
//!   (Redis counts the refused attempt as `rejected_calls`, not `calls`). A batch split by
//!   slot counts once per node it went to, so the nodes' sum can exceed the run's
//!   `totals.commands` when MGET/MSET span slots; a failover drill's acknowledged-writes
//!   probe, which writes beside the load, is counted too.
//! - `keyspace_hits` / `keyspace_misses` / `hit_rate`, `evicted_keys`: INFO stats deltas.
//! - `used_memory`, `maxmemory`: at the end of the window.
//!
//! Replicas are listed with their role (their `ops` are the writes replicated to them) but
//! are not counted in the skew: the skew is the busiest primary's share of the primaries'
//! operations divided by an even share (1 / primaries), 1.0 meaning perfectly even and
//! `primaries` meaning one node did everything. A node whose counters restarted during the
//! window (its INFO `run_id` changed: killed and restarted) counts from its restart; a node
//! that did not answer at one end of the window is named in `unanswered` and left out.
//!
//! This module only computes and words; [`crate::target::node_info`] reads the nodes.

use super::format;
use super::summary::{round_to, Window, RATE_DECIMALS};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// Primaries listed one per line in the terminal summary before "... and N more".
const MAX_TERMINAL_ROWS: usize = 6;

/// One node's INFO at one instant, as read by the collector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSample {
    /// `host:port`, as the cluster announces it.
    pub addr: String,
    /// The cluster node id ("" when unknown).
    pub id: String,
    /// INFO replication `role:master`.
    pub primary: bool,
    /// A replica's primary (`master_host:master_port`), `None` for a primary.
    pub primary_addr: Option<String>,
    /// INFO server `run_id`: a new one means the process restarted and its counters reset.
    pub run_id: String,
    /// Calls of the data commands (see the module header) since the process started.
    pub data_commands: u64,
    /// INFO stats `keyspace_hits`.
    pub keyspace_hits: u64,
    /// INFO stats `keyspace_misses`.
    pub keyspace_misses: u64,
    /// INFO stats `evicted_keys`.
    pub evicted_keys: u64,
    /// INFO memory `used_memory`, bytes.
    pub used_memory: u64,
    /// INFO memory `maxmemory`, bytes; 0 means unlimited.
    pub maxmemory: u64,
}

/// A node's role at the end of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Serves slots; counted in the skew.
    Primary,
    /// Copies a primary; listed, not counted in the skew.
    Replica,
}

impl NodeRole {
    /// Lower-case name, as in report.json.
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Replica => "replica",
        }
    }
}

/// The `nodes` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodesReport {
    /// When the two INFO snapshots were taken (the server INFO's window).
    pub window: Window,
    /// Primaries first (by address), then replicas (by address).
    pub nodes: Vec<NodeStats>,
    /// Primaries that answered at the end: the skew's denominator.
    pub primaries: u64,
    /// The busiest primary; `None` when the primaries executed no data command.
    pub hot_shard: Option<HotShard>,
    /// Nodes that did not answer INFO at the start or the end of the window (left out of
    /// the figures: without both snapshots there is no change to report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unanswered: Vec<String>,
}

/// One node's figures over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// `host:port`.
    pub addr: String,
    /// Cluster node id ("" when unknown).
    #[serde(default)]
    pub id: String,
    /// Role at the end of the window.
    pub role: NodeRole,
    /// A replica's primary (`host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// Data commands executed (see the module header).
    pub ops: u64,
    /// `ops` / all primaries' `ops`; `None` for replicas and when no primary did anything.
    pub share: Option<f64>,
    /// `keyspace_hits` delta.
    pub keyspace_hits: u64,
    /// `keyspace_misses` delta.
    pub keyspace_misses: u64,
    /// hits / (hits + misses); `None` without reads.
    pub hit_rate: Option<f64>,
    /// `evicted_keys` delta.
    pub evicted_keys: u64,
    /// `used_memory` at the end, bytes.
    pub used_memory: u64,
    /// `maxmemory`, bytes; 0 means unlimited.
    pub maxmemory: u64,
    /// True when the node restarted during the window: its figures count from the restart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarted: bool,
}

/// The busiest primary and how far from even the load was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotShard {
    /// The busiest primary (`host:port`).
    pub addr: String,
    /// Its data commands.
    pub ops: u64,
    /// Its share of the primaries' data commands, 0..=1.
    pub share: f64,
    /// `share / (1 / primaries)`: 1.0 is an even spread, `primaries` is one node doing
    /// everything. The `hot_shard_skew` threshold metric.
    pub skew: f64,
}

/// The section from the snapshots at the start (`before`) and end (`after`) of `window`;
/// `unanswered` names nodes that did not answer at the end, and a node missing from
/// `before` joins them. `None` without any node.
pub fn build(
    before: &[NodeSample],
    after: &[NodeSample],
    unanswered: Vec<String>,
    window: Window,
) -> Option<NodesReport> {
    let mut unanswered = unanswered;
    let (after, late): (Vec<&NodeSample>, Vec<&NodeSample>) = after
        .iter()
        .partition(|a| before.iter().any(|b| b.addr == a.addr));
    unanswered.extend(late.into_iter().map(|a| a.addr.clone()));
    if after.is_empty() {
        return None;
    }
    let mut nodes: Vec<NodeStats> = after
        .into_iter()
        .map(|a| {
            // A node restarted in between counts from its restart.
            let base = before
                .iter()
                .find(|b| b.addr == a.addr && b.run_id == a.run_id)
                .cloned()
                .unwrap_or_default();
            let restarted = before
                .iter()
                .any(|b| b.addr == a.addr && b.run_id != a.run_id);
            let hits = a.keyspace_hits.saturating_sub(base.keyspace_hits);
            let misses = a.keyspace_misses.saturating_sub(base.keyspace_misses);
            NodeStats {
                addr: a.addr.clone(),
                id: a.id.clone(),
                role: if a.primary {
                    NodeRole::Primary
                } else {
                    NodeRole::Replica
                },
                replica_of: a.primary_addr.clone().filter(|_| !a.primary),
                ops: a.data_commands.saturating_sub(base.data_commands),
                share: None,
                keyspace_hits: hits,
                keyspace_misses: misses,
                hit_rate: fraction(hits, hits + misses),
                evicted_keys: a.evicted_keys.saturating_sub(base.evicted_keys),
                used_memory: a.used_memory,
                maxmemory: a.maxmemory,
                restarted,
            }
        })
        .collect();
    nodes.sort_by(|x, y| {
        (x.role != NodeRole::Primary, &x.addr).cmp(&(y.role != NodeRole::Primary, &y.addr))
    });
    let is_primary = |n: &&NodeStats| n.role == NodeRole::Primary;
    let primaries = nodes.iter().filter(is_primary).count() as u64;
    let total: u64 = nodes.iter().filter(is_primary).map(|n| n.ops).sum();
    for n in nodes.iter_mut().filter(|n| n.role == NodeRole::Primary) {
        n.share = fraction(n.ops, total);
    }
    // Ties go to the first address, so the report is the same for the same figures.
    let hot_shard = nodes
        .iter()
        .filter(is_primary)
        .fold(None::<&NodeStats>, |best, n| match best {
            Some(b) if b.ops >= n.ops => Some(b),
            _ => Some(n),
        })
        .filter(|_| total > 0)
        .map(|n| {
            let share = n.ops as f64 / total as f64;
            HotShard {
                addr: n.addr.clone(),
                ops: n.ops,
                share: round_to(share, RATE_DECIMALS),
                skew: round_to(share * primaries as f64, 3),
            }
        });
    unanswered.sort();
    Some(NodesReport {
        window,
        nodes,
        primaries,
        hot_shard,
        unanswered,
    })
}

/// `1 primary`, `3 primaries`.
fn primaries(n: u64) -> String {
    match n {
        1 => "1 primary".to_string(),
        n => format!("{} primaries", format::count(n)),
    }
}

fn fraction(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round_to(part as f64 / whole as f64, RATE_DECIMALS))
}

impl NodesReport {
    /// The skew in one sentence: `hot shard 127.0.0.1:7001: 61.2% of the primaries' data
    /// commands, 1.84× an even share (3 primaries; 1.00× is even)`.
    pub fn skew_sentence(&self) -> String {
        let unanswered = match self.unanswered.len() {
            0 => String::new(),
            n => format!(
                "; {} did not answer INFO at one end of the window: {}",
                format::plural(n, "node"),
                self.unanswered.join(", ")
            ),
        };
        match &self.hot_shard {
            Some(h) => format!(
                "hot shard {}: {} of the primaries' data commands, {:.2}× an even share \
                 ({}; 1.00× is even){unanswered}",
                h.addr,
                format::percent(h.share, 1),
                h.skew,
                primaries(self.primaries),
            ),
            None => format!(
                "no skew: the {} executed no data command{unanswered}",
                primaries(self.primaries)
            ),
        }
    }

    /// The terminal's lines: the skew sentence, then one line per primary (the first few).
    pub fn terminal_lines(&self) -> Vec<String> {
        let replicas = self.nodes.len() as u64 - self.primaries;
        let mut lines = vec![format!(
            "{}{}",
            self.skew_sentence(),
            match replicas {
                0 => String::new(),
                n => format!(" · {} not counted", format::plural(n as usize, "replica")),
            }
        )];
        let primaries: Vec<&NodeStats> = (self.nodes.iter())
            .filter(|n| n.role == NodeRole::Primary)
            .collect();
        for n in primaries.iter().take(MAX_TERMINAL_ROWS) {
            lines.push(format!(
                "  {}  {} ops ({})  hit {}  mem {}  evicted {}",
                n.addr,
                format::count(n.ops),
                format::percent_opt(n.share, 1),
                format::percent_opt(n.hit_rate, 1),
                format::bytes(n.used_memory),
                format::count(n.evicted_keys)
            ));
        }
        if primaries.len() > MAX_TERMINAL_ROWS {
            lines.push(format!(
                "  ... and {} more (report.json nodes)",
                primaries.len() - MAX_TERMINAL_ROWS
            ));
        }
        lines
    }

    /// The table's cells per node, in order: node, role, ops, share, hit rate, used memory,
    /// evicted (Markdown and HTML escape them themselves).
    pub fn rows(&self) -> Vec<[String; 7]> {
        self.nodes
            .iter()
            .map(|n| {
                let mut role = n.role.name().to_string();
                if let Some(p) = &n.replica_of {
                    role.push_str(&format!(" of {p}"));
                }
                if n.restarted {
                    role.push_str(" (restarted)");
                }
                let memory = if n.maxmemory > 0 {
                    format!(
                        "{} of {}",
                        format::bytes(n.used_memory),
                        format::bytes(n.maxmemory)
                    )
                } else {
                    format::bytes(n.used_memory)
                };
                [
                    n.addr.clone(),
                    role,
                    format::count(n.ops),
                    n.share
                        .map_or_else(|| "—".to_string(), |s| format::percent(s, 1)),
                    format::percent_opt(n.hit_rate, 1),
                    memory,
                    format::count(n.evicted_keys),
                ]
            })
            .collect()
    }
}

/// The table's header, matching [`NodesReport::rows`].
const COLUMNS: [&str; 7] = [
    "Node",
    "Role",
    "Ops",
    "Share",
    "Hit rate",
    "Used memory",
    "Evicted",
];

/// What `Ops` counts, for the renderers' note under the table.
const OPS_NOTE: &str = "Ops are the data commands each node executed (INFO commandstats \
     calls, without INFO, PING, CLUSTER and other admin commands); replicas execute the \
     writes replicated to them and are not counted in the skew.";

/// summary.md's section: the skew sentence, the table, what `Ops` counts.
pub fn markdown(n: &NodesReport, w: &mut dyn Write) -> io::Result<()> {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    writeln!(
        w,
        "## Cluster nodes (INFO change over the measured phase, {})",
        format::window(&n.window)
    )?;
    writeln!(w)?;
    writeln!(w, "{}.", cell(&upper_first(&n.skew_sentence())))?;
    writeln!(w)?;
    writeln!(w, "| {} |", COLUMNS.join(" | "))?;
    writeln!(w, "|---|---|--:|--:|--:|--:|--:|")?;
    for row in n.rows() {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        writeln!(w, "| {} |", cells.join(" | "))?;
    }
    writeln!(w)?;
    writeln!(w, "{OPS_NOTE}")?;
    writeln!(w)
}

/// report.html's section: the skew sentence (`id="hot-shard"`) and the table
/// (`id="nodes"`).
pub fn html(n: &NodesReport, h: &mut String) -> std::fmt::Result {
    use super::html::escape;
    use std::fmt::Write as _;
    writeln!(
        h,
        "<h2>Cluster nodes</h2>\n<p class=\"muted\">INFO change over the measured phase, \
         {}.</p>",
        escape(&format::window(&n.window))
    )?;
    writeln!(
        h,
        "<p id=\"hot-shard\">{}.</p>\n<table id=\"nodes\">",
        escape(&upper_first(&n.skew_sentence()))
    )?;
    write!(h, "<tr>")?;
    for c in COLUMNS {
        write!(h, "<th>{c}</th>")?;
    }
    writeln!(h, "</tr>")?;
    for row in n.rows() {
        write!(h, "<tr>")?;
        for (i, c) in row.iter().enumerate() {
            // Node and role are text; the rest are figures.
            let class = if i < 2 { "" } else { " class=\"num\"" };
            write!(h, "<td{class}>{}</td>", escape(c))?;
        }
        writeln!(h, "</tr>")?;
    }
    writeln!(h, "</table>\n<p class=\"muted\">{}</p>", escape(OPS_NOTE))
}

/// `text` with its first letter capitalised.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[path = "nodes/tests.rs"]
pub(crate) mod tests;
