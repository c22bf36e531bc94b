//! The typed half of [`CacheManager`]'s API: values go through serde JSON and the
//! configured codec, then through the byte-level calls (breaker, failover and all).

use super::CacheManager;
use crate::cache::codec;
use crate::cache::error::OpError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

impl CacheManager {
    /// GET a typed value.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, OpError> {
        match self.get_bytes(key).await?.value {
            Some(bytes) => codec::decode_json(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// SET a typed value with a TTL.
    pub async fn set<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), OpError> {
        let bytes = self.inner.config.codec.encode_json(value)?;
        self.set_bytes(key, &bytes, ttl).await.map(|_| ())
    }

    /// Cache-aside with a typed value (the guide's `getOrSet`); concurrent misses share one
    /// load when `single_flight` is on.
    pub async fn get_or_set<T, F, Fut, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<T, OpError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        E: std::fmt::Display,
    {
        let codec = self.inner.config.codec;
        let load = async move {
            let value = loader().await.map_err(|e| OpError::Loader(e.to_string()))?;
            codec.encode_json(&value)
        };
        let (served, _) = self.get_or_load(key, ttl, load).await?;
        codec::decode_json(&served.value)
    }

    /// MGET of typed values.
    pub async fn mget<T: DeserializeOwned>(
        &self,
        keys: &[&str],
    ) -> Result<Vec<Option<T>>, OpError> {
        self.mget_bytes(keys)
            .await?
            .value
            .into_iter()
            .map(|v| v.map(|b| codec::decode_json(&b)).transpose())
            .collect()
    }

    /// MSET of typed values with one TTL.
    pub async fn mset<T: Serialize>(
        &self,
        items: &[(&str, T)],
        ttl: Option<Duration>,
    ) -> Result<(), OpError> {
        let encoded: Vec<Vec<u8>> = items
            .iter()
            .map(|(_, v)| self.inner.config.codec.encode_json(v))
            .collect::<Result<_, _>>()?;
        let pairs: Vec<(&str, &[u8])> = items
            .iter()
            .zip(&encoded)
            .map(|((k, _), v)| (*k, v.as_slice()))
            .collect();
        self.mset_bytes(&pairs, ttl).await.map(|_| ())
    }
}
