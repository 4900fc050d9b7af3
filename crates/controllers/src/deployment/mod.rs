//! The Deployment controller, as upstream's: a ReplicaSet per pod template (named
//! `<deployment>-<pod-template-hash>`), RollingUpdate within maxSurge/maxUnavailable or
//! Recreate, proportional scaling mid-rollout, pause/resume, revisions and their history
//! (what `kubectl rollout history/undo` read and patch), revisionHistoryLimit cleanup, and the
//! Progressing/Available conditions `kubectl rollout status` waits on.
//!
//! A sync derives everything from the API objects (the deployment, its ReplicaSets and their
//! annotations), and every ReplicaSet write carries the resourceVersion it was computed from,
//! so a stale cache or a restart mid-rollout can neither exceed maxSurge nor lose pods.

mod progress;
mod recreate;
mod rolling;
mod scale;
mod sync;
mod util;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::{Recorder, WARNING, reference_to};
use crate::informers::Informers;
use crate::podcontrol::index::{OwnerIndex, OwnerOf};
use crate::podcontrol::selector::Selector;
use crate::podcontrol::{Owner, claim, controller_of};
use sync::Rollout;

const SWEEP_PERIOD: Duration = Duration::from_secs(1);

pub(crate) struct Context {
    pub client: kube::Client,
    pub deployments: Store<Deployment>,
    pub replicasets: OwnerIndex<ReplicaSet>,
    pub pods: OwnerIndex<Pod>,
    pub recorder: Recorder,
}

/// Set up the deployment controller; the future runs it until `shutdown`.
pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static + use<> {
    let deployments = informers.shared::<Deployment>();
    let sets = informers.shared::<ReplicaSet>();
    let pods = informers.shared::<Pod>();
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), "deployment-controller"),
        client,
        deployments: deployments.cache.clone(),
        replicasets: OwnerIndex::new(sets.cache.clone()),
        pods: OwnerIndex::new(pods.cache.clone()),
    });
    async move {
        // Controllers start once the caches are synced; the indexes must be complete before
        // the first reconcile.
        for rs in sets.cache.state() {
            context.replicasets.observe(&rs);
        }
        for pod in pods.cache.state() {
            context.pods.observe(&pod);
        }
        let (vanished, vanished_rx) = mpsc::unbounded();
        let sweeper = sweep(context.clone(), vanished, shutdown.clone());
        let rs_context = context.clone();
        let pod_context = context.clone();
        let controller = Controller::for_shared_stream(deployments.changes, deployments.cache)
            .watches_shared_stream(sets.changes, move |rs| rs_context.replicaset_changed(&rs))
            .watches_shared_stream(pods.changes, move |pod| pod_context.pod_changed(&pod))
            .reconcile_on(vanished_rx)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| futures::future::ready(()));
        tokio::join!(controller, sweeper);
    }
}

/// Notice ReplicaSets and pods that vanished without a deletion reaching the change streams
/// (deleted while a watch was relisting) and resync their deployments.
async fn sweep(
    context: Arc<Context>,
    vanished: mpsc::UnboundedSender<ObjectRef<Deployment>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        for owner in context.replicasets.sweep() {
            if let Some(d) = deployment_ref(&owner) {
                let _ = vanished.unbounded_send(d);
            }
        }
        for owner in context.pods.sweep() {
            if let Some(d) = context.deployment_of_replicaset(&owner) {
                let _ = vanished.unbounded_send(d);
            }
        }
    }
}

fn deployment_ref(owner: &OwnerOf) -> Option<ObjectRef<Deployment>> {
    (owner.reference.kind == "Deployment" && owner.reference.api_version.starts_with("apps/"))
        .then(|| ObjectRef::new(&owner.reference.name).within(&owner.namespace))
}

fn selector_of(d: &Deployment) -> Selector {
    Selector::from_label_selector(d.spec.as_ref().map(|s| &s.selector))
}

impl Context {
    fn replicaset_changed(&self, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
        let previous = self.replicasets.observe(rs);
        let mut refs: Vec<ObjectRef<Deployment>> =
            previous.iter().filter_map(deployment_ref).collect();
        let namespace = rs.metadata.namespace.clone().unwrap_or_default();
        match controller_of(&rs.metadata) {
            Some(reference) => refs.extend(deployment_ref(&OwnerOf {
                namespace,
                reference: reference.clone(),
            })),
            None => {
                for d in self.deployments.state() {
                    if d.metadata.namespace.as_deref() == Some(namespace.as_str())
                        && selector_of(&d).matches(rs.metadata.labels.as_ref())
                    {
                        refs.push(ObjectRef::from_obj(&*d));
                    }
                }
            }
        }
        refs
    }

    /// Pods matter to a deployment only under Recreate, which waits for old pods to go.
    fn pod_changed(&self, pod: &Pod) -> Option<ObjectRef<Deployment>> {
        self.pods.observe(pod);
        let owner = OwnerOf {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            reference: controller_of(&pod.metadata)?.clone(),
        };
        self.deployment_of_replicaset(&owner)
    }

    fn deployment_of_replicaset(&self, owner: &OwnerOf) -> Option<ObjectRef<Deployment>> {
        if owner.reference.kind != "ReplicaSet" {
            return None;
        }
        let rs = self
            .replicasets
            .cache()
            .get(&ObjectRef::new(&owner.reference.name).within(&owner.namespace))?;
        let d = deployment_ref(&OwnerOf {
            namespace: owner.namespace.clone(),
            reference: controller_of(&rs.metadata)?.clone(),
        })?;
        let deployment = self.deployments.get(&d)?;
        util::is_recreate(&deployment).then_some(d)
    }
}

fn error_policy(d: Arc<Deployment>, err: &ControllerError, _: Arc<Context>) -> Action {
    if crate::podcontrol::is_conflict(err) {
        // A write computed from a stale cache; the newer object triggers the next sync.
        tracing::debug!(%err, name = ?d.metadata.name, "deployment stale; retrying");
    } else {
        tracing::warn!(%err, name = ?d.metadata.name, "deployment sync failed; retrying");
    }
    Action::requeue(Duration::from_millis(500))
}

async fn reconcile(d: Arc<Deployment>, context: Arc<Context>) -> Result<Action, ControllerError> {
    let mut d = (*d).clone();
    let selector = selector_of(&d);
    if selector.is_everything() {
        context
            .recorder
            .publish(
                reference_to(&d),
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            )
            .await;
        let status = d.status.get_or_insert_with(Default::default);
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
            let api: kube::Api<Deployment> = kube::Api::namespaced(
                context.client.clone(),
                d.metadata.namespace.as_deref().unwrap_or_default(),
            );
            let name = d.metadata.name.clone().unwrap_or_default();
            api.replace_status(&name, &Default::default(), &d).await?;
        }
        return Ok(Action::await_change());
    }
    let owner = Owner::of(&d);
    let candidates = context
        .replicasets
        .owned_by(&owner.uid)
        .into_iter()
        .chain(context.replicasets.orphans_in(&owner.namespace));
    let claimed = claim::claim(
        &context.client,
        &owner,
        &selector,
        candidates,
        recheck(&context.client, &owner),
    )
    .await?;
    let mut rollout = Rollout {
        context: &context,
        d,
        sets: claimed.iter().map(|rs| (**rs).clone()).collect(),
    };
    let recheck_after = sync_deployment(&mut rollout).await?;
    Ok(match recheck_after {
        Some(wait) => Action::requeue(wait),
        None => Action::await_change(),
    })
}

/// Upstream's syncDeployment after the ReplicaSets are claimed.
async fn sync_deployment(rollout: &mut Rollout<'_>) -> Result<Option<Duration>, ControllerError> {
    if rollout.d.metadata.deletion_timestamp.is_some() {
        return rollout.sync_status_only().await;
    }
    if let Some(condition) = progress::paused_condition(&rollout.d) {
        let mut status = rollout.d.status.clone().unwrap_or_default();
        progress::set(&mut status, condition);
        rollout.save(None, Some(status)).await?;
    }
    if util::is_paused(&rollout.d) || rollout.is_scaling_event().await? {
        return rollout.sync().await;
    }
    if util::is_recreate(&rollout.d) {
        rollout.rollout_recreate().await
    } else {
        rollout.rollout_rolling().await
    }
}

async fn recheck(client: &kube::Client, owner: &Owner) -> Result<bool, ControllerError> {
    let api: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), &owner.namespace);
    let fresh = api.get(&owner.name).await?;
    Ok(fresh.metadata.uid.as_deref() == Some(owner.uid.as_str())
        && fresh.metadata.deletion_timestamp.is_none())
}

impl Rollout<'_> {
    async fn is_scaling_event(&mut self) -> Result<bool, ControllerError> {
        let new = self.sync_revision(false).await?;
        let (_, old) = self.new_and_old();
        let desired = util::replicas(&self.d);
        Ok(self
            .all(new, &old)
            .iter()
            .filter(|rs| util::rs_replicas(rs) > 0)
            .any(|rs| util::desired_annotation(rs).is_some_and(|a| a != desired)))
    }

    /// Upstream's sync: scaling and status for paused deployments and scaling events.
    async fn sync(&mut self) -> Result<Option<Duration>, ControllerError> {
        let new = self.sync_revision(false).await?;
        let (_, old) = self.new_and_old();
        self.scale(new, &old).await?;
        if util::is_paused(&self.d) {
            self.cleanup(&old).await?;
        }
        self.sync_status(new, &old).await?;
        Ok(None)
    }

    async fn sync_status_only(&mut self) -> Result<Option<Duration>, ControllerError> {
        let new = self.sync_revision(false).await?;
        let (_, old) = self.new_and_old();
        self.sync_status(new, &old).await?;
        Ok(None)
    }

    async fn sync_status(
        &mut self,
        new: Option<usize>,
        old: &[usize],
    ) -> Result<(), ControllerError> {
        let status = {
            let all = self.all(new, old);
            progress::calculate(&all, new.map(|n| &self.sets[n]), &self.d)
        };
        self.save(None, Some(status)).await
    }

    /// Upstream's syncRolloutStatus; returns when to look again for the progress deadline.
    pub async fn sync_rollout_status(
        &mut self,
        new: Option<usize>,
        old: &[usize],
    ) -> Result<Option<Duration>, ControllerError> {
        let status = {
            let all = self.all(new, old);
            progress::rollout_status(&all, new.map(|n| &self.sets[n]), &self.d)
        };
        let wait = progress::recheck_after(&self.d, &status);
        self.save(None, Some(status)).await?;
        Ok(wait)
    }
}
