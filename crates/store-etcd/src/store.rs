//! [`EtcdStore`]: the connection, and the [`Store`] trait routed to the kv, watch and lease
//! modules.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{Client, ConnectOptions, KvClient, LeaseClient, WatchClient};
use keelson_store::{
    KeyValue, LeaseId, RangeRequest, RangeResponse, Revision, Store, StoreError, WatchStream,
};
use tokio::time::Instant;

use crate::error::store_error;
use crate::namespace::Namespace;
use crate::options::EtcdOptions;

/// HTTP/2 pings detect a dead connection (and so a stuck watch) without waiting for TCP.
/// etcd answers pings more frequent than `--grpc-keepalive-min-time` (5 s) with GOAWAY.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response accepted. tonic's default (4 MiB) is far below what etcd sends for a large
/// range or watch batch; etcd's own client accepts up to `i32::MAX`, and so do we.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// Pause between attempts while `connect` waits for etcd to answer.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A [`Store`] on an etcd v3 cluster. Cheap to share: every request runs on one multiplexed
/// gRPC connection.
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
    pub(crate) ns: Namespace,
}

impl EtcdStore {
    /// Connect to etcd and wait (up to `options.connect_timeout`) until it serves a read.
    pub async fn connect(options: EtcdOptions) -> Result<Self, StoreError> {
        // `require_leader` makes etcd fail requests and cancel watches while the member has
        // no leader, instead of leaving them hanging across a partition.
        let connect_options = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_require_leader(true);
        let client = Client::connect(&options.endpoints, Some(connect_options))
            .await
            .map_err(|err| store_error(&err, &Default::default()))?;
        let store = Self {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            lease: client.lease_client(),
            ns: Namespace::new(options.prefix.clone()),
        };
        store.await_answer(&options).await?;
        Ok(store)
    }

    /// The channel connects lazily, and a starting member answers "no leader" for a while,
    /// so retry a read until it succeeds or the connect timeout runs out.
    async fn await_answer(&self, options: &EtcdOptions) -> Result<(), StoreError> {
        let deadline = Instant::now() + options.connect_timeout;
        let mut last_error = None;
        loop {
            match tokio::time::timeout_at(deadline, self.probe_revision(None)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(err)) => last_error = Some(store_error(&err, &Default::default())),
                Err(_elapsed) => break,
            }
            if Instant::now() + CONNECT_RETRY_DELAY >= deadline {
                break;
            }
            tokio::time::sleep(CONNECT_RETRY_DELAY).await;
        }
        let cause = last_error.map_or_else(|| "no answer".to_owned(), |err| err.to_string());
        Err(StoreError::Backend(format!(
            "etcd at {:?} did not answer within {:?}: {cause}",
            options.endpoints, options.connect_timeout
        )))
    }

    // The etcd-client clients are cheap handles on one channel whose calls take `&mut self`.
    pub(crate) fn kv_client(&self) -> KvClient {
        self.kv.clone()
    }

    pub(crate) fn watch_client(&self) -> WatchClient {
        self.watch.clone()
    }

    pub(crate) fn lease_client(&self) -> LeaseClient {
        self.lease.clone()
    }
}

impl std::fmt::Debug for EtcdStore {
    // The etcd-client handles print nothing useful; the namespace tells stores apart.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("namespace", &self.ns)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn create(
        &self,
        key: &str,
        value: Bytes,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        self.create_key(key, value, lease).await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        self.update_key(key, value, expected_mod_revision, lease)
            .await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(KeyValue, Revision), StoreError> {
        self.delete_key(key, expected_mod_revision).await
    }

    async fn get(
        &self,
        key: &str,
        revision: Option<Revision>,
    ) -> Result<(Option<KeyValue>, Revision), StoreError> {
        self.get_key(key, revision).await
    }

    async fn range(&self, request: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.range_keys(request).await
    }

    async fn watch(
        &self,
        prefix: &str,
        after_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        self.open_watch(prefix, after_revision).await
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        let result = self.probe_revision(None).await;
        self.checked(result, Default::default()).await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.compact_to(revision).await
    }

    async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId, StoreError> {
        self.grant_lease(ttl_seconds).await
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64, StoreError> {
        self.keep_lease_alive(lease).await
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<(), StoreError> {
        self.revoke_lease(lease).await
    }
}
