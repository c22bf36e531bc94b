//! OS plumbing for the embedded server: locating the executable, spawning it so that it
//! dies with redline, picking free ports, sending signals, watching /proc for the stopped
//! state, writing private files, and locking the temp dir so a later run can tell a dir
//! whose owner died from one in use.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex, OnceLock};
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
            found.ok_or(ServerError::BadBinarySetting { path })
        }
        None => find_on_path(path_var.as_deref(), "redis-server".as_ref()).ok_or_else(|| {
            ServerError::NotInstalled {
                location: "on PATH".into(),
            }
        }),
    }
}

/// The `redis-sentinel` to run beside `redis_server`: the one in the same directory, else
/// one on PATH, else `redis_server` itself (which runs as a sentinel when given
/// `--sentinel`; `redis-sentinel` is the same program under another name).
pub fn redis_sentinel_binary(redis_server: &Path) -> PathBuf {
    let sibling = redis_server.with_file_name("redis-sentinel");
    if is_executable(&sibling) {
        return sibling;
    }
    let path_var = std::env::var("PATH").ok();
    find_on_path(path_var.as_deref(), "redis-sentinel".as_ref())
        .unwrap_or_else(|| redis_server.to_path_buf())
}

/// True when `binary` is named `redis-sentinel`, so it needs no `--sentinel` argument.
pub(super) fn is_sentinel_binary(binary: &Path) -> bool {
    binary
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("redis-sentinel"))
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

/// A spawn request for the spawner thread and where its answer goes.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` so that the child is killed (SIGKILL) when redline dies, however it dies —
/// SIGKILL included, where no destructor runs (Linux `PR_SET_PDEATHSIG`; elsewhere a plain
/// spawn).
///
/// The death signal is sent when the *thread* that forked the child exits, not the process:
/// a server spawned from a tokio blocking-pool thread would be killed when that thread
/// idles out ten seconds later, and one spawned from a test's thread when the test ends.
/// So every spawn goes through one dedicated thread that lives as long as the process (it
/// waits on a channel whose sender is in a static and is never dropped). The main thread
/// would do as well for the binary, but not for a library caller or the test harness,
/// which call from threads of their own.
pub(super) fn spawn_tied_to_process(mut cmd: Command) -> io::Result<Child> {
    tie_to_parent(&mut cmd);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let started = std::thread::Builder::new()
            .name("redline-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = started {
            tracing::warn!("cannot start the spawner thread: {e}");
        }
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    let sent = spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx));
    match sent {
        Ok(()) => reply_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the spawner thread is gone"))),
        // No spawner thread (it could not be started): spawn here, still tied to this
        // thread, which is better than not tied at all.
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

#[cfg(target_os = "linux")]
fn tie_to_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid/getppid/prctl are async-signal-safe and the closure allocates nothing,
    // as code between fork and exec must.
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // If redline died between fork and prctl, no death signal will ever come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn tie_to_parent(_cmd: &mut Command) {}

/// Name of the lock file in each temp dir: held (flock) by the process that owns the dir.
const OWNER_LOCK: &str = "owner.lock";
/// Prefix of the embedded servers' temp dirs.
pub(super) const TEMP_DIR_PREFIX: &str = "redline-redis-";

/// An exclusive lock on `dir`'s owner file, held for as long as the value lives (the
/// kernel releases it when the process dies, SIGKILL included).
#[derive(Debug)]
pub(super) struct OwnerLock(#[allow(dead_code)] File);

/// Creates and locks `dir`'s owner file. It is locked under another name and then renamed,
/// so a concurrent [`remove_orphaned_dirs`] never sees it unlocked.
pub(super) fn lock_owner(dir: &Path) -> Result<OwnerLock, ServerError> {
    let staging = dir.join(format!("{OWNER_LOCK}.new"));
    let path = dir.join(OWNER_LOCK);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staging)
        .map_err(|e| ServerError::io(format!("cannot create {}", staging.display()), e))?;
    if !try_lock(&file) {
        return Err(ServerError::io(
            format!("cannot lock {}", staging.display()),
            io::Error::last_os_error(),
        ));
    }
    fs::rename(&staging, &path)
        .map_err(|e| ServerError::io(format!("cannot create {}", path.display()), e))?;
    Ok(OwnerLock(file))
}

fn try_lock(file: &File) -> bool {
    // SAFETY: flock(2) on a descriptor we own; no memory is passed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Removes the temp dirs of embedded servers whose redline died without cleaning up
/// (SIGKILL, power loss): their owner lock is free. The servers themselves died with
/// redline (see [`spawn_tied_to_process`]). Dirs without a lock file are left alone (an
/// older redline, or one still being set up). Best effort: errors are ignored.
pub(super) fn remove_orphaned_dirs(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(TEMP_DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(file) = OpenOptions::new().write(true).open(dir.join(OWNER_LOCK)) else {
            continue;
        };
        if try_lock(&file) {
            if let Err(e) = fs::remove_dir_all(&dir) {
                tracing::debug!("cannot remove orphaned {}: {e}", dir.display());
            } else {
                tracing::info!(
                    "removed {} left by a redline that was killed",
                    dir.display()
                );
            }
        }
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
    fn only_dirs_whose_owner_lock_is_free_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let owned = tmp.path().join(format!("{TEMP_DIR_PREFIX}owned"));
        let orphan = tmp.path().join(format!("{TEMP_DIR_PREFIX}orphan"));
        let unlocked = tmp.path().join(format!("{TEMP_DIR_PREFIX}no-lock"));
        let other = tmp.path().join("someone-else");
        for d in [&owned, &orphan, &unlocked, &other] {
            fs::create_dir(d).unwrap();
        }
        let _held = lock_owner(&owned).unwrap();
        // The orphan's owner took its lock and went away (the lock died with its file).
        drop(lock_owner(&orphan).unwrap());
        fs::write(other.join(OWNER_LOCK), "").unwrap();
        remove_orphaned_dirs(tmp.path());
        assert!(owned.is_dir(), "a dir in use was removed");
        assert!(!orphan.exists(), "an orphaned dir was kept");
        assert!(unlocked.is_dir() && other.is_dir());
    }

    #[test]
    fn missing_files_are_not_executable() {
        assert!(!is_executable(Path::new("/nonexistent/redis-server")));
        assert!(!is_executable(Path::new("/")));
    }
}
