//! A secondary index over a shared cache (pods by namespace, pods by node, slices by service),
//! as client-go's cache indexers give upstream controllers.
//!
//! Entries are added from the change streams and never removed there (a deleted object or one
//! whose key changed simply stays behind); every lookup checks the cache and drops what no
//! longer belongs, so the index costs no bookkeeping on deletions.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use kube::runtime::reflector::{ObjectRef, Store};

type KeyFn<K> = fn(&K) -> Option<String>;

pub(crate) struct Index<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    key_of: KeyFn<K>,
    entries: Mutex<HashMap<String, HashSet<ObjectRef<K>>>>,
}

impl<K> Index<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
    ObjectRef<K>: Hash + Eq,
{
    pub(crate) fn new(key_of: KeyFn<K>) -> Arc<Self> {
        Arc::new(Self {
            key_of,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Index everything the cache holds (once it is ready, before the first lookup).
    pub(crate) fn prime(&self, cache: &Store<K>) {
        for object in cache.state() {
            self.observe(&object);
        }
    }

    /// Record an object seen on a change stream under its current key.
    pub(crate) fn observe(&self, object: &K) {
        if let Some(key) = (self.key_of)(object) {
            let mut entries = self.entries.lock().expect("index lock");
            entries
                .entry(key)
                .or_default()
                .insert(ObjectRef::from_obj(object));
        }
    }

    /// The cached objects whose key is `key`.
    pub(crate) fn get(&self, cache: &Store<K>, key: &str) -> Vec<Arc<K>> {
        let mut entries = self.entries.lock().expect("index lock");
        let Some(refs) = entries.get_mut(key) else {
            return Vec::new();
        };
        let mut found = Vec::with_capacity(refs.len());
        refs.retain(|r| match cache.get(r) {
            Some(object) if (self.key_of)(&object).as_deref() == Some(key) => {
                found.push(object);
                true
            }
            _ => false,
        });
        if refs.is_empty() {
            entries.remove(key);
        }
        found
    }
}
