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
use std::hash::Hash;

use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt};
use kube::api::Api;
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How many changed objects a slow subscriber may fall behind before the watch waits for it.
const SUBSCRIBER_BUFFER: usize = 4096;

/// A controller's view of one resource type: the shared cache and its own change stream.
pub struct Shared<K: kube::Resource + Clone + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    pub cache: Store<K>,
    pub changes: ReflectHandle<K>,
}

type Runner = fn(kube::Client, Box<dyn Any + Send>) -> BoxFuture<'static, ()>;

struct Entry {
    /// The type's `Writer<K>`, kept until the start so more subscribers can be handed out.
    writer: Box<dyn Any + Send>,
    /// Turns that writer into the watch loop feeding the cache and every subscriber.
    run: Runner,
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
            let (_, writer) = reflector::store_shared::<K>(SUBSCRIBER_BUFFER);
            Entry {
                writer: Box::new(writer),
                run: watch_into::<K>,
            }
        });
        let writer = entry
            .writer
            .downcast_ref::<Writer<K>>()
            .expect("an informer entry holds the writer of its own type");
        Shared {
            cache: writer.as_reader(),
            changes: writer
                .subscribe()
                .expect("writers made by store_shared always hand out subscribers"),
        }
    }

    /// Run one watcher per subscribed type until `shutdown`; the tasks join `tasks`.
    pub fn start(self, tasks: &mut JoinSet<()>, shutdown: CancellationToken) {
        for entry in self.entries.into_values() {
            let run = (entry.run)(self.client.clone(), entry.writer);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = run => {}
                }
            });
        }
    }
}

/// The watch loop of one type: list, watch, relist on expiry (with backoff), and apply every
/// event to the shared cache, which also forwards it to the subscribers.
fn watch_into<K>(client: kube::Client, writer: Box<dyn Any + Send>) -> BoxFuture<'static, ()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let writer = *writer
        .downcast::<Writer<K>>()
        .expect("an informer entry holds the writer of its own type");
    let api: Api<K> = Api::all(client);
    watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect_shared(writer)
        .for_each(|event| async move {
            if let Err(err) = event {
                tracing::warn!(%err, kind = %K::kind(&()), "informer watch failed; retrying");
            }
        })
        .boxed()
}
