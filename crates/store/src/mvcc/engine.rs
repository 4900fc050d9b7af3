//! The write and read paths shared by every backend built on the MVCC core.

use std::sync::Arc;

use bytes::Bytes;

use super::{Change, CommitBatch, Journal, MAX_ENTRY_BYTES, Shared, State, state, watch};
use crate::{
    EventKind, KeyValue, LeaseId, RangeRequest, RangeResponse, Revision, StoreError, WatchEvent,
    WatchStream,
};

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
