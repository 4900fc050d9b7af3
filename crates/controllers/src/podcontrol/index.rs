//! An index over a shared cache: children by their controller's uid, orphans (no controller)
//! by namespace, as upstream's `PodControllerUIDIndex` and orphan index. A reconcile looks at
//! its own children and its namespace's orphans instead of scanning every pod.
//!
//! An object the change stream reports but the cache no longer holds (a deletion) leaves the
//! index. Objects deleted while a watch relisted are never reported, so the index also
//! [`sweep`](OwnerIndex::sweep)s: entries whose object left the cache are dropped and their
//! former owners reported, which is how a controller learns that such a child vanished.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::runtime::reflector::{ObjectRef, Store};

use super::controller_of;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Owned(String),
    Orphan(String),
}

/// The controller of an indexed child, with the child's namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnerOf {
    pub namespace: String,
    pub reference: OwnerReference,
}

struct Placement {
    slot: Slot,
    owner: Option<OwnerOf>,
}

struct Inner<K: kube::Resource<DynamicType = ()>> {
    slots: HashMap<Slot, HashSet<ObjectRef<K>>>,
    placed: HashMap<ObjectRef<K>, Placement>,
}

pub struct OwnerIndex<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    cache: Store<K>,
    inner: Arc<Mutex<Inner<K>>>,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Clone for OwnerIndex<K> {
    fn clone(&self) -> Self {
        OwnerIndex {
            cache: self.cache.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<K> OwnerIndex<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    pub fn new(cache: Store<K>) -> Self {
        OwnerIndex {
            cache,
            inner: Arc::new(Mutex::new(Inner {
                slots: HashMap::new(),
                placed: HashMap::new(),
            })),
        }
    }

    pub fn cache(&self) -> &Store<K> {
        &self.cache
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().expect("owner index lock poisoned")
    }

    /// Record an added, changed or deleted object; returns its previous controller when that
    /// changed or the object is gone (so the former owner can resync, as upstream's
    /// updatePod and deletePod do).
    pub fn observe(&self, object: &K) -> Option<OwnerOf> {
        let key = ObjectRef::from_obj(object);
        let meta = object.meta();
        let live = self
            .cache
            .get(&key)
            .is_some_and(|cached| cached.meta().uid == meta.uid);
        if !live {
            let mut inner = self.lock();
            let previous = inner.placed.remove(&key)?;
            remove_from(&mut inner.slots, &previous.slot, &key);
            return previous.owner;
        }
        let namespace = meta.namespace.clone().unwrap_or_default();
        let owner = controller_of(meta).map(|r| OwnerOf {
            namespace: namespace.clone(),
            reference: r.clone(),
        });
        let slot = match &owner {
            Some(o) => Slot::Owned(o.reference.uid.clone()),
            None => Slot::Orphan(namespace),
        };
        let mut inner = self.lock();
        let previous = inner.placed.remove(&key);
        if let Some(previous) = &previous {
            remove_from(&mut inner.slots, &previous.slot, &key);
        }
        inner
            .slots
            .entry(slot.clone())
            .or_default()
            .insert(key.clone());
        inner.placed.insert(
            key,
            Placement {
                slot,
                owner: owner.clone(),
            },
        );
        previous.and_then(|p| p.owner).filter(|p| {
            owner
                .as_ref()
                .is_none_or(|o| o.reference.uid != p.reference.uid)
        })
    }

    /// The cached children whose controller has uid `owner_uid`.
    pub fn owned_by(&self, owner_uid: &str) -> Vec<Arc<K>> {
        self.resolve(&Slot::Owned(owner_uid.to_string()))
    }

    /// The cached objects without a controller in `namespace`.
    pub fn orphans_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.resolve(&Slot::Orphan(namespace.to_string()))
    }

    fn resolve(&self, slot: &Slot) -> Vec<Arc<K>> {
        let refs: Vec<ObjectRef<K>> = self
            .lock()
            .slots
            .get(slot)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        refs.iter().filter_map(|r| self.cache.get(r)).collect()
    }

    /// Drop the entries whose objects left the cache; returns the controllers of those that
    /// had one (each once).
    pub fn sweep(&self) -> Vec<OwnerOf> {
        let mut inner = self.lock();
        let gone: Vec<ObjectRef<K>> = inner
            .placed
            .keys()
            .filter(|r| self.cache.get(r).is_none())
            .cloned()
            .collect();
        let mut owners: Vec<OwnerOf> = Vec::new();
        for key in gone {
            if let Some(placement) = inner.placed.remove(&key) {
                remove_from(&mut inner.slots, &placement.slot, &key);
                if let Some(owner) = placement.owner
                    && !owners
                        .iter()
                        .any(|o| o.reference.uid == owner.reference.uid)
                {
                    owners.push(owner);
                }
            }
        }
        owners
    }
}

fn remove_from<R: Eq + Hash>(slots: &mut HashMap<Slot, HashSet<R>>, slot: &Slot, key: &R) {
    if let Some(set) = slots.get_mut(slot) {
        set.remove(key);
        if set.is_empty() {
            slots.remove(slot);
        }
    }
}
