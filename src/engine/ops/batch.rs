//! The operations of several keys in one call — MGET, MSET and a pipeline of mixed
//! commands — each recorded as one operation of many commands, with every key's read judged
//! by the stale-read checker and every write bumping the key's version.

use super::Workload;
use crate::cache::codec::{self, CodecConfig};
use crate::cache::redis_store::{Command, Reply};
use crate::engine::outcome::Outcome;
use crate::op::OpKind;
use crate::scenario::workload::OpSpec;
use rand::rngs::SmallRng;
use std::sync::atomic::Ordering;

impl Workload {
    pub(super) async fn mget(&self, rng: &mut SmallRng, spec: &OpSpec) -> Outcome {
        let n = self.mix.batch(spec, rng);
        let versions = self.origin.versions();
        let indices = self.batch_indices(rng, n);
        let keys: Vec<String> = indices.iter().map(|&i| self.key(i)).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let reads: Vec<_> = indices.iter().map(|&i| versions.read(i)).collect();
        let call = self.backend.mget(&refs).await;
        let mut out = Outcome::of(&call);
        match call.result {
            Ok((vals, via)) => {
                out.served(via);
                let hits = vals.iter().filter(|v| v.is_some()).count() as u64;
                out.read(hits, vals.len() as u64 - hits);
                for (v, read) in vals.iter().zip(reads) {
                    // Only followed keys are decoded: the check is the only reason to.
                    if let (Some(v), Some(_)) = (v, &read) {
                        if let Ok(d) = codec::decode(v) {
                            out.check(versions.judge(read, &d));
                        }
                    }
                }
            }
            Err(e) => out.fail(&e),
        }
        out
    }

    pub(super) async fn mset(
        &self,
        rng: &mut SmallRng,
        spec: &OpSpec,
        codec: &CodecConfig,
    ) -> Outcome {
        let n = self.mix.batch(spec, rng);
        let versions = self.origin.versions();
        let mut keys = Vec::with_capacity(n);
        let mut vals = Vec::with_capacity(n);
        let mut writes = Vec::with_capacity(n);
        let (mut raw_total, mut wire_total) = (0, 0);
        for index in self.batch_indices(rng, n) {
            keys.push(self.key(index));
            let write = versions.write(index, Some(spec.ttl));
            let value = self.value(rng, codec, write.as_ref().and_then(|w| w.stamp.as_ref()));
            writes.push(write);
            match value {
                Ok((v, raw)) => {
                    raw_total += raw;
                    wire_total += v.len() as u64;
                    vals.push(v);
                }
                Err(e) => {
                    writes.into_iter().for_each(|w| versions.write_done(w));
                    return Outcome::failed(&e);
                }
            }
        }
        let items: Vec<(&str, &[u8])> = keys
            .iter()
            .map(String::as_str)
            .zip(vals.iter().map(|v| &**v))
            .collect();
        self.keys_written.fetch_add(n as u64, Ordering::Relaxed);
        let call = self.backend.mset(&items, spec.ttl).await;
        writes.into_iter().for_each(|w| versions.write_done(w));
        let mut out = Outcome::of(&call);
        match call.result {
            Ok(((), via)) => {
                out.served(via);
                out.bytes = Some((raw_total, wire_total));
            }
            Err(e) => out.fail(&e),
        }
        out
    }

    /// One operation of `batch` commands in one round trip; it completes with its last
    /// reply and fails if any command failed.
    pub(super) async fn pipeline(
        &self,
        rng: &mut SmallRng,
        spec: &OpSpec,
        codec: &CodecConfig,
    ) -> Outcome {
        let n = self.mix.batch(spec, rng);
        let versions = self.origin.versions();
        let mut cmds = Vec::with_capacity(n);
        // Per command, what the origin held when a GET was sent; the writes in progress.
        let mut reads = Vec::with_capacity(n);
        let mut writes = Vec::new();
        let (mut raw_total, mut wire_total) = (0, 0);
        for index in self.batch_indices(rng, n) {
            let key = self.key(index);
            let mut read = None;
            cmds.push(match self.mix.pipeline_op(spec, rng) {
                OpKind::Set => {
                    let write = versions.write(index, Some(spec.ttl));
                    let stamp = write.as_ref().and_then(|w| w.stamp);
                    writes.push(write);
                    match self.value(rng, codec, stamp.as_ref()) {
                        Ok((v, raw)) => {
                            raw_total += raw;
                            wire_total += v.len() as u64;
                            self.keys_written.fetch_add(1, Ordering::Relaxed);
                            Command::Set(key, v.into_owned(), Some(spec.ttl))
                        }
                        Err(_) => Command::Get(key),
                    }
                }
                OpKind::Del => {
                    writes.push(versions.write(index, None));
                    Command::Del(key)
                }
                _ => {
                    read = versions.read(index);
                    Command::Get(key)
                }
            });
            reads.push(read);
        }
        let mut out = Outcome::default();
        if raw_total > 0 {
            out.bytes = Some((raw_total, wire_total));
        }
        let mut last = None;
        let replies = self.backend.pipeline(&cmds).await;
        writes.into_iter().for_each(|w| versions.write_done(w));
        for ((call, at), read) in replies.into_iter().zip(reads) {
            last = last.max(Some(at));
            out.commands += call.commands;
            out.redis.add(call.redis);
            match call.result {
                Ok((reply, via)) => {
                    out.served(via);
                    if let Reply::Value(v) = reply {
                        out.read(u64::from(v.is_some()), u64::from(v.is_none()));
                        if let (Some(v), Some(_)) = (&v, &read) {
                            if let Ok(d) = codec::decode(v) {
                                out.check(versions.judge(read, &d));
                            }
                        }
                    }
                }
                Err(e) => out.fail(&e),
            }
        }
        out.done = last;
        out
    }
}
