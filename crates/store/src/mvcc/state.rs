//! The MVCC index: every retained version of every key, the revision counters and the leases.
//! Pure data structure, no I/O and no locking (the engine wraps it in a mutex).

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

use bytes::Bytes;

use super::change::Change;
use super::leases::LeaseTable;
use crate::{
    EventKind, KeyValue, LeaseId, RangeRequest, RangeResponse, Revision, StoreError, WatchEvent,
};

/// One entry of a key's history: the version written at `mod_revision`, or `None` when the key
/// was deleted at `mod_revision`.
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub mod_revision: Revision,
    pub kv: Option<KeyValue>,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Per key, its retained versions in increasing `mod_revision` order.
    pub keys: BTreeMap<String, Vec<Version>>,
    /// Last revision handed out to a mutation (possibly not yet durable).
    pub head: Revision,
    /// Last revision that is durable and visible to reads and watches.
    pub committed: Revision,
    /// Reads below this revision fail with `Compacted`.
    pub compacted: Revision,
    pub leases: LeaseTable,
    /// Set when the journal failed: the in-memory state may be ahead of the durable state, so
    /// every later operation is refused.
    pub poisoned: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        // etcd's convention: an empty store is at revision 1.
        Self {
            keys: BTreeMap::new(),
            head: 1,
            committed: 1,
            compacted: 0,
            leases: LeaseTable::default(),
            poisoned: None,
        }
    }
}

/// The key-value a delete event carries: the key and the deletion's revision.
pub(crate) fn tombstone(key: &str, revision: Revision) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Bytes::new(),
        create_revision: 0,
        mod_revision: revision,
        version: 0,
        lease: 0,
    }
}

fn version_at(versions: &[Version], revision: Revision) -> Option<&KeyValue> {
    let visible = versions.partition_point(|v| v.mod_revision <= revision);
    versions[..visible].last().and_then(|v| v.kv.as_ref())
}

impl State {
    /// The newest version of `key`, including not-yet-committed writes: writes validate against
    /// it so that concurrent conditional writes serialize correctly.
    pub fn latest(&self, key: &str) -> Option<&KeyValue> {
        self.keys
            .get(key)
            .and_then(|v| v.last())
            .and_then(|v| v.kv.as_ref())
    }

    pub fn check_open(&self) -> Result<(), StoreError> {
        match &self.poisoned {
            Some(reason) => Err(StoreError::Backend(format!(
                "store failed earlier: {reason}"
            ))),
            None => Ok(()),
        }
    }

    /// The revision a read at `requested` (`None` or <= 0 = current) is served at.
    pub fn read_revision(&self, requested: Option<Revision>) -> Result<Revision, StoreError> {
        let revision = requested.filter(|r| *r > 0).unwrap_or(self.committed);
        if revision > self.committed {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: self.committed,
            });
        }
        if revision < self.compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        Ok(revision)
    }

    pub fn get(&self, key: &str, revision: Revision) -> Option<KeyValue> {
        self.keys
            .get(key)
            .and_then(|v| version_at(v, revision))
            .cloned()
    }

    pub fn range(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        let revision = self.read_revision(request.revision)?;
        let limit = request.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut kvs = Vec::new();
        let mut count = 0;
        for (_, versions) in self.key_range(request) {
            let Some(kv) = version_at(versions, revision) else {
                continue;
            };
            count += 1;
            if kvs.len() < limit {
                let mut kv = kv.clone();
                if request.keys_only {
                    kv.value = Bytes::new();
                }
                kvs.push(kv);
            }
        }
        Ok(RangeResponse {
            more: count > kvs.len(),
            kvs,
            count,
            revision,
        })
    }

    fn key_range<'a>(
        &'a self,
        request: &'a RangeRequest,
    ) -> Box<dyn Iterator<Item = (&'a String, &'a Vec<Version>)> + 'a> {
        let start = request.start.as_str();
        if request.prefix {
            return Box::new(self.keys_with_prefix(start));
        }
        match &request.end {
            Some(end) if end.as_str() > start => Box::new(
                self.keys
                    .range::<str, _>((Included(start), Excluded(end.as_str()))),
            ),
            Some(_) => Box::new(std::iter::empty()),
            None => Box::new(self.keys.get_key_value(start).into_iter()),
        }
    }

    pub fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Vec<Version>)> + 'a {
        self.keys
            .range::<str, _>((Included(prefix), Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Every retained change to keys under `prefix` with revision in `(after, up_to]`, in
    /// revision order: the replay part of a watch.
    pub fn history(&self, prefix: &str, after: Revision, up_to: Revision) -> Vec<WatchEvent> {
        let mut events = Vec::new();
        for (key, versions) in self.keys_with_prefix(prefix) {
            let first = versions.partition_point(|v| v.mod_revision <= after);
            for index in first..versions.len() {
                let version = &versions[index];
                if version.mod_revision > up_to {
                    break;
                }
                let prev = index.checked_sub(1).and_then(|i| versions[i].kv.clone());
                events.push(match &version.kv {
                    Some(kv) => WatchEvent {
                        kind: EventKind::Put,
                        kv: kv.clone(),
                        prev,
                    },
                    None => WatchEvent {
                        kind: EventKind::Delete,
                        kv: tombstone(key, version.mod_revision),
                        prev,
                    },
                });
            }
        }
        events.sort_by_key(WatchEvent::revision);
        events
    }

    /// Install a new current version, keeping lease attachments in step. Returns the previous
    /// version, if the key was live.
    pub fn install_put(&mut self, kv: KeyValue) -> Option<KeyValue> {
        let prev = self.latest(&kv.key).cloned();
        if let Some(prev) = &prev
            && prev.lease != 0
            && prev.lease != kv.lease
        {
            self.leases.detach(prev.lease, &kv.key);
        }
        if kv.lease != 0 {
            self.leases.attach(kv.lease, &kv.key);
        }
        self.head = self.head.max(kv.mod_revision);
        let key = kv.key.clone();
        self.keys.entry(key).or_default().push(Version {
            mod_revision: kv.mod_revision,
            kv: Some(kv),
        });
        prev
    }

    /// Record the deletion of `key` at `revision`. Returns the deleted version, if it was live.
    pub fn install_delete(&mut self, key: &str, revision: Revision) -> Option<KeyValue> {
        let prev = self.latest(key).cloned();
        if let Some(prev) = &prev {
            if prev.lease != 0 {
                self.leases.detach(prev.lease, key);
            }
            self.head = self.head.max(revision);
            if let Some(versions) = self.keys.get_mut(key) {
                versions.push(Version {
                    mod_revision: revision,
                    kv: None,
                });
            }
        }
        prev
    }

    /// Re-create, with a short TTL, every lease that live keys still carry but the lease table
    /// lacks. That happens only when a snapshot was taken while the lease's revocation was
    /// queued and the process died before the revocation reached the log: the keys were about
    /// to be deleted, so they expire promptly instead of living forever.
    pub fn adopt_orphaned_lease_keys(&mut self, ttl: i64) {
        let orphans: Vec<(LeaseId, String)> = self
            .keys
            .values()
            .filter_map(|versions| versions.last()?.kv.as_ref())
            .filter(|kv| kv.lease != 0 && !self.leases.contains(kv.lease))
            .map(|kv| (kv.lease, kv.key.clone()))
            .collect();
        for (lease, key) in orphans {
            if !self.leases.contains(lease) {
                tracing::warn!(
                    lease,
                    "recreating a lease that was being revoked when the store stopped"
                );
                self.leases.grant(lease, ttl);
            }
            self.leases.attach(lease, &key);
        }
    }

    /// Drop every version that no read at or above `revision` can see.
    pub fn compact_to(&mut self, revision: Revision) {
        self.keys.retain(|_, versions| {
            // Keep the version visible at `revision` (if it is live) and everything newer.
            let visible = versions.partition_point(|v| v.mod_revision <= revision);
            let keep_from = match visible.checked_sub(1) {
                Some(i) if versions[i].kv.is_some() => i,
                Some(i) => i + 1,
                None => 0,
            };
            versions.drain(..keep_from);
            !versions.is_empty()
        });
        self.compacted = self.compacted.max(revision);
    }

    /// Apply a change read back from durable storage (log replay). Changes at or below a
    /// revision the state already holds are skipped, which makes replay idempotent.
    pub fn replay(&mut self, change: Change) {
        match change {
            Change::Put(kv) => {
                let known = self
                    .keys
                    .get(&kv.key)
                    .and_then(|v| v.last())
                    .map(|v| v.mod_revision);
                if known.is_none_or(|r| r < kv.mod_revision) {
                    self.install_put(kv);
                }
            }
            Change::Delete { key, revision } => {
                let known = self
                    .keys
                    .get(&key)
                    .and_then(|v| v.last())
                    .map(|v| v.mod_revision);
                if known.is_none_or(|r| r < revision) {
                    self.install_delete(&key, revision);
                }
            }
            Change::LeaseGrant { id, ttl } => self.leases.grant(id, ttl),
            Change::LeaseRevoke { id } => {
                self.leases.leases.remove(&id);
            }
            Change::Compact { revision } => self.compact_to(revision),
        }
        self.committed = self.head;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, revision: Revision, lease: LeaseId) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from_static(b"v"),
            create_revision: revision,
            mod_revision: revision,
            version: 1,
            lease,
        }
    }

    #[test]
    fn compaction_keeps_the_version_visible_at_the_compaction_point() {
        let mut state = State::default();
        state.install_put(kv("a", 2, 0));
        state.install_put(kv("a", 3, 0));
        state.install_put(kv("b", 4, 0));
        state.install_delete("b", 5);
        state.install_put(kv("a", 6, 0));
        state.committed = state.head;
        state.compact_to(5);
        let a: Vec<_> = state.keys["a"].iter().map(|v| v.mod_revision).collect();
        assert_eq!(a, [3, 6], "a: the version visible at 5, and newer ones");
        assert!(
            !state.keys.contains_key("b"),
            "b was deleted at or before the compaction point"
        );
        assert_eq!(state.get("a", 5).map(|kv| kv.mod_revision), Some(3));
    }

    #[test]
    fn keys_of_a_lease_missing_from_the_table_get_it_back() {
        let mut state = State::default();
        state.install_put(kv("a", 2, 7));
        state.install_put(kv("b", 3, 0));
        state.adopt_orphaned_lease_keys(1);
        let lease = &state.leases.leases[&7];
        assert_eq!(lease.ttl, 1);
        assert_eq!(lease.keys.iter().collect::<Vec<_>>(), ["a"]);
    }
}
