//! Watches (kube-rs watchers with backoff) that keep [`State`] in step with the API: nodes,
//! pods, namespaces, priority classes, and the services and controllers whose selectors drive
//! default topology spreading. A relist replaces what the previous list knew.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController, Service};
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::convert;
use crate::labels::Selector;
use crate::state::State;

pub type Shared = Arc<Mutex<State>>;

pub fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one kind's informer does with its objects.
trait Handler<K>: Send + 'static {
    fn key(&self, obj: &K) -> String;
    fn apply(&mut self, state: &mut State, obj: K, now: Instant);
    fn delete(&mut self, state: &mut State, key: &str, obj: K, now: Instant);
    /// After a relist: drop what the list no longer holds.
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, now: Instant);
}

/// Drive one watcher until `shutdown`; `synced` turns true after the first complete list.
fn spawn<K, H>(
    tasks: &TaskTracker,
    api: Api<K>,
    shared: Shared,
    wake: Arc<Notify>,
    mut handler: H,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    H: Handler<K>,
{
    tasks.spawn(async move {
        let mut stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut seen: Option<HashSet<String>> = None;
        let mut failing = false;
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = stream.next() => next,
            };
            let event = match next {
                None => return,
                Some(Err(err)) => {
                    // Warn once per outage (a role without read access fails every retry).
                    let kind = std::any::type_name::<K>();
                    if failing {
                        tracing::debug!(%err, kind, "watch still failing; retrying");
                    } else {
                        tracing::warn!(%err, kind, "watch failed; retrying with backoff");
                    }
                    failing = true;
                    continue;
                }
                Some(Ok(event)) => {
                    failing = false;
                    event
                }
            };
            let now = Instant::now();
            match event {
                Event::Init => seen = Some(HashSet::new()),
                Event::InitApply(obj) => {
                    if let Some(seen) = seen.as_mut() {
                        seen.insert(handler.key(&obj));
                    }
                    handler.apply(&mut lock(&shared), obj, now);
                }
                Event::InitDone => {
                    if let Some(seen) = seen.take() {
                        handler.retain(&mut lock(&shared), &seen, now);
                    }
                    synced.send_replace(true);
                    wake.notify_one();
                }
                Event::Apply(obj) => {
                    handler.apply(&mut lock(&shared), obj, now);
                    wake.notify_one();
                }
                Event::Delete(obj) => {
                    let key = handler.key(&obj);
                    handler.delete(&mut lock(&shared), &key, obj, now);
                    wake.notify_one();
                }
            }
        }
    });
}

fn name_of<K: Resource>(obj: &K) -> String {
    obj.meta().name.clone().unwrap_or_default()
}

fn namespaced_key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        name_of(obj)
    )
}

struct Nodes;

impl Handler<Node> for Nodes {
    fn key(&self, obj: &Node) -> String {
        name_of(obj)
    }
    fn apply(&mut self, state: &mut State, obj: Node, now: Instant) {
        state.on_node(convert::node(&obj), now);
    }
    fn delete(&mut self, state: &mut State, key: &str, _: Node, _: Instant) {
        state.on_node_deleted(key);
    }
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, _: Instant) {
        state.cache.retain_nodes(seen);
    }
}

struct Pods;

impl Handler<Pod> for Pods {
    fn key(&self, obj: &Pod) -> String {
        obj.metadata.uid.clone().unwrap_or_default()
    }
    fn apply(&mut self, state: &mut State, obj: Pod, now: Instant) {
        let info = convert::pod(&obj);
        state.on_pod(info, now);
    }
    fn delete(&mut self, state: &mut State, key: &str, _: Pod, now: Instant) {
        state.on_pod_deleted(key, now);
    }
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, now: Instant) {
        let known = state
            .cache
            .bound_uids()
            .into_iter()
            .chain(state.queue.uids());
        let gone: Vec<String> = known.filter(|uid| !seen.contains(uid)).collect();
        for uid in gone {
            state.on_pod_deleted(&uid, now);
        }
    }
}

struct Namespaces;

impl Handler<Namespace> for Namespaces {
    fn key(&self, obj: &Namespace) -> String {
        name_of(obj)
    }
    fn apply(&mut self, state: &mut State, obj: Namespace, now: Instant) {
        state.on_namespace(name_of(&obj), obj.metadata.labels.unwrap_or_default(), now);
    }
    fn delete(&mut self, state: &mut State, key: &str, _: Namespace, _: Instant) {
        state.cache.namespaces.remove(key);
    }
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, _: Instant) {
        state.cache.namespaces.retain(|name, _| seen.contains(name));
    }
}

struct Services;

impl Handler<Service> for Services {
    fn key(&self, obj: &Service) -> String {
        namespaced_key(obj)
    }
    fn apply(&mut self, state: &mut State, obj: Service, _: Instant) {
        let selector = obj.spec.and_then(|s| s.selector).unwrap_or_default();
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        state
            .cache
            .spread_sources
            .services
            .entry(namespace)
            .or_default()
            .insert(name, selector);
    }
    fn delete(&mut self, state: &mut State, key: &str, _: Service, _: Instant) {
        if let Some((ns, name)) = key.split_once('/')
            && let Some(map) = state.cache.spread_sources.services.get_mut(ns)
        {
            map.remove(name);
        }
    }
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, _: Instant) {
        for (ns, map) in state.cache.spread_sources.services.iter_mut() {
            map.retain(|name, _| seen.contains(&format!("{ns}/{name}")));
        }
    }
}

/// ReplicaSets, StatefulSets and ReplicationControllers: kind and selector.
struct Controllers<K> {
    kind: &'static str,
    selector: fn(&K) -> Option<Selector>,
}

impl<K: Resource + Send + 'static> Handler<K> for Controllers<K> {
    fn key(&self, obj: &K) -> String {
        namespaced_key(obj)
    }
    fn apply(&mut self, state: &mut State, obj: K, _: Instant) {
        let key = (
            self.kind.to_string(),
            obj.meta().namespace.clone().unwrap_or_default(),
            name_of(&obj),
        );
        let controllers = &mut state.cache.spread_sources.controllers;
        match (self.selector)(&obj) {
            Some(selector) => controllers.insert(key, selector),
            None => controllers.remove(&key),
        };
    }
    fn delete(&mut self, state: &mut State, key: &str, _: K, _: Instant) {
        if let Some((ns, name)) = key.split_once('/') {
            let key = (self.kind.to_string(), ns.to_string(), name.to_string());
            state.cache.spread_sources.controllers.remove(&key);
        }
    }
    fn retain(&mut self, state: &mut State, seen: &HashSet<String>, _: Instant) {
        let kind = self.kind;
        state
            .cache
            .spread_sources
            .controllers
            .retain(|(k, ns, name), _| k != kind || seen.contains(&format!("{ns}/{name}")));
    }
}

/// Start every informer; the returned receivers turn true once nodes and pods are listed.
pub fn start(
    client: &kube::Client,
    shared: &Shared,
    wake: &Arc<Notify>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Vec<watch::Receiver<bool>> {
    let mut required = Vec::new();
    let mut start_one = |must_sync: bool, f: &mut dyn FnMut(watch::Sender<bool>)| {
        let (tx, rx) = watch::channel(false);
        f(tx);
        if must_sync {
            required.push(rx);
        }
    };
    let c = || client.clone();
    start_one(true, &mut |tx| {
        spawn(
            tasks,
            Api::<Node>::all(c()),
            shared.clone(),
            wake.clone(),
            Nodes,
            tx,
            shutdown.clone(),
        )
    });
    start_one(true, &mut |tx| {
        spawn(
            tasks,
            Api::<Pod>::all(c()),
            shared.clone(),
            wake.clone(),
            Pods,
            tx,
            shutdown.clone(),
        )
    });
    start_one(true, &mut |tx| {
        spawn(
            tasks,
            Api::<Namespace>::all(c()),
            shared.clone(),
            wake.clone(),
            Namespaces,
            tx,
            shutdown.clone(),
        )
    });
    start_one(false, &mut |tx| {
        spawn(
            tasks,
            Api::<Service>::all(c()),
            shared.clone(),
            wake.clone(),
            Services,
            tx,
            shutdown.clone(),
        )
    });
    start_one(false, &mut |tx| {
        let handler = Controllers::<ReplicaSet> {
            kind: "ReplicaSet",
            selector: |rs| rs.spec.as_ref().map(|s| convert::selector(&s.selector)),
        };
        spawn(
            tasks,
            Api::<ReplicaSet>::all(c()),
            shared.clone(),
            wake.clone(),
            handler,
            tx,
            shutdown.clone(),
        )
    });
    start_one(false, &mut |tx| {
        let handler = Controllers::<StatefulSet> {
            kind: "StatefulSet",
            selector: |ss| ss.spec.as_ref().map(|s| convert::selector(&s.selector)),
        };
        spawn(
            tasks,
            Api::<StatefulSet>::all(c()),
            shared.clone(),
            wake.clone(),
            handler,
            tx,
            shutdown.clone(),
        )
    });
    start_one(false, &mut |tx| {
        let handler = Controllers::<ReplicationController> {
            kind: "ReplicationController",
            selector: |rc| {
                rc.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .map(Selector::from_map)
            },
        };
        spawn(
            tasks,
            Api::<ReplicationController>::all(c()),
            shared.clone(),
            wake.clone(),
            handler,
            tx,
            shutdown.clone(),
        )
    });
    required
}

#[cfg(test)]
#[path = "informers_tests.rs"]
mod tests;
