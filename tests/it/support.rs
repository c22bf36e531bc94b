//! Shared helpers for the integration tests: a real `redis-server` per test on a free
//! port, polling with a deadline, TLS material, and the `redline` binary.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use redline::scenario::Scenario;
use redline::server::{EmbeddedRedis, ServerOptions, TlsFiles};
use redline::target::{Target, TargetRequest};

/// A fresh embedded server with default options (no password, no persistence).
#[allow(dead_code)]
pub fn redis() -> EmbeddedRedis {
    redis_with(ServerOptions::default())
}

/// A fresh embedded server with `opts`; panics with the server's error (log tail included).
#[allow(dead_code)]
pub fn redis_with(opts: ServerOptions) -> EmbeddedRedis {
    match EmbeddedRedis::start(opts) {
        Ok(server) => server,
        Err(e) => panic!("cannot start redis-server for the test: {e}"),
    }
}

/// A synchronous connection to `server` (with its password; TLS servers need
/// [`tls_connection`]).
#[allow(dead_code)]
pub fn connection(server: &EmbeddedRedis) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", server.redacted_url()))
}

/// A synchronous TLS connection to `server`, trusting the CA in `tls`.
#[allow(dead_code)]
pub fn tls_connection(
    server: &EmbeddedRedis,
    tls: &TlsFiles,
) -> redis::RedisResult<redis::Connection> {
    redline::server::install_crypto_provider();
    let ca = std::fs::read(&tls.ca_file).expect("read CA");
    let client = redis::Client::build_with_tls(
        server.url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca),
        },
    )?;
    client.get_connection_with_timeout(Duration::from_secs(5))
}

/// Polls `f` until it returns true; panics naming `what` when `deadline` passes.
#[allow(dead_code)]
pub fn wait_until(deadline: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    loop {
        if f() {
            return;
        }
        if Instant::now() >= end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes a CA and a server certificate for 127.0.0.1/localhost (signed by that CA) into
/// `dir`, and returns the paths in the shape the server options take.
#[allow(dead_code)]
pub fn tls_material(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "redline test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("sign server cert");

    let files = TlsFiles {
        cert_file: dir.join("server.crt"),
        key_file: dir.join("server.key"),
        ca_file: dir.join("ca.crt"),
    };
    std::fs::write(&files.cert_file, cert.pem()).expect("write cert");
    std::fs::write(&files.key_file, key.serialize_pem()).expect("write key");
    std::fs::write(&files.ca_file, ca_cert.pem()).expect("write CA");
    files
}

/// The `redline` binary built for these tests, with the guide's environment variables
/// cleared so a developer's shell cannot redirect a test at their own Redis.
#[allow(dead_code)]
pub fn redline_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redline"));
    for var in REDIS_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The guide's environment variables, which every test clears.
#[allow(dead_code)]
pub const REDIS_ENV_VARS: [&str; 8] = [
    "REDIS_URL",
    "REDIS_PASSWORD",
    "REDIS_TLS_ENABLED",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_CONNECT_TIMEOUT",
    "REDIS_KEY_PREFIX",
    "REDIS_MAX_RETRIES",
];

/// A numeric `field:value` line of an INFO reply (or of one `cmdstat_*` line's
/// `key=value` list, with `,` and `=` read as line breaks and `:`).
#[allow(dead_code)]
pub fn info_field(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no numeric {field}"))
}

/// Runs `cmd` to completion with its output captured (drained by threads, so a chatty child
/// never blocks); kills it and fails the test when `deadline` passes (a hang is a failure).
#[allow(dead_code)]
pub fn output_within(mut cmd: Command, deadline: Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = r.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            panic!("{cmd:?} still running after {deadline:?}; stderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A finished `redline`: its exit status and what it printed, as text.
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Status, stdout and stderr, for an assertion's message.
    pub fn describe(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// The `error: ...` line `main` prints for a command that could not start.
    #[allow(dead_code)]
    pub fn error_line(&self) -> Option<&str> {
        self.stderr.lines().find(|l| l.starts_with("error: "))
    }
}

/// [`output_within`], its output as text.
#[allow(dead_code)]
pub fn finished_within(cmd: Command, deadline: Duration) -> Finished {
    let out = output_within(cmd, deadline);
    Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The report.json a run wrote into `dir`.
#[allow(dead_code)]
pub fn read_report(dir: &Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report.json does not parse: {e}"))
}

/// Opens the target `engine::run` is given: `url` (usually a test's own server), or with
/// `None` whatever the scenario resolves to in an empty environment (a memory scenario).
#[allow(dead_code)]
pub async fn open_target(scenario: &Scenario, url: Option<&str>) -> Target {
    let request = TargetRequest {
        flag_url: url,
        spec: &scenario.target,
    };
    Target::open(&request, &|_| None)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test's target: {e}"))
}

/// SET `key` to `value` on `con`, panicking with the error: test set-up, not under test.
#[allow(dead_code)]
pub fn set_key(
    con: &mut redis::Connection,
    key: impl redis::ToRedisArgs,
    value: impl redis::ToRedisArgs,
) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(con)
        .unwrap_or_else(|e| panic!("test set-up SET failed: {e}"));
}
