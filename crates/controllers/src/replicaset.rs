//! The ReplicaSet and ReplicationController controllers (one generic implementation, as
//! upstream's ReplicationManager wraps the ReplicaSetController): keep `replicas` active pods
//! matching the selector, adopting matching orphans and releasing pods that stopped matching,
//! and report replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//! observedGeneration and the ReplicaFailure condition in status.

mod kinds;
mod manage;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

pub use kinds::{ReplicaKind, ReplicaStatus};

use crate::ControllerError;
use crate::events::Recorder;
use crate::informers::Informers;
use crate::podcontrol::expectations::Expectations;
use crate::podcontrol::index::{OwnerIndex, OwnerOf};
use crate::podcontrol::{Owner, controller_of};

/// Upstream's BurstReplicas: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;

/// How often the pod index looks for pods that vanished without a deletion reaching the
/// change stream (deleted while the watch was relisting).
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

pub(crate) struct Context<K: ReplicaKind> {
    pub client: kube::Client,
    pub pods: OwnerIndex<Pod>,
    pub owners: Store<K>,
    pub expectations: Expectations,
    pub recorder: Recorder,
}

/// Set up the ReplicaSet and ReplicationController controllers; the future runs both until
/// `shutdown`.
pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static + use<> {
    let first = informers.shared::<Pod>();
    let index = OwnerIndex::new(first.cache.clone());
    drop(first);
    let (rs_vanished, rs_rx) = mpsc::unbounded();
    let (rc_vanished, rc_rx) = mpsc::unbounded();
    let replicasets = controller::<ReplicaSet>(
        informers,
        client.clone(),
        index.clone(),
        rs_rx,
        shutdown.clone(),
    );
    let controllers = controller::<ReplicationController>(
        informers,
        client,
        index.clone(),
        rc_rx,
        shutdown.clone(),
    );
    let sweeper = async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(SWEEP_PERIOD) => {}
            }
            for owner in index.sweep() {
                route::<ReplicaSet>(&owner, &rs_vanished);
                route::<ReplicationController>(&owner, &rc_vanished);
            }
        }
    };
    async move {
        tokio::join!(replicasets, controllers, sweeper);
    }
}

fn route<K: ReplicaKind>(owner: &OwnerOf, to: &mpsc::UnboundedSender<ObjectRef<K>>) {
    if is_kind::<K>(&owner.reference.api_version, &owner.reference.kind) {
        let _ = to.unbounded_send(ObjectRef::new(&owner.reference.name).within(&owner.namespace));
    }
}

fn is_kind<K: ReplicaKind>(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    kind == K::kind(&()) && group == K::group(&())
}

fn controller<K: ReplicaKind>(
    informers: &mut Informers,
    client: kube::Client,
    index: OwnerIndex<Pod>,
    vanished: mpsc::UnboundedReceiver<ObjectRef<K>>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static + use<K> {
    let owners = informers.shared::<K>();
    let pods = informers.shared::<Pod>();
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), K::COMPONENT),
        client,
        pods: index,
        owners: owners.cache.clone(),
        expectations: Expectations::new(),
    });
    async move {
        // Controllers start once the caches are synced. The change stream replays the initial
        // list too, but possibly after the first reconcile; an owner must never count its
        // pods from a half-built index.
        for pod in pods.cache.state() {
            context.pods.observe(&pod);
        }
        let mapper_context = context.clone();
        let purge = context.expectations.clone();
        Controller::for_shared_stream(owners.changes, owners.cache)
            .watches_shared_stream(pods.changes, move |pod| mapper_context.pod_changed(&pod))
            .reconcile_on(vanished)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile::<K>, error_policy::<K>, context)
            .for_each(|_| {
                purge.purge_expired();
                futures::future::ready(())
            })
            .await;
    }
}

impl<K: ReplicaKind> Context<K> {
    /// Which owners a changed pod concerns: its controller (and former controller), or for an
    /// orphan every owner in its namespace whose selector matches it.
    fn pod_changed(&self, pod: &Pod) -> Vec<ObjectRef<K>> {
        let previous = self.pods.observe(pod);
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let mut owners = Vec::new();
        match controller_of(&pod.metadata) {
            Some(reference) => {
                self.expectations.observed(
                    &reference.uid,
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.uid.as_deref().unwrap_or_default(),
                    pod.metadata.deletion_timestamp.is_some(),
                );
                if is_kind::<K>(&reference.api_version, &reference.kind) {
                    owners.push(ObjectRef::new(&reference.name).within(&namespace));
                }
            }
            None => {
                for owner in self.owners.state() {
                    if owner.meta().namespace.as_deref() == Some(namespace.as_str())
                        && owner.selector().matches(pod.metadata.labels.as_ref())
                    {
                        owners.push(ObjectRef::from_obj(&*owner));
                    }
                }
            }
        }
        if let Some(previous) = previous
            && is_kind::<K>(&previous.reference.api_version, &previous.reference.kind)
        {
            owners.push(ObjectRef::new(&previous.reference.name).within(&previous.namespace));
        }
        owners
    }
}

fn error_policy<K: ReplicaKind>(
    object: Arc<K>,
    err: &ControllerError,
    _: Arc<Context<K>>,
) -> Action {
    if crate::podcontrol::is_conflict(err) {
        // A write computed from a stale cache; the newer object triggers the next sync.
        tracing::debug!(%err, kind = %K::kind(&()), name = ?object.meta().name, "stale; retrying");
    } else {
        tracing::warn!(%err, kind = %K::kind(&()), name = ?object.meta().name, "sync failed; retrying");
    }
    Action::requeue(Duration::from_secs(1))
}

async fn reconcile<K: ReplicaKind>(
    object: Arc<K>,
    context: Arc<Context<K>>,
) -> Result<Action, ControllerError> {
    let owner = Owner::of(&*object);
    let owned = context.pods.owned_by(&owner.uid);
    let synced = context.expectations.satisfied(
        &owner.uid,
        owned.iter().map(|p| crate::podcontrol::expectations::Seen {
            name: p.metadata.name.as_deref().unwrap_or_default(),
            uid: p.metadata.uid.as_deref().unwrap_or_default(),
            terminating: p.metadata.deletion_timestamp.is_some(),
        }),
    );
    let candidates = owned
        .into_iter()
        .chain(context.pods.orphans_in(&owner.namespace))
        .filter(|p| crate::podcontrol::pods::is_active(p));
    let can_adopt = recheck_owner::<K>(&context.client, &owner);
    let claimed = crate::podcontrol::claim::claim(
        &context.client,
        &owner,
        &object.selector(),
        candidates,
        can_adopt,
    )
    .await?;
    let managed = if synced && !owner.deleting {
        manage::manage_replicas(&*object, &owner, &claimed, &context).await
    } else {
        Ok(())
    };
    let status = status::calculate(&*object, &claimed, managed.as_ref().err());
    status::update(&context.client, &*object, status.clone()).await?;
    managed?;
    if !synced {
        let wait = context
            .expectations
            .remaining(&owner.uid)
            .unwrap_or(Duration::from_secs(1));
        return Ok(Action::requeue(wait));
    }
    let min_ready = object.min_ready_seconds();
    if min_ready > 0
        && status.ready_replicas == object.replicas()
        && status.available_replicas != object.replicas()
    {
        return Ok(Action::requeue(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::await_change())
}

/// Upstream's RecheckDeletionTimestamp: adopt only if a fresh read shows the same, live owner.
async fn recheck_owner<K: ReplicaKind>(
    client: &kube::Client,
    owner: &Owner,
) -> Result<bool, ControllerError> {
    let api: kube::Api<K> = kube::Api::namespaced(client.clone(), &owner.namespace);
    let fresh = api.get(&owner.name).await?;
    Ok(fresh.meta().uid.as_deref() == Some(owner.uid.as_str())
        && fresh.meta().deletion_timestamp.is_none())
}
