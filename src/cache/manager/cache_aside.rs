//! Cache-aside on bytes (the guide's `getOrSet`): GET, and on a miss load, store and return
//! the value. With `single_flight` on, concurrent misses for one key share one load and
//! write-back ([`SingleFlight`](crate::cache::single_flight::SingleFlight)).

use super::{CacheManager, Served};
use crate::cache::error::OpError;
use std::future::Future;
use std::time::Duration;

impl CacheManager {
    /// Cache-aside on bytes: GET, and on a miss call `loader`, store its value with `ttl`
    /// and return it. The flag says whether this caller's loader ran. With `single_flight`
    /// on, concurrent misses for `key` share one load and write-back: the others wait for
    /// it and get its value, or its error.
    pub async fn get_or_set_bytes<F, Fut, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<(Served<Vec<u8>>, bool), OpError>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<Vec<u8>, E>> + Send,
        E: std::fmt::Display,
    {
        let load = async move { loader().await.map_err(|e| OpError::Loader(e.to_string())) };
        self.get_or_load(key, ttl, load).await
    }

    /// [`get_or_set_bytes`](Self::get_or_set_bytes) with a load that already speaks
    /// [`OpError`] (the typed API's encoding errors stay codec errors).
    pub(crate) async fn get_or_load(
        &self,
        key: &str,
        ttl: Option<Duration>,
        load: impl Future<Output = Result<Vec<u8>, OpError>> + Send,
    ) -> Result<(Served<Vec<u8>>, bool), OpError> {
        let got = self.get_bytes(key).await?;
        if let Some(v) = got.value {
            return Ok((
                Served {
                    value: v,
                    source: got.source,
                    cause: got.cause,
                },
                false,
            ));
        }
        let store = async move {
            let value = load.await?;
            let stored = self.set_bytes(key, &value, ttl).await?;
            Ok(Served {
                value,
                source: stored.source,
                cause: stored.cause,
            })
        };
        let (result, loaded) = match &self.inner.flights {
            Some(flights) => flights.run(key, store).await,
            None => (store.await, true),
        };
        if let Err(OpError::Loader(_)) = &result {
            self.inner.counters.errors.incr();
        }
        result.map(|served| (served, loaded))
    }
}
