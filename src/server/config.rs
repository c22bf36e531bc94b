//! Rendering of the generated `redis.conf` for an embedded server.
//!
//! The configuration goes into a file inside the server's private temp dir rather than onto
//! the command line, so the password never shows up in `ps` output. Values we generate
//! (password, paths, policy) are quoted the way redis.conf's tokenizer (`sdssplitargs`)
//! expects; caller-supplied `extra_config` values are written verbatim so that
//! multi-argument directives (`save "900 1"`, `rename-command CONFIG ""`) keep working.

use std::fmt::Write as _;
use std::path::Path;

use super::{ServerError, ServerOptions};

/// Renders the full configuration for one start of the server on `port` with `dir` as its
/// working directory. Fails on option values that cannot be expressed in redis.conf.
pub(crate) fn render(opts: &ServerOptions, port: u16, dir: &Path) -> Result<String, ServerError> {
    validate(opts)?;
    if opts.sentinel_mode {
        return Ok(render_sentinel(opts, port, dir));
    }
    let mut conf = String::new();
    // `fmt::Write` for `String` cannot fail; the `let _` keeps that explicit.
    let mut line = |directive: &str, value: &str| {
        let _ = writeln!(conf, "{directive} {value}");
    };
    line("bind", "127.0.0.1");
    line("daemonize", "no");
    line("supervised", "no");
    // Logs go to stdout, which the spawner redirects into a file in `dir`: that captures
    // the early config errors redis prints before it would open a `logfile`.
    line("logfile", "\"\"");
    line("loglevel", "notice");
    line("always-show-logo", "no");
    line("dir", &quote(&dir.to_string_lossy()));
    // Chaos tests use DEBUG SLEEP; redis 7 refuses DEBUG unless told otherwise, and "local"
    // still refuses it from anything but loopback.
    line("enable-debug-command", "local");
    match &opts.tls {
        Some(tls) => {
            line("port", "0");
            line("tls-port", &port.to_string());
            line("tls-cert-file", &quote(&tls.cert_file.to_string_lossy()));
            line("tls-key-file", &quote(&tls.key_file.to_string_lossy()));
            line("tls-ca-cert-file", &quote(&tls.ca_file.to_string_lossy()));
            // Without this redis demands a client certificate from every client.
            line("tls-auth-clients", "no");
        }
        None => line("port", &port.to_string()),
    }
    if let Some(password) = &opts.password {
        line("requirepass", &quote(password));
    }
    if let Some(bytes) = opts.maxmemory {
        line("maxmemory", &bytes.to_string());
    }
    if let Some(policy) = &opts.maxmemory_policy {
        line("maxmemory-policy", &quote(policy));
    }
    if opts.persistence {
        // The guide's "Enable persistence" plus "Enable AOF": redis 7's default save points.
        line("save", "\"3600 1 300 100 60 10000\"");
        line("appendonly", "yes");
    } else {
        line("save", "\"\"");
        line("appendonly", "no");
    }
    // Last, so a caller can override any default above (redis keeps the last occurrence).
    for (directive, value) in &opts.extra_config {
        line(directive, value);
    }
    Ok(conf)
}

/// A `redis-sentinel` configuration: only what a sentinel reads (its own port, loopback,
/// logging, working dir), then the `sentinel ...` directives from `extra_config`. Sentinel
/// rewrites this file on every state change, so it is kept for the process's life.
fn render_sentinel(opts: &ServerOptions, port: u16, dir: &Path) -> String {
    let mut conf = String::new();
    let mut line = |directive: &str, value: &str| {
        let _ = writeln!(conf, "{directive} {value}");
    };
    line("bind", "127.0.0.1");
    line("port", &port.to_string());
    line("daemonize", "no");
    line("logfile", "\"\"");
    line("dir", &quote(&dir.to_string_lossy()));
    for (directive, value) in &opts.extra_config {
        line(directive, value);
    }
    conf
}

/// Rejects option values that would corrupt the generated file (a newline would start a
/// new directive) or that redis cannot take.
fn validate(opts: &ServerOptions) -> Result<(), ServerError> {
    let invalid = |name: &str, reason: &str| ServerError::InvalidOption {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if let Some(password) = &opts.password {
        if password.is_empty() {
            return Err(invalid(
                "password",
                "must not be empty (use None for no password)",
            ));
        }
    }
    if let Some(policy) = &opts.maxmemory_policy {
        let ok = !policy.is_empty()
            && policy
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(invalid(
                "maxmemory_policy",
                "expected a policy name such as allkeys-lru",
            ));
        }
    }
    for (directive, value) in &opts.extra_config {
        let ok = !directive.is_empty()
            && directive
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(invalid(
                "extra_config",
                &format!("{directive:?} is not a redis.conf directive name"),
            ));
        }
        if value.contains(['\n', '\r']) {
            return Err(invalid(
                "extra_config",
                &format!("the value of {directive} must be on one line"),
            ));
        }
    }
    Ok(())
}

/// Quotes one argument for redis.conf: double quotes, with the escapes `sdssplitargs`
/// understands, so any byte sequence (spaces, quotes, `#`) survives as a single argument.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(quoted, "\\x{:02x}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::TlsFiles;
    use std::path::PathBuf;

    #[test]
    fn quote_escapes_what_sdssplitargs_would_split_on() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a b\"c\\d"), "\"a b\\\"c\\\\d\"");
        assert_eq!(quote("x\ny\u{1}"), "\"x\\ny\\x01\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn default_options_disable_persistence_and_bind_loopback() {
        let conf = render(&ServerOptions::default(), 7000, Path::new("/tmp/x")).unwrap();
        assert!(conf.contains("bind 127.0.0.1\n"));
        assert!(conf.contains("port 7000\n"));
        assert!(conf.contains("save \"\"\n"));
        assert!(conf.contains("appendonly no\n"));
        assert!(!conf.contains("requirepass"));
        assert!(!conf.contains("tls-port"));
    }

    #[test]
    fn tls_moves_the_port_to_tls_port() {
        let opts = ServerOptions {
            tls: Some(TlsFiles {
                cert_file: PathBuf::from("/c/cert.pem"),
                key_file: PathBuf::from("/c/key.pem"),
                ca_file: PathBuf::from("/c/ca.pem"),
            }),
            ..ServerOptions::default()
        };
        let conf = render(&opts, 7001, Path::new("/tmp/x")).unwrap();
        assert!(conf.contains("port 0\n"));
        assert!(conf.contains("tls-port 7001\n"));
        assert!(conf.contains("tls-ca-cert-file \"/c/ca.pem\"\n"));
    }

    #[test]
    fn extra_config_comes_last_and_verbatim() {
        let opts = ServerOptions {
            persistence: true,
            password: Some("p w\"d".into()),
            extra_config: vec![("rename-command".into(), "CONFIG \"\"".into())],
            ..ServerOptions::default()
        };
        let conf = render(&opts, 7002, Path::new("/tmp/x")).unwrap();
        assert!(conf.ends_with("rename-command CONFIG \"\"\n"));
        assert!(conf.contains("requirepass \"p w\\\"d\"\n"));
        assert!(conf.contains("appendonly yes\n"));
    }

    #[test]
    fn rejects_values_that_would_inject_directives() {
        let newline = ServerOptions {
            extra_config: vec![("maxclients".into(), "10\nrequirepass x".into())],
            ..ServerOptions::default()
        };
        assert!(matches!(
            render(&newline, 1, Path::new("/tmp")),
            Err(ServerError::InvalidOption { .. })
        ));
        let bad_name = ServerOptions {
            extra_config: vec![("max clients".into(), "10".into())],
            ..ServerOptions::default()
        };
        assert!(render(&bad_name, 1, Path::new("/tmp")).is_err());
        let bad_policy = ServerOptions {
            maxmemory_policy: Some("lru; rm".into()),
            ..ServerOptions::default()
        };
        assert!(render(&bad_policy, 1, Path::new("/tmp")).is_err());
        let empty_password = ServerOptions {
            password: Some(String::new()),
            ..ServerOptions::default()
        };
        assert!(render(&empty_password, 1, Path::new("/tmp")).is_err());
    }
}
