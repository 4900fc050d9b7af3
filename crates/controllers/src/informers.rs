//! Shared informers: one watch and one cache per resource type for all controllers, as
//! client-go's SharedInformerFactory gives kube-controller-manager.
//!
//! With 150,000 pods a private pod cache per controller would cost gigabytes, so controllers
//! never open their own watches on the common types. Each asks the factory for a
//! [`Shared`] (a cache reader plus its own stream of changed objects) while it is being set up;
//! once every controller has subscribed, [`Informers::start`] runs one watcher per requested
//! type. Subscribing after the start is impossible by construction: `start` consumes the
//! factory, because a late subscriber would miss the initial list.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How many changed objects a slow subscriber may fall behind before the watch waits for it.
const SUBSCRIBER_BUFFER: usize = 4096;

/// A controller's view of one resource type: the shared cache and its own change stream.
/// Controllers start only once every cache is synced, so they never wait on `cache` readiness
/// themselves.
pub struct Shared<K: kube::Resource + Clone + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    pub cache: Store<K>,
    pub changes: Changes<K>,
}

/// Every object of the type as it changes: each update, each deletion (the object's last
/// state), and the whole cache again after every (re)list. kube-runtime's own shared streams
/// drop deletions and can stall when an object leaves the cache before it is read, so the
/// informers hand out their own.
pub struct Changes<K> {
    receiver: mpsc::Receiver<Arc<K>>,
}

impl<K> Stream for Changes<K> {
    type Item = Arc<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Arc<K>>> {
        self.receiver.poll_recv(cx)
    }
}

type Runner = fn(kube::Client, Box<dyn Any + Send>) -> BoxFuture<'static, ()>;

struct Entry {
    /// The type's `Feed<K>`, kept until the start so more subscribers can be added.
    feed: Box<dyn Any + Send>,
    /// Turns that feed into the watch loop filling the cache and every subscriber.
    run: Runner,
    /// Resolves once the cache holds its first full listing.
    synced: BoxFuture<'static, ()>,
}

/// One type's cache writer and its subscribers.
struct Feed<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    subscribers: Vec<mpsc::Sender<Arc<K>>>,
}

pub struct Informers {
    client: kube::Client,
    entries: HashMap<TypeId, Entry>,
}

impl Informers {
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            entries: HashMap::new(),
        }
    }

    /// Subscribe to every object of type `K` in the cluster (all namespaces).
    pub fn shared<K>(&mut self) -> Shared<K>
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + Debug
            + DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        let entry = self.entries.entry(TypeId::of::<K>()).or_insert_with(|| {
            let writer = Writer::default();
            let reader = writer.as_reader();
            Entry {
                feed: Box::new(Feed::<K> {
                    writer,
                    subscribers: Vec::new(),
                }),
                run: watch_into::<K>,
                synced: async move {
                    let _ = reader.wait_until_ready().await;
                }
                .boxed(),
            }
        });
        let feed = entry
            .feed
            .downcast_mut::<Feed<K>>()
            .expect("an informer entry holds the feed of its own type");
        let (sender, receiver) = mpsc::channel(SUBSCRIBER_BUFFER);
        feed.subscribers.push(sender);
        Shared {
            cache: feed.writer.as_reader(),
            changes: Changes { receiver },
        }
    }

    /// Run one watcher per subscribed type until `shutdown`; the tasks join `tasks`. The
    /// returned future resolves once every cache holds its first full listing: controllers
    /// start after it (upstream's WaitForCacheSync), and it is the only waiter on the caches'
    /// readiness, because kube-runtime's `Store::wait_until_ready` wakes just one of several
    /// concurrent waiters.
    pub fn start(
        self,
        tasks: &mut JoinSet<()>,
        shutdown: CancellationToken,
    ) -> futures::future::Shared<BoxFuture<'static, ()>> {
        let mut synced = Vec::new();
        for entry in self.entries.into_values() {
            synced.push(entry.synced);
            let run = (entry.run)(self.client.clone(), entry.feed);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = run => {}
                }
            });
        }
        futures::future::join_all(synced).map(drop).boxed().shared()
    }
}

/// The watch loop of one type: list, watch, relist on expiry (with backoff); every event goes
/// to the shared cache first, then to each subscriber.
fn watch_into<K>(client: kube::Client, feed: Box<dyn Any + Send>) -> BoxFuture<'static, ()>
where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let mut feed = *feed
        .downcast::<Feed<K>>()
        .expect("an informer entry holds the feed of its own type");
    let api: Api<K> = Api::all(client);
    async move {
        let reader = feed.writer.as_reader();
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(err) => {
                    tracing::warn!(%err, kind = %K::kind(&()), "informer watch failed; retrying");
                    continue;
                }
            };
            feed.writer.apply_watcher_event(&event);
            let changed: Vec<Arc<K>> = match event {
                watcher::Event::Apply(obj) => {
                    reader.get(&ObjectRef::from_obj(&obj)).into_iter().collect()
                }
                watcher::Event::Delete(obj) => vec![Arc::new(obj)],
                watcher::Event::InitDone => {
                    let all = reader.state();
                    tracing::debug!(kind = %K::kind(&()), objects = all.len(), "informer synced");
                    all
                }
                watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
            };
            for object in changed {
                for subscriber in &feed.subscribers {
                    // A subscriber that stopped (its controller ended) is simply skipped.
                    let _ = subscriber.send(object.clone()).await;
                }
            }
        }
    }
    .boxed()
}
