//! The garbage collector: keeps ownerReferences true, as upstream's GC controller does.
//!
//! - A dependent whose owners are all gone is deleted (Background propagation).
//! - An owner deleted with `Orphan` (finalizer `orphan`) has the reference removed from its
//!   dependents, then loses the finalizer.
//! - An owner deleted with `Foreground` (finalizer `foregroundDeletion`) has its dependents
//!   deleted; once no dependent with `blockOwnerDeletion` remains, it loses the finalizer.
//!
//! It sees the cluster through metadata-only watches of every deletable resource type.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::resources::{self, Resource};

/// How often the set of resource types is rediscovered (new CRDs).
const REDISCOVERY: Duration = Duration::from_secs(20);

type Meta = PartialObjectMeta<DynamicObject>;

struct Node {
    resource: usize,
    namespace: Option<String>,
    name: String,
    resource_version: String,
    owners: Vec<OwnerReference>,
    finalizers: Vec<String>,
    deleting: bool,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// owner uid -> dependent uids
    dependents: HashMap<String, HashSet<String>>,
    /// Objects listed since a watcher's (re)start, to drop those that vanished meanwhile.
    relisting: HashMap<usize, HashSet<String>>,
    dirty: HashSet<String>,
}

impl Graph {
    fn upsert(&mut self, resource: usize, meta: &Meta) {
        let Some(uid) = meta.metadata.uid.clone() else {
            return;
        };
        self.remove(&uid);
        let owners = meta.metadata.owner_references.clone().unwrap_or_default();
        for owner in &owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
            self.dirty.insert(owner.uid.clone());
        }
        self.dirty.insert(uid.clone());
        self.dirty
            .extend(self.dependents.get(&uid).into_iter().flatten().cloned());
        self.nodes.insert(
            uid,
            Node {
                resource,
                namespace: meta.metadata.namespace.clone(),
                name: meta.metadata.name.clone().unwrap_or_default(),
                resource_version: meta.metadata.resource_version.clone().unwrap_or_default(),
                owners,
                finalizers: meta.metadata.finalizers.clone().unwrap_or_default(),
                deleting: meta.metadata.deletion_timestamp.is_some(),
            },
        );
    }

    fn remove(&mut self, uid: &str) {
        if let Some(node) = self.nodes.remove(uid) {
            for owner in &node.owners {
                if let Some(set) = self.dependents.get_mut(&owner.uid) {
                    set.remove(uid);
                    if set.is_empty() {
                        self.dependents.remove(&owner.uid);
                    }
                }
                self.dirty.insert(owner.uid.clone());
            }
            self.dirty
                .extend(self.dependents.get(uid).into_iter().flatten().cloned());
        }
    }

    fn apply(&mut self, resource: usize, event: Event<Meta>) {
        match event {
            Event::Init => {
                self.relisting.insert(resource, HashSet::new());
            }
            Event::InitApply(meta) => {
                if let (Some(seen), Some(uid)) =
                    (self.relisting.get_mut(&resource), meta.metadata.uid.clone())
                {
                    seen.insert(uid);
                }
                self.upsert(resource, &meta);
            }
            Event::InitDone => {
                let seen = self.relisting.remove(&resource).unwrap_or_default();
                let vanished: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(uid, n)| n.resource == resource && !seen.contains(*uid))
                    .map(|(uid, _)| uid.clone())
                    .collect();
                for uid in vanished {
                    self.remove(&uid);
                }
            }
            Event::Apply(meta) => self.upsert(resource, &meta),
            Event::Delete(meta) => {
                if let Some(uid) = meta.metadata.uid.as_deref() {
                    self.remove(uid);
                }
            }
        }
    }
}

pub async fn run(client: kube::Client, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let resources = match resources::deletable(&client).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%err, "garbage collector discovery failed");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        let round = shutdown.child_token();
        let (sender, mut events) = mpsc::unbounded_channel();
        let mut watchers = tokio::task::JoinSet::new();
        for (index, resource) in resources.iter().enumerate() {
            let api: Api<Meta> = Api::all_with(client.clone(), &resource.api);
            let sender = sender.clone();
            let stop = round.clone();
            watchers.spawn(async move {
                let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        next = stream.next() => match next {
                            Some(Ok(event)) => if sender.send((index, event)).is_err() { return },
                            Some(Err(err)) => {
                                tracing::debug!(%err, "garbage collector watch error");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                            None => return,
                        }
                    }
                }
            });
        }
        drop(sender);
        let mut graph = Graph::default();
        let rediscover = tokio::time::sleep(REDISCOVERY);
        tokio::pin!(rediscover);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = &mut rediscover => break,
                event = events.recv() => {
                    let Some((index, event)) = event else { break };
                    graph.apply(index, event);
                    while let Ok((index, event)) = events.try_recv() {
                        graph.apply(index, event);
                    }
                    if graph.relisting.is_empty() {
                        collect(&client, &resources, &mut graph).await;
                    }
                }
            }
        }
        round.cancel();
        while watchers.join_next().await.is_some() {}
    }
}

fn api_for(
    client: &kube::Client,
    resource: &Resource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match (resource.namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource.api),
        _ => Api::all_with(client.clone(), &resource.api),
    }
}

/// Handle every dirty node.
async fn collect(client: &kube::Client, resources: &[Resource], graph: &mut Graph) {
    let dirty: Vec<String> = graph.dirty.drain().collect();
    for uid in dirty {
        if let Err(err) = process(client, resources, graph, &uid).await {
            tracing::debug!(%err, %uid, "garbage collection step failed; will retry on the next change");
            graph.dirty.insert(uid);
        }
    }
}

async fn process(
    client: &kube::Client,
    resources: &[Resource],
    graph: &Graph,
    uid: &str,
) -> Result<(), kube::Error> {
    let Some(node) = graph.nodes.get(uid) else {
        return Ok(());
    };
    let api = api_for(client, &resources[node.resource], node.namespace.as_deref());
    let dependents: Vec<&Node> = graph
        .dependents
        .get(uid)
        .into_iter()
        .flatten()
        .filter_map(|d| graph.nodes.get(d))
        .collect();

    if node.deleting && node.finalizers.iter().any(|f| f == "orphan") {
        for dependent in &dependents {
            let remaining: Vec<&OwnerReference> =
                dependent.owners.iter().filter(|o| o.uid != uid).collect();
            let dependent_api = api_for(
                client,
                &resources[dependent.resource],
                dependent.namespace.as_deref(),
            );
            let patch = json!({"metadata": {"ownerReferences": remaining, "resourceVersion": dependent.resource_version}});
            ignore_gone(
                dependent_api
                    .patch(
                        &dependent.name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await,
            )?;
        }
        if dependents.is_empty() {
            remove_finalizer(&api, node, "orphan").await?;
        }
        return Ok(());
    }

    if node.deleting && node.finalizers.iter().any(|f| f == "foregroundDeletion") {
        let mut blocking = 0;
        for dependent in &dependents {
            let blocks = dependent
                .owners
                .iter()
                .any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
            if blocks {
                blocking += 1;
            }
            if !dependent.deleting {
                let dependent_api = api_for(
                    client,
                    &resources[dependent.resource],
                    dependent.namespace.as_deref(),
                );
                let params = if blocks {
                    DeleteParams::foreground()
                } else {
                    DeleteParams::background()
                };
                ignore_gone(
                    dependent_api
                        .delete(&dependent.name, &params)
                        .await
                        .map(|_| ()),
                )?;
            }
        }
        if blocking == 0 {
            remove_finalizer(&api, node, "foregroundDeletion").await?;
        }
        return Ok(());
    }

    if node.owners.is_empty() {
        return Ok(());
    }
    let mut absent = Vec::new();
    let mut foreground_owner = false;
    for owner in &node.owners {
        match graph.nodes.get(&owner.uid) {
            Some(owner_node) => {
                if owner_node.deleting
                    && owner_node
                        .finalizers
                        .iter()
                        .any(|f| f == "foregroundDeletion")
                    && owner.block_owner_deletion == Some(true)
                {
                    foreground_owner = true;
                }
            }
            None => {
                if owner_is_gone(client, resources, node, owner).await? {
                    absent.push(owner.uid.clone());
                }
            }
        }
    }
    if absent.len() == node.owners.len() {
        if !node.deleting {
            ignore_gone(
                api.delete(&node.name, &DeleteParams::background())
                    .await
                    .map(|_| ()),
            )?;
        }
    } else if foreground_owner && !node.deleting {
        ignore_gone(
            api.delete(&node.name, &DeleteParams::foreground())
                .await
                .map(|_| ()),
        )?;
    } else if !absent.is_empty() {
        let remaining: Vec<&OwnerReference> = node
            .owners
            .iter()
            .filter(|o| !absent.contains(&o.uid))
            .collect();
        let patch = json!({"metadata": {"ownerReferences": remaining, "resourceVersion": node.resource_version}});
        ignore_gone(
            api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        )?;
    }
    Ok(())
}

/// Confirm with the API that an owner missing from our graph is really gone (our watches may
/// lag behind a just-created owner).
async fn owner_is_gone(
    client: &kube::Client,
    resources: &[Resource],
    dependent: &Node,
    owner: &OwnerReference,
) -> Result<bool, kube::Error> {
    let Some(resource) = resources
        .iter()
        .find(|r| r.api.api_version == owner.api_version && r.api.kind == owner.kind)
    else {
        // An owner kind we cannot resolve is never treated as gone.
        return Ok(false);
    };
    let api = api_for(
        client,
        resource,
        if resource.namespaced {
            dependent.namespace.as_deref()
        } else {
            None
        },
    );
    match api.get_metadata_opt(&owner.name).await? {
        Some(found) => Ok(found.metadata.uid.as_deref() != Some(owner.uid.as_str())),
        None => Ok(true),
    }
}

async fn remove_finalizer(
    api: &Api<DynamicObject>,
    node: &Node,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let remaining: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch =
        json!({"metadata": {"finalizers": remaining, "resourceVersion": node.resource_version}});
    ignore_gone(
        api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ()),
    )
}

/// 404 (already gone) and 409 (changed meanwhile: the watch brings the new state) are not
/// failures of the collector.
fn ignore_gone<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(err) => Err(err),
    }
}
