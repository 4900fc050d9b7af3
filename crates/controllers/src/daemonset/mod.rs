//! The DaemonSet controller (upstream's daemonset-controller): one pod per eligible node, each
//! pinned to its node by a required node affinity and bound by the default scheduler; pods
//! follow nodes as they come, change and go; RollingUpdate (maxUnavailable or maxSurge) and
//! OnDelete; ControllerRevisions; and the status `kubectl rollout status ds/x` reads.

mod eligibility;
mod plan;
mod pods;
mod revisions;

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::{NORMAL, Recorder, WARNING, reference_to};
use crate::informers::Informers;
use crate::podcontrol::expectations::{Expectations, Seen};
use crate::podcontrol::index::OwnerIndex;
use crate::statefulset::{claim_pods, owners_of};

const COMPONENT: &str = "daemonset-controller";

/// Upstream's BurstReplicas: at most this many creates and deletes per sync.
const BURST_REPLICAS: usize = 250;

/// A safety net like upstream's informer resync: every object is synced this often even when
/// nothing it watches changed.
const RESYNC: Duration = Duration::from_secs(300);

/// How soon to look again while our own writes are still in flight.
const RECHECK: Duration = Duration::from_secs(1);

struct Context {
    client: kube::Client,
    pods: OwnerIndex<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    events: Recorder,
    expectations: Expectations,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let sets = informers.shared::<DaemonSet>();
    let pods = informers.shared::<Pod>();
    let nodes = informers.shared::<Node>();
    let revisions = informers.shared::<ControllerRevision>();
    let context = Arc::new(Context {
        events: Recorder::new(client.clone(), COMPONENT),
        client,
        pods: OwnerIndex::new(pods.cache.clone()),
        nodes: nodes.cache,
        revisions: revisions.cache,
        expectations: Expectations::new(),
    });
    let node_trigger = node_change_mapper(sets.cache.clone(), context.nodes.clone());
    async move {
        // Controllers start with synced caches; the change stream replays the initial list
        // too, but possibly after the first sync.
        for pod in context.pods.cache().state() {
            context.pods.observe(&pod);
        }
        let index = context.pods.clone();
        let sets_cache = sets.cache.clone();
        Controller::for_shared_stream(sets.changes, sets.cache)
            .watches_shared_stream(pods.changes, move |pod| {
                owners_of(
                    &index,
                    &sets_cache,
                    |ds: &DaemonSet| ds.spec.as_ref().map(|s| &s.selector),
                    &pod,
                )
            })
            .watches_shared_stream(nodes.changes, node_trigger)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

/// Every DaemonSet is synced when a node appears, goes, or changes in a way that can change
/// where daemon pods belong (labels, taints, conditions), not on every status heartbeat.
fn node_change_mapper(
    sets: Store<DaemonSet>,
    nodes: Store<Node>,
) -> impl Fn(Arc<Node>) -> Vec<ObjectRef<DaemonSet>> + Send + Sync + 'static {
    let seen: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    let every_set = move || {
        sets.state()
            .iter()
            .map(|ds| ObjectRef::from_obj(&**ds))
            .collect()
    };
    move |node: Arc<Node>| {
        if nodes.get(&ObjectRef::from_obj(&*node)).is_none() {
            // A deletion: the stream hands over the node's last state.
            seen.lock()
                .expect("node fingerprints lock poisoned")
                .remove(&node.name_any());
            return every_set();
        }
        let mut hasher = DefaultHasher::new();
        node.metadata.labels.hash(&mut hasher);
        if let Some(spec) = &node.spec {
            spec.unschedulable.hash(&mut hasher);
            for taint in spec.taints.iter().flatten() {
                (&taint.key, &taint.value, &taint.effect).hash(&mut hasher);
            }
        }
        let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
        for condition in conditions.into_iter().flatten() {
            (&condition.type_, &condition.status).hash(&mut hasher);
        }
        let fingerprint = hasher.finish();
        let changed = seen
            .lock()
            .expect("node fingerprints lock poisoned")
            .insert(node.name_any(), fingerprint)
            != Some(fingerprint);
        if !changed {
            return Vec::new();
        }
        every_set()
    }
}

fn error_policy(ds: Arc<DaemonSet>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, daemonset = %ds.name_any(), "daemonset sync failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(ds: Arc<DaemonSet>, context: Arc<Context>) -> Result<Action, ControllerError> {
    tracing::debug!(daemonset = %ds.name_any(), "syncing daemonset");
    let uid = ds.uid().unwrap_or_default();
    if ds.metadata.deletion_timestamp.is_some() || ds.spec.is_none() {
        context.expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    let Some(selector) = ds.spec.as_ref().map(|s| &s.selector) else {
        return Ok(Action::await_change());
    };
    let owned = claim_pods(&context.client, &context.pods, &*ds, selector).await?;
    let nodes = context.nodes.state();
    let history = revisions::construct(&context.client, &context.revisions, &ds).await?;
    let view = plan::View::new(&ds, &nodes, owned.clone(), history.hash.clone());
    let mut recheck = None;
    let seen = owned.iter().map(|pod| Seen {
        name: pod.metadata.name.as_deref().unwrap_or_default(),
        uid: pod.metadata.uid.as_deref().unwrap_or_default(),
        terminating: pod.metadata.deletion_timestamp.is_some(),
    });
    if context.expectations.satisfied(&uid, seen) {
        let rolling = ds
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            != Some("OnDelete");
        let surge = rolling && plan::budgets(&ds, &view).0 > 0;
        let mut changes = plan::manage(&view, surge);
        if changes.is_empty() && rolling {
            changes = plan::rolling_update(&ds, &view);
        }
        if !changes.is_empty() {
            tracing::debug!(
                daemonset = %ds.name_any(),
                create_on = ?changes.create_on,
                delete = ?changes.delete.iter().map(|p| p.name_any()).collect::<Vec<_>>(),
                "daemonset changes"
            );
            let template = pods::daemon_template(&ds, &history.hash);
            apply(&context, &ds, &template, changes).await?;
            recheck = Some(RECHECK);
        }
        history.clean_up(&context.client, &ds, &owned).await?;
    } else {
        recheck = Some(RECHECK);
    }
    // A pod's final removal reaches no subscriber of the shared informers: look again soon
    // while any is terminating, so its node gets its replacement without waiting for a resync.
    if owned
        .iter()
        .any(|pod| pod.metadata.deletion_timestamp.is_some())
    {
        recheck = Some(RECHECK);
    }
    let status = plan::status(&ds, &view, history.collision_count);
    if view.min_ready > 0 && status.number_available != Some(status.number_ready) {
        let wait = Duration::from_secs(u64::try_from(view.min_ready).unwrap_or(1));
        recheck = Some(recheck.map_or(wait, |r: Duration| r.min(wait)));
    }
    write_status(&context, &ds, status).await?;
    Ok(Action::requeue(recheck.unwrap_or(RESYNC)))
}

/// Create and delete pods with expectations, creating in upstream's slow-start batches (1, 2,
/// 4, ...; a failed batch stops the rest). Each daemon pod is pinned to its own node, so this
/// cannot use podcontrol's creator of identical pods.
async fn apply(
    context: &Context,
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    changes: plan::Changes,
) -> Result<(), ControllerError> {
    let uid = ds.uid().unwrap_or_default();
    let api: Api<Pod> =
        Api::namespaced(context.client.clone(), &ds.namespace().unwrap_or_default());
    let deletions: Vec<_> = changes.delete.into_iter().take(BURST_REPLICAS).collect();
    context
        .expectations
        .expect_deletions(&uid, deletions.iter().filter_map(|p| p.uid()));
    let deleted = join_all(
        deletions
            .iter()
            .map(|pod| delete_pod(context, ds, &api, pod)),
    )
    .await;
    let mut first_error = deleted.into_iter().find_map(Result::err);

    let mut pending: &[String] = &changes.create_on[..changes.create_on.len().min(BURST_REPLICAS)];
    let mut batch = 1;
    while !pending.is_empty() && first_error.is_none() {
        let (now, later) = pending.split_at(batch.min(pending.len()));
        let created = join_all(now.iter().map(|node| {
            let pod = pods::pod_for_node(ds, template, node);
            create_pod(context, ds, &api, pod)
        }))
        .await;
        for result in created {
            match result {
                Ok(name) => context.expectations.expect_creations(&uid, [name]),
                Err(err) => first_error = first_error.or(Some(err)),
            }
        }
        pending = later;
        batch *= 2;
    }
    first_error.map_or(Ok(()), Err)
}

async fn create_pod(
    context: &Context,
    ds: &DaemonSet,
    api: &Api<Pod>,
    pod: Pod,
) -> Result<String, ControllerError> {
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let name = created.name_any();
            let message = format!("Created pod: {name}");
            context
                .events
                .publish(reference_to(ds), NORMAL, "SuccessfulCreate", message)
                .await;
            Ok(name)
        }
        Err(err) => {
            let message = format!("Error creating: {err}");
            context
                .events
                .publish(reference_to(ds), WARNING, "FailedCreate", message)
                .await;
            Err(err.into())
        }
    }
}

async fn delete_pod(
    context: &Context,
    ds: &DaemonSet,
    api: &Api<Pod>,
    pod: &Pod,
) -> Result<(), ControllerError> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => {
            let message = format!("Deleted pod: {}", pod.name_any());
            context
                .events
                .publish(reference_to(ds), NORMAL, "SuccessfulDelete", message)
                .await;
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(err) => {
            let message = format!("Error deleting: {err}");
            context
                .events
                .publish(reference_to(ds), WARNING, "FailedDelete", message)
                .await;
            Err(err.into())
        }
    }
}

/// Write the status through /status when it changed, retrying once on a stale resourceVersion.
async fn write_status(
    context: &Context,
    ds: &DaemonSet,
    status: DaemonSetStatus,
) -> Result<(), ControllerError> {
    if ds.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<DaemonSet> =
        Api::namespaced(context.client.clone(), &ds.namespace().unwrap_or_default());
    let mut updated = ds.clone();
    for _ in 0..2 {
        updated.status = Some(status.clone());
        match api
            .replace_status(&ds.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => updated = api.get(&ds.name_any()).await?,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
