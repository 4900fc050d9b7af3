//! The store: an MVCC key-value store with one global revision, modelled on the subset of etcd v3
//! that a Kubernetes API server needs.
//!
//! Every mutation bumps the store's single revision by one. Each key remembers the revision that
//! created it (`create_revision`) and the revision that last changed it (`mod_revision`); writes
//! are conditional on `mod_revision`, which is what Kubernetes calls the `resourceVersion`.
//!
//! Backends:
//! - [`embedded::EmbeddedStore`]: the default; on-disk, crash-safe, with group commit.
//! - [`memory::MemStore`]: in memory only, for unit tests.
//! - `keelson-store-etcd`: etcd v3 over gRPC, for high availability.
//!
//! Every backend runs the same [`conformance`] suite.
//!
//! Architecture invariant: only the API server (and the management plane's own stores) hold a
//! [`Store`]. Schedulers, controllers and node agents go through the Kubernetes API.

mod error;
mod types;

pub mod conformance;
pub mod embedded;
pub mod linearizability;
pub mod memory;
mod mvcc;

pub use error::StoreError;
pub use types::*;

use async_trait::async_trait;
use bytes::Bytes;

/// A boxed stream of watch events, as returned by [`Store::watch`].
pub type WatchStream = futures::stream::BoxStream<'static, Result<WatchEvent, StoreError>>;

/// The MVCC store interface.
///
/// Revision semantics follow etcd v3:
/// - The store revision starts at 1 on an empty store and increases by exactly one per
///   successful mutation (create, update, delete). Failed or conditional-false operations do
///   not change it.
/// - `create` succeeds only if the key is absent.
/// - `update` and `delete` with `expected_mod_revision = Some(r)` succeed only if the key exists
///   and its `mod_revision == r`.
/// - Reads at a revision below the compaction point fail with [`StoreError::Compacted`]; reads at
///   a revision above the current one fail with [`StoreError::FutureRevision`].
/// - A write acknowledged with `Ok` is durable (for the embedded store: fsynced).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create `key` if it does not exist. Returns the new key-value (its `mod_revision` is the
    /// revision of the write). Fails with [`StoreError::AlreadyExists`] otherwise.
    async fn create(
        &self,
        key: &str,
        value: Bytes,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError>;

    /// Replace `key`'s value if its `mod_revision` equals `expected_mod_revision`.
    /// Fails with [`StoreError::NotFound`] if the key is absent and with
    /// [`StoreError::Conflict`] (carrying the current value) if the revision differs.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError>;

    /// Delete `key`, if `expected_mod_revision` is `None` or equals its `mod_revision`.
    /// Returns the deleted key-value as it was and the revision of the deletion.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(KeyValue, Revision), StoreError>;

    /// Read one key at `revision` (`None` = current). Returns the value (if present) and the
    /// revision the read was served at.
    async fn get(
        &self,
        key: &str,
        revision: Option<Revision>,
    ) -> Result<(Option<KeyValue>, Revision), StoreError>;

    /// Read a key range in key order. See [`RangeRequest`].
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse, StoreError>;

    /// Stream every change to keys starting with `prefix` whose revision is `> after_revision`,
    /// in revision order, with no gaps. Fails with [`StoreError::Compacted`] if
    /// `after_revision + 1` is below the compaction point. The stream ends with an error if the
    /// watcher falls too far behind or the store closes.
    async fn watch(
        &self,
        prefix: &str,
        after_revision: Revision,
    ) -> Result<WatchStream, StoreError>;

    /// The current revision of the store.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// Forget every version older than `revision` that has been superseded. Reads below
    /// `revision` then fail with [`StoreError::Compacted`].
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// Grant a lease that expires `ttl_seconds` after its last keep-alive. Keys attached to an
    /// expired or revoked lease are deleted (each deletion is a normal revision and watch event).
    async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId, StoreError>;

    /// Refresh a lease; returns its TTL. Fails with [`StoreError::LeaseNotFound`].
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64, StoreError>;

    /// Revoke a lease now, deleting its keys.
    async fn lease_revoke(&self, lease: LeaseId) -> Result<(), StoreError>;
}
