//! Objects by the uid of the controller that owns them (pods by Job, Jobs by CronJob), so a
//! sync reads only its own children instead of scanning a whole shared cache.
//!
//! The index is fed by the controller's change stream and may hold stale entries (shared
//! streams do not announce deletions); lookups resolve every entry through the shared cache,
//! which is authoritative, and drop the stale ones.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};

struct Entries<K: Resource<DynamicType = ()> + 'static> {
    by_owner: HashMap<String, HashSet<ObjectRef<K>>>,
    owner_of: HashMap<ObjectRef<K>, String>,
}

pub struct OwnerIndex<K: Resource<DynamicType = ()> + 'static> {
    cache: Store<K>,
    /// The kind of controller indexed (e.g. "Job"): children of other controllers are skipped.
    owner_kind: &'static str,
    entries: Mutex<Entries<K>>,
}

impl<K> OwnerIndex<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    pub fn new(cache: Store<K>, owner_kind: &'static str) -> Self {
        Self {
            cache,
            owner_kind,
            entries: Mutex::new(Entries {
                by_owner: HashMap::new(),
                owner_of: HashMap::new(),
            }),
        }
    }

    /// Index every object already in the cache (once, when it has become ready).
    pub fn fill(&self) {
        for object in self.cache.state() {
            self.observe(&object);
        }
    }

    /// Record an object the informer announced.
    pub fn observe(&self, object: &K) {
        let key = ObjectRef::from_obj(object);
        let owner = self
            .cache
            .get(&key)
            .and_then(|current| controller_uid(current.as_ref(), self.owner_kind));
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = match &owner {
            Some(uid) => entries.owner_of.insert(key.clone(), uid.clone()),
            None => entries.owner_of.remove(&key),
        };
        if let Some(previous) = previous
            && Some(&previous) != owner.as_ref()
        {
            remove(&mut entries.by_owner, &previous, &key);
        }
        if let Some(uid) = owner {
            entries.by_owner.entry(uid).or_default().insert(key);
        }
    }

    /// The objects the owner (by uid) controls, as the cache has them now.
    pub fn children_of(&self, owner_uid: &str) -> Vec<Arc<K>> {
        let keys: Vec<ObjectRef<K>> = {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            entries
                .by_owner
                .get(owner_uid)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default()
        };
        let mut children = Vec::with_capacity(keys.len());
        let mut stale = Vec::new();
        for key in keys {
            match self.cache.get(&key) {
                Some(child)
                    if controller_uid(child.as_ref(), self.owner_kind).as_deref()
                        == Some(owner_uid) =>
                {
                    children.push(child)
                }
                _ => stale.push(key),
            }
        }
        if !stale.is_empty() {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            for key in stale {
                remove(&mut entries.by_owner, owner_uid, &key);
                if entries.owner_of.get(&key).map(String::as_str) == Some(owner_uid) {
                    entries.owner_of.remove(&key);
                }
            }
        }
        children
    }
}

fn remove<K: Resource<DynamicType = ()> + 'static>(
    by_owner: &mut HashMap<String, HashSet<ObjectRef<K>>>,
    uid: &str,
    key: &ObjectRef<K>,
) {
    if let Some(set) = by_owner.get_mut(uid) {
        set.remove(key);
        if set.is_empty() {
            by_owner.remove(uid);
        }
    }
}

/// The uid of the object's controller if it is of `kind`.
pub fn controller_uid<K: Resource>(object: &K, kind: &str) -> Option<String> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .filter(|o| o.kind == kind)
        .map(|o| o.uid.clone())
}
