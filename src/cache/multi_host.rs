//! URLs that name several hosts, `redis+sentinel://` and `redis+cluster://`: the scheme
//! (its TLS variant refused), the userinfo, the comma-separated `host[:port]` list and the
//! path, split once for both. Errors name what is wrong and never contain the password.

use super::config::{redact_raw, ConfigError};

/// What a multi-host scheme calls things, for its parse and its messages.
pub(super) struct Schemes {
    /// The scheme accepted, e.g. `redis+cluster`.
    pub plain: &'static str,
    /// Its TLS variant, refused with `tls_refused`.
    pub tls: &'static str,
    /// The URL's shape, when it has no `://`.
    pub expected: &'static str,
    pub tls_refused: &'static str,
    /// What one host is (`sentinel`, `cluster node`), in messages.
    pub host: &'static str,
    /// Port of a host given without one.
    pub default_port: u16,
}

/// A multi-host URL, split.
pub(super) struct MultiHostUrl<'a> {
    /// `user:password` or `password`, as written (still percent-encoded).
    pub userinfo: Option<&'a str>,
    /// At least one host and port.
    pub hosts: Vec<(String, u16)>,
    /// What follows the first `/` after the hosts.
    pub path: &'a str,
}

/// Splits `url` as a `schemes.plain` URL.
pub(super) fn split<'a>(url: &'a str, schemes: &Schemes) -> Result<MultiHostUrl<'a>, ConfigError> {
    let bad = |reason: &str| ConfigError::MalformedUrl {
        url: redact_raw(url),
        reason: reason.to_string(),
    };
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or_else(|| bad(schemes.expected))?;
    if scheme.eq_ignore_ascii_case(schemes.tls) {
        return Err(bad(schemes.tls_refused));
    }
    if !scheme.eq_ignore_ascii_case(schemes.plain) {
        return Err(ConfigError::UnknownScheme {
            url: redact_raw(url),
            scheme: scheme.to_string(),
        });
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if authority.contains(['?', '#']) || path.contains(['?', '#']) {
        return Err(bad("takes no query or fragment"));
    }
    let hosts = hosts
        .split(',')
        .map(|h| parse_host(h, schemes.host, schemes.default_port).map_err(|reason| bad(&reason)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MultiHostUrl {
        userinfo,
        hosts,
        path,
    })
}

/// `host`, bracketed when it is an IPv6 address, as a URL or `host:port` needs it.
pub fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host[:port]` or `[v6]:port` of a `what` (sentinel, cluster node), `default_port` when
/// the port is omitted.
fn parse_host(text: &str, what: &str, default_port: u16) -> Result<(String, u16), String> {
    if text.is_empty() {
        return Err(format!("empty {what} address in the host list"));
    }
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {what} address {text:?}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {what} address {text:?}"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("bad port in {what} address {text:?}"))?,
    };
    Ok((host.to_string(), port))
}
