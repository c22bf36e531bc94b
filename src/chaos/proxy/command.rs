//! `redline proxy`: the fault proxy on its own, in front of any Redis, with Toxiproxy's HTTP
//! API ([`super::api`]) to switch faults on and off, so people can drill their own
//! application. Runs until SIGINT or SIGTERM, then stops listening, closes every proxied
//! connection and exits 0.

use super::api::{self, ApiState};
use super::{check_upstream, FaultProxy};
use crate::cli::ProxyArgs;
use crate::shutdown::{Cause, Shutdown};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// How long open API requests get to finish once a stop is requested.
const API_GRACE: Duration = Duration::from_secs(2);

/// Runs the proxy (and its API when asked) until a stop signal; returns the exit code.
pub async fn run(args: ProxyArgs) -> anyhow::Result<u8> {
    let shutdown = stop_on_signals().context("cannot install the SIGINT/SIGTERM handlers")?;
    check_upstream(&args.upstream).map_err(|reason| anyhow::anyhow!("--upstream: {reason}"))?;
    check_name(&args.name).map_err(|reason| anyhow::anyhow!("--name: {reason}"))?;
    let proxy = FaultProxy::start(args.listen, args.upstream.clone())
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let proxy = Arc::new(proxy);
    let api = match args.api {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--api)"))?,
        ),
        None => None,
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "proxy {}: listening on {}, forwarding to {}",
            args.name,
            proxy.local_addr(),
            args.upstream
        )?;
        if let Some(api) = &api {
            writeln!(
                out,
                "api: http://{} (Toxiproxy's HTTP API)",
                api.local_addr()?
            )?;
        }
        out.flush()?;
    }
    match api {
        Some(listener) => {
            let state = Arc::new(ApiState {
                name: args.name.clone(),
                proxy: proxy.clone(),
            });
            let stop = shutdown.clone();
            let server = axum::serve(listener, api::router(state))
                .with_graceful_shutdown(async move { stop.stopping().await });
            tokio::select! {
                served = server => served.context("the API server failed")?,
                // A client holding a request open cannot keep the proxy alive.
                () = async { shutdown.stopping().await; tokio::time::sleep(API_GRACE).await } => {}
            }
        }
        None => shutdown.stopping().await,
    }
    proxy.shutdown();
    let counters = proxy.counters();
    let cause = shutdown
        .cause()
        .map_or("a stop request".to_string(), |c| c.to_string());
    eprintln!(
        "proxy {} stopped by {cause}: {} connection(s), {} command(s) forwarded",
        args.name, counters.connections, counters.commands_up
    );
    Ok(0)
}

/// A shutdown triggered by the first SIGINT or SIGTERM. Not [`Shutdown::on_signals`]: the
/// proxy has no report or keys to clean up, so one signal is all it takes, and its message
/// would promise a cleanup that does not exist.
fn stop_on_signals() -> std::io::Result<Shutdown> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        let cause = tokio::select! {
            Some(()) = sigint.recv() => Cause::Sigint,
            Some(()) = sigterm.recv() => Cause::Sigterm,
            else => return,
        };
        trigger.trigger(cause);
    });
    Ok(shutdown)
}

/// A proxy name is one path segment of the API.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 || name.contains(['/', '?', '#', ' ']) {
        Err(format!(
            "`{name}` must be 1 to 200 characters without `/`, `?`, `#` or spaces"
        ))
    } else {
        Ok(())
    }
}
