//! The raw store's own write rate: the same backend the control plane uses, opened directly in
//! this process, creates of ~1 KB values at the same concurrencies. API creates/s divided by this
//! is the API server's overhead as a ratio, measured under the same machine noise.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use keelson_store::Store;

use crate::BenchError;
use crate::driver::Worker;

/// Where the raw-store comparison opens its backend.
#[derive(Clone, Debug)]
pub enum RawTarget {
    /// A fresh embedded store in this directory.
    Embedded { dir: PathBuf },
    /// The bench's etcd, under a key prefix the control plane does not use.
    Etcd { endpoint: String, prefix: String },
}

/// Opens a backend exactly as `keelson control-plane` does. Supplied by the binary, which
/// already wires every backend (with the same options) for the control plane; the library then
/// needs only the `Store` trait.
pub type StoreOpener =
    Arc<dyn Fn(RawTarget) -> BoxFuture<'static, Result<Arc<dyn Store>, String>> + Send + Sync>;

pub struct RawCreator {
    pub store: Arc<dyn Store>,
    pub prefix: Arc<str>,
    pub value: Bytes,
}

impl Worker for RawCreator {
    async fn step(&mut self, seq: u64) -> Result<(), BenchError> {
        let key = format!("{}{seq}", self.prefix);
        self.store.create(&key, self.value.clone(), None).await?;
        Ok(())
    }
}

/// A ~1 KB value shaped like the stored ConfigMaps.
pub fn value() -> Bytes {
    crate::api::configmap_json("bench", "raw", Some("1"), 0)
}

pub async fn open(opener: &StoreOpener, target: RawTarget) -> Result<Arc<dyn Store>, BenchError> {
    let what = format!("{target:?}");
    opener(target)
        .await
        .map_err(|e| BenchError::Invalid(format!("opening the raw store {what}: {e}")))
}
