//! The watch cache: every stored object and a window of recent changes, kept in memory and fed
//! by a single watch on the store. Lists, gets at resourceVersion=0 and all watches are served
//! from here, so a thousand watchers cost one store watch and a list never touches the disk.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use keelson_store::{EventKind, RangeRequest, Revision, Store, StoreError};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::object::{CachedObject, decode_kv, resource_of_key};
use crate::status::ApiError;

/// Recent changes per resource a watcher may resume from: at least this many, and as many as
/// the last [`HISTORY_FRESH`] brought (upstream's watch cache keeps 75 s of events), up to
/// [`HISTORY_MAX`]. A count alone is seconds at 5,000 nodes, after which every informer that
/// reconnects must relist, which at that scale is what makes it fall behind again.
const HISTORY_MIN: usize = 10_000;
const HISTORY_MAX: usize = 200_000;
const HISTORY_FRESH: std::time::Duration = std::time::Duration::from_secs(75);
/// Events buffered per resource for live watchers before a slow one is cut off.
const BROADCAST_CAPACITY: usize = 16_384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One change to one object. For deletions, `object` is the last state with the deletion's
/// resourceVersion.
#[derive(Debug)]
pub struct Change {
    pub kind: ChangeKind,
    pub revision: Revision,
    pub object: Arc<CachedObject>,
    pub previous: Option<Arc<CachedObject>>,
}

struct ResourceCache {
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<Change>>,
    /// When each change in `history` arrived.
    history_times: VecDeque<std::time::Instant>,
    /// Watches may resume from any revision >= this one.
    oldest_resumable: Revision,
    sender: broadcast::Sender<Arc<Change>>,
}

impl ResourceCache {
    fn new(revision: Revision) -> Self {
        Self {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_times: VecDeque::new(),
            oldest_resumable: revision,
            sender: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }
}

/// A watch's starting point: the changes after the requested revision, then the live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
}

pub struct WatchCache {
    resources: RwLock<HashMap<(String, String), ResourceCache>>,
    revision: watch::Sender<Revision>,
    /// The oldest revision any watch may start after (raised when the cache is rebuilt).
    floor: RwLock<Revision>,
}

impl WatchCache {
    /// Load every object from the store; start following changes with [`WatchCache::follow`].
    pub async fn load(store: &dyn Store) -> Result<Arc<WatchCache>, StoreError> {
        let listing = store.range(RangeRequest::prefix("/registry/")).await?;
        let revision = listing.revision;
        let decoded = tokio::task::spawn_blocking(move || decode_all(listing.kvs))
            .await
            .map_err(|err| {
                StoreError::Backend(format!("decoding the stored objects panicked: {err}"))
            })?;
        let mut resources: HashMap<(String, String), ResourceCache> = HashMap::new();
        for (resource, object) in decoded {
            resources
                .entry(resource)
                .or_insert_with(|| ResourceCache::new(revision))
                .objects
                .insert(object.key.clone(), object);
        }
        Ok(Arc::new(WatchCache {
            resources: RwLock::new(resources),
            revision: watch::channel(revision).0,
            floor: RwLock::new(revision),
        }))
    }

    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Apply store changes until `shutdown`. If the store watch breaks, the cache is rebuilt
    /// from a fresh listing and live watchers are cut off (they resume or relist).
    pub async fn follow(self: Arc<Self>, store: Arc<dyn Store>, shutdown: CancellationToken) {
        loop {
            let from = self.revision();
            let mut stream = match store.watch("/registry/", from).await {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(%err, "store watch failed; rebuilding the watch cache");
                    if shutdown.is_cancelled() || !self.rebuild(store.as_ref(), &shutdown).await {
                        return;
                    }
                    continue;
                }
            };
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    next = stream.next() => match next {
                        Some(Ok(event)) => self.apply(event),
                        Some(Err(err)) => {
                            tracing::warn!(%err, "store watch ended; rebuilding the watch cache");
                            break;
                        }
                        None => break,
                    }
                }
            }
            if !self.rebuild(store.as_ref(), &shutdown).await {
                return;
            }
        }
    }

    async fn rebuild(&self, store: &dyn Store, shutdown: &CancellationToken) -> bool {
        loop {
            match WatchCache::load(store).await {
                Ok(fresh) => {
                    let fresh_resources =
                        std::mem::take(&mut *fresh.resources.write().expect("cache lock"));
                    let revision = fresh.revision();
                    *self.resources.write().expect("cache lock") = fresh_resources;
                    *self.floor.write().expect("cache lock") = revision;
                    self.revision.send_replace(revision);
                    return true;
                }
                Err(err) => {
                    tracing::warn!(%err, "relisting the store failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    fn apply(&self, event: keelson_store::WatchEvent) {
        let revision = event.revision();
        let Some((group, resource)) = resource_of_key(&event.kv.key) else {
            self.revision.send_replace(revision);
            return;
        };
        let mut resources = self.resources.write().expect("cache lock");
        let cache = resources
            .entry((group.to_string(), resource.to_string()))
            .or_insert_with(|| ResourceCache::new(revision - 1));
        let previous = cache.objects.get(&event.kv.key).cloned();
        let change = match event.kind {
            EventKind::Put => match decode_kv(&event.kv) {
                Ok(object) => {
                    cache.objects.insert(event.kv.key.clone(), object.clone());
                    let kind = if previous.is_some() {
                        ChangeKind::Modified
                    } else {
                        ChangeKind::Added
                    };
                    Change {
                        kind,
                        revision,
                        object,
                        previous,
                    }
                }
                Err(err) => {
                    tracing::error!(key = %event.kv.key, %err, "undecodable object in store watch");
                    drop(resources);
                    self.revision.send_replace(revision);
                    return;
                }
            },
            EventKind::Delete => {
                cache.objects.remove(&event.kv.key);
                let Some(last) = previous.clone() else {
                    drop(resources);
                    self.revision.send_replace(revision);
                    return;
                };
                let mut value = last.value().unwrap_or_default();
                if value.is_null() {
                    value = serde_json::json!({});
                }
                let object = crate::object::cache_value(&last.key, value, revision);
                Change {
                    kind: ChangeKind::Deleted,
                    revision,
                    object,
                    previous,
                }
            }
        };
        let change = Arc::new(change);
        let now = std::time::Instant::now();
        cache.history.push_back(change.clone());
        cache.history_times.push_back(now);
        while cache.history.len() > HISTORY_MAX
            || (cache.history.len() > HISTORY_MIN
                && cache
                    .history_times
                    .front()
                    .is_some_and(|at| now.duration_since(*at) > HISTORY_FRESH))
        {
            cache.history_times.pop_front();
            if let Some(dropped) = cache.history.pop_front() {
                cache.oldest_resumable = dropped.revision;
            }
        }
        // No receivers is fine: nobody is watching this resource.
        let _ = cache.sender.send(change);
        drop(resources);
        self.revision.send_replace(revision);
    }

    /// Wait until the cache has applied every change up to `revision`.
    pub async fn wait_for(&self, revision: Revision, timeout: std::time::Duration) -> bool {
        let mut receiver = self.revision.subscribe();
        tokio::time::timeout(timeout, receiver.wait_for(|r| *r >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Objects of a resource under `prefix`, in key order, and the revision they reflect.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        prefix: &str,
    ) -> (Vec<Arc<CachedObject>>, Revision) {
        let resources = self.resources.read().expect("cache lock");
        let revision = self.revision();
        let Some(cache) = resources.get(&(group.to_string(), resource.to_string())) else {
            return (Vec::new(), revision);
        };
        let items = cache
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (items, revision)
    }

    pub fn get(&self, group: &str, resource: &str, key: &str) -> Option<Arc<CachedObject>> {
        let resources = self.resources.read().expect("cache lock");
        resources
            .get(&(group.to_string(), resource.to_string()))?
            .objects
            .get(key)
            .cloned()
    }

    /// Every change to the resource after `after`, then the live feed, with no gap between.
    pub fn subscribe(
        &self,
        group: &str,
        resource: &str,
        after: Revision,
    ) -> Result<Subscription, ApiError> {
        let mut resources = self.resources.write().expect("cache lock");
        let floor = *self.floor.read().expect("cache lock");
        let revision = self.revision();
        let cache = resources
            .entry((group.to_string(), resource.to_string()))
            .or_insert_with(|| ResourceCache::new(floor));
        if after < cache.oldest_resumable.max(floor) {
            return Err(ApiError::Expired {
                message: format!(
                    "too old resource version: {after} ({})",
                    cache.oldest_resumable.max(floor)
                ),
                continue_token: None,
            });
        }
        if after > revision {
            // A revision from the future (e.g. from another API server further ahead): start
            // from what we have; events up to `after` are filtered out by the caller.
        }
        // Revisions only grow along the history, so the backlog starts at a partition point.
        let start = cache.history.partition_point(|c| c.revision <= after);
        let backlog = cache.history.range(start..).cloned().collect();
        Ok(Subscription {
            backlog,
            live: cache.sender.subscribe(),
        })
    }

    /// Counts per resource, for metrics.
    pub fn object_counts(&self) -> Vec<(String, String, usize)> {
        let resources = self.resources.read().expect("cache lock");
        let mut counts: Vec<_> = resources
            .iter()
            .map(|((g, r), c)| (g.clone(), r.clone(), c.objects.len()))
            .collect();
        counts.sort();
        counts
    }
}

/// Decode every stored object on all cores: a restart with 150,000 pods spends its time here.
fn decode_all(kvs: Vec<keelson_store::KeyValue>) -> Vec<((String, String), Arc<CachedObject>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = kvs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = kvs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|kv| {
                            let (group, resource) = resource_of_key(&kv.key)?;
                            match decode_kv(kv) {
                                Ok(object) => Some(((group.to_string(), resource.to_string()), object)),
                                Err(_) => {
                                    tracing::error!(key = %kv.key, "skipping undecodable stored object");
                                    None
                                }
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keelson_store::memory::MemStore;

    /// More changes than the old fixed window of 10,000, all within the freshness window: a
    /// watcher that fell behind to the first of them still resumes instead of relisting.
    #[tokio::test]
    async fn fresh_changes_stay_resumable_beyond_the_minimum_count() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let key = "/registry/core/configmaps/default/c";
        let first = store
            .create(
                key,
                bytes::Bytes::from_static(br#"{"metadata":{"name":"c"}}"#),
                None,
            )
            .await
            .unwrap();
        let cache = WatchCache::load(store.as_ref()).await.unwrap();
        let shutdown = CancellationToken::new();
        let follower = tokio::spawn(cache.clone().follow(store.clone(), shutdown.clone()));
        let mut revision = first.mod_revision;
        for i in 0..HISTORY_MIN + 500 {
            let value = format!(r#"{{"metadata":{{"name":"c"}},"data":{{"i":"{i}"}}}}"#);
            revision = store
                .update(key, bytes::Bytes::from(value), revision, None)
                .await
                .unwrap()
                .mod_revision;
        }
        assert!(
            cache
                .wait_for(revision, std::time::Duration::from_secs(10))
                .await
        );
        let subscription = cache
            .subscribe("", "configmaps", first.mod_revision)
            .unwrap();
        assert_eq!(subscription.backlog.len(), HISTORY_MIN + 500);
        assert!(
            subscription
                .backlog
                .windows(2)
                .all(|w| w[0].revision < w[1].revision)
        );
        shutdown.cancel();
        follower.await.unwrap();
    }
}
