//! ControllerExpectations: what an owner's last sync created and deleted and its cache has not
//! shown yet. An owner with unmet expectations is not synced again (its cache is stale), so a
//! child is never created or deleted twice. Upstream counts adds and deletes; we remember the
//! names created and the uids deleted, which makes the check robust to missed events: a
//! creation is met once the cache (or the change stream) shows the name, a deletion once the
//! uid is gone from the cache or terminating. Expectations expire after five minutes, as
//! upstream's, so a lost event cannot wedge an owner forever.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Upstream's ExpectationsTimeout.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Pending {
    creations: HashSet<String>,
    deletions: HashSet<String>,
    since: Instant,
}

/// A live child as the cache shows it.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub terminating: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Expectations {
    owners: Arc<Mutex<HashMap<String, Pending>>>,
}

impl Expectations {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> R) -> R {
        f(&mut self.owners.lock().expect("expectations lock poisoned"))
    }

    /// Children named `names` were created for `owner_uid`.
    pub fn expect_creations(&self, owner_uid: &str, names: impl IntoIterator<Item = String>) {
        self.with(|owners| {
            let entry = owners
                .entry(owner_uid.to_string())
                .or_insert_with(|| Pending {
                    creations: HashSet::new(),
                    deletions: HashSet::new(),
                    since: Instant::now(),
                });
            entry.creations.extend(names);
            entry.since = Instant::now();
        })
    }

    /// Children with uids `uids` were deleted for `owner_uid`.
    pub fn expect_deletions(&self, owner_uid: &str, uids: impl IntoIterator<Item = String>) {
        self.with(|owners| {
            let entry = owners
                .entry(owner_uid.to_string())
                .or_insert_with(|| Pending {
                    creations: HashSet::new(),
                    deletions: HashSet::new(),
                    since: Instant::now(),
                });
            entry.deletions.extend(uids);
            entry.since = Instant::now();
        })
    }

    /// The change stream showed a child of `owner_uid` (possibly one that is gone again by
    /// the time the owner syncs).
    pub fn observed(&self, owner_uid: &str, name: &str, uid: &str, terminating: bool) {
        self.with(|owners| {
            if let Some(entry) = owners.get_mut(owner_uid) {
                entry.creations.remove(name);
                if terminating {
                    entry.deletions.remove(uid);
                }
                if entry.creations.is_empty() && entry.deletions.is_empty() {
                    owners.remove(owner_uid);
                }
            }
        })
    }

    /// A deletion the owner asked for failed: stop waiting for it.
    pub fn deletion_failed(&self, owner_uid: &str, uid: &str) {
        self.with(|owners| {
            if let Some(entry) = owners.get_mut(owner_uid) {
                entry.deletions.remove(uid);
            }
        })
    }

    /// Whether the owner may sync: every expected creation is visible in `children` (the
    /// owner's children in the cache) and every expected deletion is gone or terminating.
    pub fn satisfied<'a>(
        &self,
        owner_uid: &str,
        children: impl IntoIterator<Item = Seen<'a>>,
    ) -> bool {
        self.with(|owners| {
            let Some(entry) = owners.get_mut(owner_uid) else {
                return true;
            };
            if entry.since.elapsed() > EXPECTATIONS_TIMEOUT {
                tracing::warn!(owner_uid, "expectations timed out; syncing anyway");
                owners.remove(owner_uid);
                return true;
            }
            let mut live_deletions = HashSet::new();
            for child in children {
                entry.creations.remove(child.name);
                if !child.terminating && entry.deletions.contains(child.uid) {
                    live_deletions.insert(child.uid.to_string());
                }
            }
            entry.deletions = live_deletions;
            let met = entry.creations.is_empty() && entry.deletions.is_empty();
            if met {
                owners.remove(owner_uid);
            }
            met
        })
    }

    /// How long until the owner's expectations expire (to requeue it then).
    pub fn remaining(&self, owner_uid: &str) -> Option<Duration> {
        self.with(|owners| {
            owners
                .get(owner_uid)
                .map(|e| EXPECTATIONS_TIMEOUT.saturating_sub(e.since.elapsed()))
        })
    }

    /// Drop expectations that expired (of owners that were deleted meanwhile, say).
    pub fn purge_expired(&self) {
        self.with(|owners| owners.retain(|_, e| e.since.elapsed() <= EXPECTATIONS_TIMEOUT))
    }

    /// The owner is gone: forget it.
    pub fn forget(&self, owner_uid: &str) {
        self.with(|owners| {
            owners.remove(owner_uid);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen<'a>(name: &'a str, uid: &'a str, terminating: bool) -> Seen<'a> {
        Seen {
            name,
            uid,
            terminating,
        }
    }

    #[test]
    fn creations_are_met_when_the_cache_shows_them() {
        let e = Expectations::new();
        assert!(e.satisfied("o", []));
        e.expect_creations("o", ["a".to_string(), "b".to_string()]);
        assert!(!e.satisfied("o", [seen("a", "1", false)]));
        assert!(e.satisfied("o", [seen("a", "1", false), seen("b", "2", false)]));
    }

    #[test]
    fn deletions_are_met_when_gone_or_terminating() {
        let e = Expectations::new();
        e.expect_deletions("o", ["1".to_string(), "2".to_string()]);
        assert!(!e.satisfied("o", [seen("a", "1", true), seen("b", "2", false)]));
        assert!(e.satisfied("o", [seen("a", "1", true)]));
    }

    #[test]
    fn the_change_stream_meets_creations_of_children_gone_since() {
        let e = Expectations::new();
        e.expect_creations("o", ["a".to_string()]);
        e.observed("o", "a", "1", false);
        assert!(e.satisfied("o", []));
    }

    #[tokio::test(start_paused = true)]
    async fn expectations_expire() {
        let e = Expectations::new();
        e.expect_creations("o", ["a".to_string()]);
        assert!(!e.satisfied("o", []));
        tokio::time::advance(EXPECTATIONS_TIMEOUT + Duration::from_secs(1)).await;
        assert!(e.satisfied("o", []));
    }
}
