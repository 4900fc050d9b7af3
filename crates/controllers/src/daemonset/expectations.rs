//! ControllerExpectations for DaemonSets: pods created or deleted that the cache has not shown
//! yet, so a stale cache never makes a node get a second pod or lose a replacement.
// INTERIM(podcontrol): swap for crate::podcontrol::expectations once that module is committed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

/// Upstream's ExpectationsTimeout: after this the controller syncs anyway.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

struct Pending {
    creations: HashSet<String>,
    deletions: HashSet<String>,
    since: Instant,
}

#[derive(Default)]
pub struct Expectations {
    owners: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    fn pending<R>(&self, owner: &str, f: impl FnOnce(&mut Pending) -> R) -> R {
        let mut owners = self.owners.lock().expect("expectations lock poisoned");
        let entry = owners.entry(owner.to_string()).or_insert_with(|| Pending {
            creations: HashSet::new(),
            deletions: HashSet::new(),
            since: Instant::now(),
        });
        entry.since = Instant::now();
        f(entry)
    }

    /// Pods created by name, not yet seen in the cache.
    pub fn expect_creations(&self, owner: &str, names: impl IntoIterator<Item = String>) {
        self.pending(owner, |p| p.creations.extend(names));
    }

    /// Pods deleted by uid, still in the cache without a deletion timestamp.
    pub fn expect_deletions(&self, owner: &str, uids: impl IntoIterator<Item = String>) {
        self.pending(owner, |p| p.deletions.extend(uids));
    }

    /// Whether the owner's pods as cached reflect every write made for it.
    pub fn satisfied(&self, owner: &str, pods: &[Arc<Pod>]) -> bool {
        let mut owners = self.owners.lock().expect("expectations lock poisoned");
        let Some(entry) = owners.get_mut(owner) else {
            return true;
        };
        for pod in pods {
            if let Some(name) = &pod.metadata.name {
                entry.creations.remove(name);
            }
        }
        entry.deletions.retain(|uid| {
            pods.iter().any(|p| {
                p.metadata.uid.as_deref() == Some(uid) && p.metadata.deletion_timestamp.is_none()
            })
        });
        let met = entry.creations.is_empty() && entry.deletions.is_empty();
        if met || entry.since.elapsed() > TIMEOUT {
            owners.remove(owner);
            return true;
        }
        false
    }

    pub fn forget(&self, owner: &str) {
        self.owners
            .lock()
            .expect("expectations lock poisoned")
            .remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, deleting: bool) -> Arc<Pod> {
        let mut meta = json!({"name": name, "uid": uid});
        if deleting {
            meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        Arc::new(serde_json::from_value(json!({"metadata": meta})).unwrap())
    }

    #[test]
    fn writes_are_awaited_until_the_cache_shows_them() {
        let e = Expectations::default();
        assert!(e.satisfied("ds", &[]));
        e.expect_creations("ds", ["a".to_string()]);
        e.expect_deletions("ds", ["2".to_string()]);
        assert!(!e.satisfied("ds", &[pod("b", "2", false)]));
        assert!(!e.satisfied("ds", &[pod("a", "1", false), pod("b", "2", false)]));
        assert!(e.satisfied("ds", &[pod("a", "1", false), pod("b", "2", true)]));
    }
}
