//! Redis Cluster: the `redis+cluster://` URL and the cluster's node list.
//!
//! `redis+cluster://[[user]:password@]host[:port][,host[:port]...]` names seed nodes (port
//! 6379 when omitted); the client learns the rest of the cluster, and which node serves
//! which hash slot, from them. The credentials are every node's. A cluster has only
//! database 0, so the URL takes no database. TLS to a cluster (`rediss+cluster://`,
//! REDIS_TLS_ENABLED) is refused: the nodes announce their own addresses, and the
//! certificate names they should be checked against are not known here; untested support
//! would be worse than a clear refusal.
//!
//! The connection itself is [`cluster_link`](super::cluster_link); [`ClusterNode`] is one
//! line of `CLUSTER NODES`, read whenever the roles matter (cleanup and INFO go to every
//! primary; after a failover the primaries change).

use super::config::{redact_raw, ConfigError};
use super::multi_host::{self, bracketed, MultiHostUrl, Schemes};

/// The URL scheme of a cluster target.
pub const SCHEME: &str = "redis+cluster";
/// A cluster node's default port.
const DEFAULT_PORT: u16 = 6379;

/// A parsed `redis+cluster://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    /// `host:port` of each seed node, in the URL's order.
    pub seeds: Vec<(String, u16)>,
    /// `redis://[userinfo@]host:port` of each seed: the nodes' credentials with each address.
    pub seed_urls: Vec<String>,
}

impl std::fmt::Debug for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterUrl")
            .field("seeds", &self.seeds)
            .finish()
    }
}

impl ClusterUrl {
    /// `redis://[userinfo@]host:port` of any node: the seeds' credentials with `host:port`.
    pub fn node_url(&self, host: &str, port: u16) -> String {
        let userinfo = self
            .seed_urls
            .first()
            .and_then(|u| u.strip_prefix("redis://"))
            .and_then(|rest| rest.rfind('@').map(|at| &rest[..=at]))
            .unwrap_or("");
        format!("redis://{userinfo}{}:{port}", bracketed(host))
    }
}

/// True when `url` uses a cluster scheme (`redis+cluster://` or the refused
/// `rediss+cluster://`).
pub fn is_cluster_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("redis+cluster:") || lower.starts_with("rediss+cluster:")
}

/// Parses a cluster URL. Errors name what is wrong and never contain the password.
pub fn parse(url: &str) -> Result<ClusterUrl, ConfigError> {
    let bad = |reason: &str| ConfigError::MalformedUrl {
        url: redact_raw(url),
        reason: reason.to_string(),
    };
    let MultiHostUrl {
        userinfo,
        hosts: seeds,
        path,
    } = multi_host::split(
        url,
        &Schemes {
            plain: SCHEME,
            tls: "rediss+cluster",
            expected: "expected redis+cluster://host:port[,host:port...]",
            tls_refused: "TLS to a Redis Cluster is not supported; use redis+cluster://",
            host: "cluster node",
            default_port: DEFAULT_PORT,
        },
    )?;
    match path {
        "" | "0" => {}
        other => {
            return Err(bad(&format!(
                "a Redis Cluster has only database 0, the URL names {other:?}"
            )))
        }
    }
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let seed_urls = seeds
        .iter()
        .map(|(h, p)| format!("redis://{userinfo}{}:{p}", bracketed(h)))
        .collect();
    Ok(ClusterUrl { seeds, seed_urls })
}

/// One node of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node's 40-character id.
    pub id: String,
    /// Its client address, `host` and `port` (the cluster bus port left off).
    pub host: String,
    pub port: u16,
    /// True for a primary, false for a replica.
    pub primary: bool,
    /// A replica's primary.
    pub primary_id: Option<String>,
    /// Hash slot ranges served (primaries), inclusive.
    pub slots: Vec<(u16, u16)>,
    /// Flagged `fail` or `noaddr`: not to be asked.
    pub failed: bool,
}

impl ClusterNode {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", bracketed(&self.host), self.port)
    }
}

/// Parses `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping-sent>
/// <pong-recv> <config-epoch> <link-state> <slot>...`. Lines that do not have that shape
/// are a protocol error: the peer is not a cluster node.
pub fn parse_nodes(text: &str) -> Result<Vec<ClusterNode>, String> {
    let mut nodes = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 8 {
            return Err(format!(
                "CLUSTER NODES line has {} fields, not at least 8",
                fields.len()
            ));
        }
        let address = fields[1].split(['@', ',']).next().unwrap_or("");
        let (host, port) = match address.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>().unwrap_or(0),
            ),
            None => ("", 0),
        };
        let flags: Vec<&str> = fields[2].split(',').collect();
        let primary = flags.contains(&"master");
        let failed = flags
            .iter()
            .any(|f| matches!(*f, "fail" | "noaddr" | "handshake"))
            || host.is_empty()
            || port == 0;
        let mut slots = Vec::new();
        for s in &fields[8..] {
            // `[slot->-node]` entries are slots being migrated: not served yet.
            if s.starts_with('[') {
                continue;
            }
            let range = match s.split_once('-') {
                Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
                None => (s.parse::<u16>(), s.parse::<u16>()),
            };
            if let (Ok(a), Ok(b)) = range {
                slots.push((a, b));
            }
        }
        nodes.push(ClusterNode {
            id: fields[0].to_string(),
            host: host.to_string(),
            port,
            primary,
            primary_id: (fields[3] != "-").then(|| fields[3].to_string()),
            slots,
            failed,
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seeds_and_credentials() {
        let u = parse("redis+cluster://u:p%40w@10.0.0.1:7000,n2,[::1]:7002").unwrap();
        assert_eq!(
            u.seeds,
            vec![
                ("10.0.0.1".to_string(), 7000),
                ("n2".to_string(), 6379),
                ("::1".to_string(), 7002)
            ]
        );
        assert_eq!(u.seed_urls[2], "redis://u:p%40w@[::1]:7002");
        assert_eq!(u.node_url("h", 1), "redis://u:p%40w@h:1");
        let u = parse("REDIS+CLUSTER://h:1/").unwrap();
        assert_eq!(u.node_url("h", 2), "redis://h:2");
        assert!(format!("{u:?}").contains("seeds"));
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, want) in [
            ("redis+cluster://:hunter22@h:x", "bad port"),
            ("redis+cluster://:hunter22@h:0", "bad port"),
            (
                "redis+cluster://:hunter22@h:1,,h:2",
                "empty cluster node address",
            ),
            ("redis+cluster://:hunter22@", "empty cluster node address"),
            ("redis+cluster://:hunter22@h:1/3", "only database 0"),
            ("rediss+cluster://:hunter22@h:1", "not supported"),
            ("redis+cluster://:hunter22@h:1?x=1", "no query"),
            ("redis+cluster:/:hunter22@h:1", "expected redis+cluster://"),
        ] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("hunter22"), "{e}");
        }
        assert!(is_cluster_url("redis+cluster://h"));
        assert!(!is_cluster_url("redis://h"));
    }

    #[test]
    fn cluster_nodes_lines_give_roles_addresses_and_slots() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002,host.name master - 0 1426238316232 2 connected 5461-10922
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 12000 [5461->-67ed]
dead :0@0 master,fail,noaddr - 0 0 3 disconnected
";
        let n = parse_nodes(text).unwrap();
        assert_eq!(n.len(), 4);
        assert!(!n[0].primary && n[0].primary_id.as_deref() == Some("e7d1"));
        assert_eq!(n[1].addr(), "127.0.0.1:30002");
        assert_eq!(n[1].slots, vec![(5461, 10922)]);
        assert_eq!(n[2].slots, vec![(0, 5460), (12000, 12000)]);
        assert!(n[3].failed && !n[2].failed);
        assert!(parse_nodes("garbage line").is_err());
    }
}
