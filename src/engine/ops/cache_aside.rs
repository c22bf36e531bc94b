//! Cache-aside (`get_or_set`) as the engine runs it, step by step so each is recorded: GET;
//! on a miss, load from the origin and write the value back, stamped with the version the
//! load returned; a hit is judged by the stale-read checker. With `cache.single_flight`,
//! concurrent misses of one key share one load and write-back.

use super::Workload;
use crate::cache::codec::{self, CodecConfig};
use crate::cache::OpError;
use crate::engine::origin::OriginError;
use crate::engine::outcome::Outcome;
use crate::scenario::workload::OpSpec;
use rand::rngs::SmallRng;

impl Workload {
    /// Cache-aside: GET; on a miss, load from the origin and write the value back. A failed
    /// write-back is an error of this operation; its bytes still count. With single flight,
    /// concurrent misses of one key wait for one load and write-back (and share its
    /// failure); only the caller that loaded counts an origin call.
    pub(super) async fn get_or_set(
        &self,
        rng: &mut SmallRng,
        spec: &OpSpec,
        codec: &CodecConfig,
    ) -> Outcome {
        let index = self.keys.next(rng);
        let key = self.key(index);
        let versions = self.origin.versions();
        let read = versions.read(index);
        let call = self.backend.get(&key).await;
        let mut out = Outcome::of(&call);
        match call.result {
            Err(e) => out.fail(&e),
            Ok((Some(v), via)) => {
                out.served(via);
                match codec::decode(&v) {
                    Ok(d) => {
                        out.read(1, 0);
                        out.check(versions.judge(read, &d));
                    }
                    Err(e) => out.fail(&e),
                }
            }
            Ok((None, via)) => {
                out.served(via);
                out.read(0, 1);
                let mut written = None;
                // Boxed: the load and write-back would otherwise be held in place up to three
                // times over (here, in the single flight and in its leader), and a debug
                // build's futures are large enough for that to overflow a worker's stack.
                let fill = Box::pin(async {
                    let version = self.origin.load(rng, index).await?;
                    let store = versions.store(index, version, spec.ttl);
                    let stamp = store.as_ref().map(|s| s.stamp);
                    written = Some(self.write(rng, &key, spec, codec, stamp.as_ref()).await);
                    versions.store_done(store);
                    Ok::<(), OriginError>(())
                });
                let (loaded, led) = match &self.flights {
                    Some(flights) => flights.run(&key, fill).await,
                    None => (fill.await, true),
                };
                out.origin_call = led;
                match (loaded, written) {
                    (Ok(()), Some(write_back)) => out.then(write_back),
                    (Ok(()), None) => {}
                    (Err(_), _) => out.fail(&OpError::Loader("origin failed".into())),
                }
            }
        }
        out
    }
}
