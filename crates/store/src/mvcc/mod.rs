//! The MVCC core shared by the in-memory and embedded backends: the versioned index, the watch
//! hub, the lease table and the write path. A backend is this core plus a [`Journal`] that
//! decides when a batch of changes is durable (at once in memory; after fsync on disk).

mod change;
mod leases;
mod reaper;
mod state;
mod watch;

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{broadcast, oneshot};

pub(crate) use change::{Change, CommitBatch};
pub(crate) use reaper::LeaseReaper;
pub(crate) use state::State;

use crate::{
    EventKind, KeyValue, LeaseId, RangeRequest, RangeResponse, Revision, StoreError, WatchEvent,
    WatchStream,
};

/// etcd's default request size limit; larger values are refused with `TooLarge`.
pub(crate) const MAX_ENTRY_BYTES: usize = 1536 * 1024;

/// Default number of events a watcher may fall behind before it is cancelled.
pub(crate) const DEFAULT_WATCH_BUFFER: usize = 16 * 1024;

/// State plus the broadcast hub. Publishing happens under the state lock, which is what lets a
/// new watcher join without gaps or duplicates.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    hub: broadcast::Sender<WatchEvent>,
}

impl Shared {
    pub fn new(state: State, watch_buffer: usize) -> Arc<Self> {
        let (hub, _) = broadcast::channel(watch_buffer.max(1));
        Arc::new(Self {
            state: Mutex::new(state),
            hub,
        })
    }

    /// Make a batch visible: advance the committed revision and wake the watchers. The caller
    /// holds the state lock and publishes batches in revision order.
    pub fn publish(&self, state: &mut State, batch: CommitBatch) {
        state.committed = state.committed.max(batch.head);
        for event in batch.events {
            // An error only means nobody is watching right now.
            let _ = self.hub.send(event);
        }
    }
}

/// Receives committed batches from the engine.
pub(crate) trait Journal: Send + Sync + 'static {
    /// Called with the state lock held, in revision order. Returns `None` if the batch is
    /// already published, or a receiver that resolves once it is durable and published.
    fn submit(
        &self,
        shared: &Shared,
        state: &mut State,
        batch: CommitBatch,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError>;
}

/// The in-memory journal: every batch is "durable" as soon as it is applied.
pub(crate) struct ImmediateJournal;

impl Journal for ImmediateJournal {
    fn submit(
        &self,
        shared: &Shared,
        state: &mut State,
        batch: CommitBatch,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError> {
        shared.publish(state, batch);
        Ok(None)
    }
}

#[derive(Clone)]
pub(crate) struct Engine {
    pub shared: Arc<Shared>,
    pub journal: Arc<dyn Journal>,
}

fn check_size(key: &str, value: &Bytes) -> Result<(), StoreError> {
    let size = key.len() + value.len();
    if size > MAX_ENTRY_BYTES {
        return Err(StoreError::TooLarge {
            size,
            limit: MAX_ENTRY_BYTES,
        });
    }
    Ok(())
}

fn check_lease(state: &State, lease: Option<LeaseId>) -> Result<LeaseId, StoreError> {
    match lease.unwrap_or(0) {
        0 => Ok(0),
        id if state.leases.contains(id) => Ok(id),
        id => Err(StoreError::LeaseNotFound(id)),
    }
}

impl Engine {
    /// Run `mutation` under the state lock, hand its batch to the journal, then wait (outside
    /// the lock) until the journal says it is durable.
    ///
    /// A refused mutation (conflict, not found, ...) may have been judged against writes that
    /// are not durable yet, so it waits for them too (an empty barrier batch): otherwise a
    /// client could see a conflict caused by a write that a later read does not show, or that
    /// a crash erases.
    async fn mutate<T>(
        &self,
        mutation: impl FnOnce(&mut State) -> Result<(T, CommitBatch), StoreError>,
    ) -> Result<T, StoreError> {
        let (output, pending) = {
            let mut state = self.shared.state.lock();
            state.check_open()?;
            let (output, batch) = match mutation(&mut state) {
                Ok((output, batch)) => (Ok(output), batch),
                Err(err) if state.head > state.committed => (
                    Err(err),
                    CommitBatch {
                        head: state.head,
                        ..CommitBatch::default()
                    },
                ),
                Err(err) => return Err(err),
            };
            (
                output,
                self.journal.submit(&self.shared, &mut state, batch)?,
            )
        };
        if let Some(durable) = pending {
            durable.await.map_err(|_| StoreError::Closed)??;
        }
        output
    }

    pub async fn create(
        &self,
        key: &str,
        value: Bytes,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        check_size(key, &value)?;
        self.mutate(|state| {
            if let Some(current) = state.latest(key) {
                return Err(StoreError::AlreadyExists {
                    current: Box::new(current.clone()),
                });
            }
            let lease = check_lease(state, lease)?;
            let revision = state.head + 1;
            let kv = KeyValue {
                key: key.to_owned(),
                value,
                create_revision: revision,
                mod_revision: revision,
                version: 1,
                lease,
            };
            state.install_put(kv.clone());
            let event = WatchEvent {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev: None,
            };
            let batch = CommitBatch {
                changes: vec![Change::Put(kv.clone())],
                events: vec![event],
                head: revision,
            };
            Ok((kv, batch))
        })
        .await
    }

    pub async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        check_size(key, &value)?;
        self.mutate(|state| {
            let current = state.latest(key).ok_or(StoreError::NotFound)?;
            if current.mod_revision != expected_mod_revision {
                return Err(StoreError::Conflict {
                    expected: expected_mod_revision,
                    current: Box::new(current.clone()),
                });
            }
            let (create_revision, version) = (current.create_revision, current.version + 1);
            let lease = check_lease(state, lease)?;
            let revision = state.head + 1;
            let kv = KeyValue {
                key: key.to_owned(),
                value,
                create_revision,
                mod_revision: revision,
                version,
                lease,
            };
            let prev = state.install_put(kv.clone());
            let event = WatchEvent {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev,
            };
            let batch = CommitBatch {
                changes: vec![Change::Put(kv.clone())],
                events: vec![event],
                head: revision,
            };
            Ok((kv, batch))
        })
        .await
    }

    pub async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(KeyValue, Revision), StoreError> {
        self.mutate(|state| {
            let current = state.latest(key).ok_or(StoreError::NotFound)?;
            if let Some(expected) = expected_mod_revision
                && current.mod_revision != expected
            {
                return Err(StoreError::Conflict {
                    expected,
                    current: Box::new(current.clone()),
                });
            }
            let mut batch = CommitBatch::default();
            let deleted = delete_into(state, key, &mut batch).ok_or(StoreError::NotFound)?;
            Ok(((deleted, batch.head), batch))
        })
        .await
    }

    pub fn get(
        &self,
        key: &str,
        revision: Option<Revision>,
    ) -> Result<(Option<KeyValue>, Revision), StoreError> {
        let state = self.shared.state.lock();
        let revision = state.read_revision(revision)?;
        Ok((state.get(key, revision), revision))
    }

    pub fn range(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.shared.state.lock().range(request)
    }

    pub fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream, StoreError> {
        let state = self.shared.state.lock();
        state.check_open()?;
        if after_revision + 1 < state.compacted {
            return Err(StoreError::Compacted {
                requested: after_revision + 1,
                compacted: state.compacted,
            });
        }
        let live = self.shared.hub.subscribe();
        let replay = state.history(prefix, after_revision, state.committed);
        let live_after = after_revision.max(state.committed);
        Ok(watch::watch_stream(
            replay,
            live,
            prefix.to_owned(),
            live_after,
        ))
    }

    pub fn current_revision(&self) -> Revision {
        self.shared.state.lock().committed
    }

    pub async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.mutate(|state| {
            if revision > state.committed {
                return Err(StoreError::FutureRevision {
                    requested: revision,
                    current: state.committed,
                });
            }
            if revision <= state.compacted {
                return Err(StoreError::Compacted {
                    requested: revision,
                    compacted: state.compacted,
                });
            }
            state.compact_to(revision);
            let batch = CommitBatch {
                changes: vec![Change::Compact { revision }],
                events: vec![],
                head: state.head,
            };
            Ok(((), batch))
        })
        .await
    }

    pub async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId, StoreError> {
        if ttl_seconds <= 0 {
            return Err(StoreError::Backend(format!(
                "lease TTL must be positive, got {ttl_seconds}"
            )));
        }
        self.mutate(|state| {
            let id = state.leases.allocate_id();
            state.leases.grant(id, ttl_seconds);
            let change = Change::LeaseGrant {
                id,
                ttl: ttl_seconds,
            };
            Ok((
                id,
                CommitBatch {
                    changes: vec![change],
                    events: vec![],
                    head: state.head,
                },
            ))
        })
        .await
    }

    pub fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64, StoreError> {
        let mut state = self.shared.state.lock();
        state.check_open()?;
        state
            .leases
            .keep_alive(lease)
            .ok_or(StoreError::LeaseNotFound(lease))
    }

    /// Delete every key attached to `lease` (one revision each), then forget the lease; all in
    /// one batch so a crash cannot leave half of it behind.
    pub async fn lease_revoke(&self, lease: LeaseId) -> Result<(), StoreError> {
        self.mutate(|state| {
            let attached = state
                .leases
                .leases
                .get(&lease)
                .ok_or(StoreError::LeaseNotFound(lease))?
                .keys
                .clone();
            let mut batch = CommitBatch {
                head: state.head,
                ..CommitBatch::default()
            };
            for key in attached {
                delete_into(state, &key, &mut batch);
            }
            state.leases.leases.remove(&lease);
            batch.changes.push(Change::LeaseRevoke { id: lease });
            Ok(((), batch))
        })
        .await
    }
}

/// Delete `key` at the next revision, adding the change and event to `batch`.
fn delete_into(state: &mut State, key: &str, batch: &mut CommitBatch) -> Option<KeyValue> {
    let revision = state.head + 1;
    let prev = state.install_delete(key, revision)?;
    batch.changes.push(Change::Delete {
        key: key.to_owned(),
        revision,
    });
    batch.events.push(WatchEvent {
        kind: EventKind::Delete,
        kv: state::tombstone(key, revision),
        prev: Some(prev.clone()),
    });
    batch.head = revision;
    Some(prev)
}

/// Implement [`crate::Store`] for a backend struct with `engine: Engine` and
/// `reaper: LeaseReaper` fields by delegating to the engine.
macro_rules! delegate_store_to_engine {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $backend {
            async fn create(
                &self,
                key: &str,
                value: bytes::Bytes,
                lease: Option<$crate::LeaseId>,
            ) -> Result<$crate::KeyValue, $crate::StoreError> {
                self.engine.create(key, value, lease).await
            }

            async fn update(
                &self,
                key: &str,
                value: bytes::Bytes,
                expected_mod_revision: $crate::Revision,
                lease: Option<$crate::LeaseId>,
            ) -> Result<$crate::KeyValue, $crate::StoreError> {
                self.engine
                    .update(key, value, expected_mod_revision, lease)
                    .await
            }

            async fn delete(
                &self,
                key: &str,
                expected_mod_revision: Option<$crate::Revision>,
            ) -> Result<($crate::KeyValue, $crate::Revision), $crate::StoreError> {
                self.engine.delete(key, expected_mod_revision).await
            }

            async fn get(
                &self,
                key: &str,
                revision: Option<$crate::Revision>,
            ) -> Result<(Option<$crate::KeyValue>, $crate::Revision), $crate::StoreError> {
                self.engine.get(key, revision)
            }

            async fn range(
                &self,
                request: $crate::RangeRequest,
            ) -> Result<$crate::RangeResponse, $crate::StoreError> {
                self.engine.range(&request)
            }

            async fn watch(
                &self,
                prefix: &str,
                after_revision: $crate::Revision,
            ) -> Result<$crate::WatchStream, $crate::StoreError> {
                self.engine.watch(prefix, after_revision)
            }

            async fn current_revision(&self) -> Result<$crate::Revision, $crate::StoreError> {
                Ok(self.engine.current_revision())
            }

            async fn compact(&self, revision: $crate::Revision) -> Result<(), $crate::StoreError> {
                self.engine.compact(revision).await
            }

            async fn lease_grant(
                &self,
                ttl_seconds: i64,
            ) -> Result<$crate::LeaseId, $crate::StoreError> {
                self.reaper.ensure_started(&self.engine);
                self.engine.lease_grant(ttl_seconds).await
            }

            async fn lease_keep_alive(
                &self,
                lease: $crate::LeaseId,
            ) -> Result<i64, $crate::StoreError> {
                self.engine.lease_keep_alive(lease)
            }

            async fn lease_revoke(&self, lease: $crate::LeaseId) -> Result<(), $crate::StoreError> {
                self.engine.lease_revoke(lease).await
            }
        }
    };
}
pub(crate) use delegate_store_to_engine;
