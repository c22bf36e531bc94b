//! OS plumbing for the embedded server: locating the executable, picking free ports,
//! sending signals, watching /proc for the stopped state, writing private files.

use std::fs::{self, File, OpenOptions};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::ServerError;

/// The `redis-server` to run: `REDLINE_REDIS_SERVER` if set (a path, or a name looked up
/// on PATH), else `redis-server` on PATH.
pub fn redis_server_binary() -> Result<PathBuf, ServerError> {
    redis_server_binary_in(&|name| std::env::var(name).ok())
}

/// [`redis_server_binary`] with REDLINE_REDIS_SERVER and PATH taken from `env`, so the
/// caller decides where the environment comes from (tests pass a map).
pub fn redis_server_binary_in(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ServerError> {
    let path_var = env("PATH");
    match env("REDLINE_REDIS_SERVER").filter(|v| !v.is_empty()) {
        Some(value) => {
            let path = PathBuf::from(&value);
            let found = if path.components().count() > 1 {
                is_executable(&path).then_some(path.clone())
            } else {
                find_on_path(path_var.as_deref(), value.as_ref())
            };
            found.ok_or_else(|| ServerError::NotInstalled {
                location: format!("at {} (from REDLINE_REDIS_SERVER)", path.display()),
            })
        }
        None => find_on_path(path_var.as_deref(), "redis-server".as_ref()).ok_or_else(|| {
            ServerError::NotInstalled {
                location: "on PATH".into(),
            }
        }),
    }
}

/// A port that was free on 127.0.0.1 a moment ago. Someone else may take it before we
/// use it; [`EmbeddedRedis::start`] retries with another port when that happens.
///
/// Panics only if no loopback port can be bound at all, where nothing in redline can work.
pub fn free_port() -> u16 {
    match try_free_port() {
        Ok(port) => port,
        Err(e) => panic!("cannot bind any port on 127.0.0.1: {e}"),
    }
}

pub(super) fn try_free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| ServerError::io("cannot bind a free port on 127.0.0.1", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| ServerError::io("cannot read the bound port", e))
}

fn find_on_path(path: Option<&str>, name: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Writes a file readable by the owner only: the config may hold the password.
pub(super) fn write_private(path: &Path, contents: &str) -> Result<(), ServerError> {
    use std::io::Write;
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ServerError::io(format!("cannot write {}", path.display()), e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| ServerError::io(format!("cannot write {}", path.display()), e))
}

pub(super) fn send_signal(
    pid: u32,
    signal: libc::c_int,
    name: &'static str,
) -> Result<(), ServerError> {
    let raw = libc::pid_t::try_from(pid).map_err(|_| ServerError::Signal {
        signal: name,
        pid,
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    // SAFETY: kill(2) has no memory-safety preconditions; `raw` is our own unreaped child,
    // so the pid cannot have been recycled for another process.
    let rc = unsafe { libc::kill(raw, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(ServerError::Signal {
            signal: name,
            pid,
            source: std::io::Error::last_os_error(),
        })
    }
}

/// Waits (up to 1 s) until /proc reports the process stopped (`T`) or not, so a pause has
/// taken effect when `pause` returns. Without /proc (non-Linux) it returns at once.
pub(super) fn wait_for_stop_state(pid: u32, stopped: bool) {
    let stat_path = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let Ok(stat) = fs::read_to_string(&stat_path) else {
            return;
        };
        // The state follows the parenthesised command name, which may itself hold spaces.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        match state {
            Some(s) => {
                if (s == "T" || s == "t") == stopped {
                    return;
                }
            }
            None => return,
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for URL userinfo.
pub(super) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encode_keeps_unreserved_only() {
        assert_eq!(percent_encode("aZ9-._~"), "aZ9-._~");
        assert_eq!(percent_encode("p@ss:w/rd %"), "p%40ss%3Aw%2Frd%20%25");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn free_ports_are_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn missing_files_are_not_executable() {
        assert!(!is_executable(Path::new("/nonexistent/redis-server")));
        assert!(!is_executable(Path::new("/")));
    }
}
