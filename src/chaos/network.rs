//! Network faults as toxics on the [`FaultProxy`] a run places between the cache layer and
//! Redis, with Toxiproxy's names: `latency` → latency, `blackhole` → timeout 0, `reset` →
//! reset_peer, `refuse` → enabled = false, `bandwidth` → bandwidth, `slice` → slicer. The
//! toxic is named after the fault. A [`NetworkFault`] guard removes it (or enables the
//! proxy again) when undone or dropped, so a proxy that outlives the run is left clean.

use super::proxy::{FaultProxy, Stream, Toxic, ToxicKind};
use crate::scenario::faults::Stream as FileStream;
use crate::scenario::{FaultKind, FaultSpec};
use std::sync::Arc;

/// A network fault in force.
#[derive(Debug)]
pub struct NetworkFault {
    proxy: Arc<FaultProxy>,
    /// The toxic's name, or `None` for `refuse` (the proxy disabled).
    toxic: Option<String>,
    undone: bool,
}

fn stream(s: FileStream) -> Stream {
    match s {
        FileStream::Upstream => Stream::Upstream,
        FileStream::Downstream => Stream::Downstream,
    }
}

/// The toxic a network fault installs; `None` for `refuse`, which disables the proxy.
pub fn toxic_of(f: &FaultSpec) -> Result<Option<Toxic>, String> {
    let ms = |d: std::time::Duration| d.as_millis().min(u64::MAX as u128) as u64;
    let (s, kind) = match f.kind {
        FaultKind::Latency {
            latency,
            jitter,
            stream: s,
        } => (
            s,
            ToxicKind::Latency {
                latency: ms(latency),
                jitter: ms(jitter),
            },
        ),
        FaultKind::Blackhole { stream: s } => (s, ToxicKind::Timeout { timeout: 0 }),
        FaultKind::Reset { stream: s } => (s, ToxicKind::ResetPeer { timeout: 0 }),
        FaultKind::Bandwidth { rate, stream: s } => (
            s,
            // Toxiproxy's rate is in KB/s (1000 bytes); at least 1.
            ToxicKind::Bandwidth {
                rate: (rate / 1000).max(1),
            },
        ),
        FaultKind::Slice {
            average_size,
            size_variation,
            delay,
            stream: s,
        } => (
            s,
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay: delay.as_micros().min(u64::MAX as u128) as u64,
            },
        ),
        FaultKind::Refuse => return Ok(None),
        other => return Err(format!("{} is not a network fault", other.name().as_str())),
    };
    Ok(Some(Toxic::new(stream(s), kind).named(f.name.clone())))
}

/// Installs `f`'s toxic on `proxy` (or disables it, for `refuse`).
pub fn inject(proxy: &Arc<FaultProxy>, f: &FaultSpec) -> Result<(NetworkFault, String), String> {
    let toxic = toxic_of(f)?;
    let detail = match &toxic {
        Some(t) => {
            let detail = format!(
                "toxic {} {} on {} at the proxy {}",
                t.kind.type_name(),
                serde_json::Value::Object(super::proxy::toxic::attributes_of(&t.kind)),
                t.stream,
                proxy.local_addr()
            );
            proxy.add_toxic(t.clone()).map_err(|e| e.to_string())?;
            detail
        }
        None => {
            proxy.set_enabled(false).map_err(|e| e.to_string())?;
            format!(
                "proxy {} disabled (connections refused)",
                proxy.local_addr()
            )
        }
    };
    let fault = NetworkFault {
        proxy: proxy.clone(),
        toxic: toxic.map(|t| t.name),
        undone: false,
    };
    Ok((fault, detail))
}

impl NetworkFault {
    /// Removes the toxic, or enables the proxy again.
    pub fn undo(mut self) -> Result<String, String> {
        self.undone = true;
        restore(&self.proxy, self.toxic.as_deref())
    }
}

fn restore(proxy: &FaultProxy, toxic: Option<&str>) -> Result<String, String> {
    match toxic {
        Some(name) => proxy
            .remove_toxic(name)
            .map(|()| format!("toxic {name} removed"))
            .map_err(|e| e.to_string()),
        None => proxy
            .set_enabled(true)
            .map(|()| "proxy enabled again".to_string())
            .map_err(|e| e.to_string()),
    }
}

impl Drop for NetworkFault {
    fn drop(&mut self) {
        if !self.undone {
            if let Err(e) = restore(&self.proxy, self.toxic.as_deref()) {
                tracing::warn!("cannot undo a network fault: {e}");
            }
        }
    }
}
