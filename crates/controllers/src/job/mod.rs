//! The Job controller (upstream's job-controller): runs a Job's pods to completion.
//!
//! Each sync reads the Job's pods from the shared pod cache through an owner index, computes a
//! [`plan::Plan`] (pure), then deletes and creates pods, writes the status through the status
//! subresource with the Job's resourceVersion, and finally releases counted pods from the
//! tracking finalizer. [`expectations`] keeps a Job from being synced again before the caches
//! show those writes.

mod expectations;
mod failure_policy;
pub mod indexes;
mod plan;
mod pods;
pub mod tracking;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::{Recorder, reference_to};
use crate::informers::Informers;
use crate::podcontrol::index::OwnerIndex;
use expectations::Expectations;
use tracking::{Backoff, has_tracking_finalizer};

const COMPONENT: &str = "job-controller";
/// How soon a Job waiting for its caches or for terminating pods is looked at again.
const RECHECK: Duration = Duration::from_secs(1);
/// How often index entries of deleted pods are dropped.
const SWEEP_PERIOD: Duration = Duration::from_secs(30);
/// The value of `spec.managedBy` this controller serves (unset means the same).
const MANAGED_BY: &str = "kubernetes.io/job-controller";

struct Context {
    client: kube::Client,
    index: OwnerIndex<Pod>,
    expectations: Expectations,
    backoff: Mutex<HashMap<String, Backoff>>,
    recorder: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let jobs = informers.shared::<Job>();
    let pods = informers.shared::<Pod>();
    let context = Arc::new(Context {
        client: client.clone(),
        index: OwnerIndex::new(pods.cache.clone()),
        expectations: Expectations::default(),
        backoff: Mutex::new(HashMap::new()),
        recorder: Recorder::new(client.clone(), COMPONENT),
    });
    async move {
        for object in context.index.cache().state() {
            context.index.observe(&object);
        }
        let (orphans_tx, orphans_rx) = mpsc::unbounded_channel();
        let watched = context.clone();
        let job_cache = jobs.cache.clone();
        let pod_cache = pods.cache.clone();
        let sweeper = context.index.clone();
        let pod_changes = pods.changes.inspect(move |pod| {
            // A deleted pod's last state must not re-enter the index (swept below).
            if pod_cache.get(&ObjectRef::from_obj(pod.as_ref())).is_some() {
                let _ = watched.index.observe(pod);
            }
            if has_tracking_finalizer(pod) && !has_live_job(pod, &job_cache) {
                if let Some(job_uid) =
                    crate::podcontrol::controller_of(&pod.metadata).map(|o| o.uid.clone())
                {
                    watched.forget(&job_uid);
                }
                let _ = orphans_tx.send(pod.clone());
            }
        });
        let controller = Controller::for_shared_stream(jobs.changes, jobs.cache)
            .owns_shared_stream(pod_changes)
            .graceful_shutdown_on(shutdown.clone().cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {});
        let released = release_orphans(client, orphans_rx, shutdown.clone());
        let swept = sweep(sweeper, shutdown);
        futures::future::join3(controller, released, swept).await;
    }
}

/// Drop index entries of deleted children now and then (their owners were already told
/// through the deletion event).
pub(crate) async fn sweep<K>(index: OwnerIndex<K>, shutdown: CancellationToken)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        let _ = index.sweep();
    }
}

/// Whether the Job controlling `pod` still exists (same uid) in the cache.
fn has_live_job(pod: &Pod, jobs: &Store<Job>) -> bool {
    let Some(owner) = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "Job")
    else {
        return false;
    };
    let key = ObjectRef::<Job>::new(&owner.name).within(&pod.namespace().unwrap_or_default());
    jobs.get(&key)
        .is_some_and(|job| job.uid().as_deref() == Some(owner.uid.as_str()))
}

/// Pods whose Job is gone (or that were orphaned) keep no tracking finalizer, as upstream's
/// pod event handler ensures.
async fn release_orphans(
    client: kube::Client,
    mut orphans: mpsc::UnboundedReceiver<Arc<Pod>>,
    shutdown: CancellationToken,
) {
    loop {
        let pod = tokio::select! {
            _ = shutdown.cancelled() => return,
            pod = orphans.recv() => match pod { Some(pod) => pod, None => return },
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        if let Err(err) = pods::release(&api, &pod).await {
            tracing::warn!(%err, pod = %pod.name_any(), "could not release orphaned job pod");
        }
    }
}

impl Context {
    /// Drop what is remembered about a Job that no longer exists.
    fn forget(&self, job_uid: &str) {
        self.expectations.forget(job_uid);
        self.backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(job_uid);
    }
}

fn error_policy(job: Arc<Job>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, job = %job.name_any(), "job sync failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(job: Arc<Job>, context: Arc<Context>) -> Result<Action, ControllerError> {
    let managed_by = job.spec.as_ref().and_then(|s| s.managed_by.as_deref());
    if managed_by.is_some_and(|m| m != MANAGED_BY) {
        return Ok(Action::await_change());
    }
    let Some(uid) = job.uid() else {
        return Ok(Action::await_change());
    };
    let pods = context.index.owned_by(&uid);
    if !context
        .expectations
        .satisfied(&uid, job.resource_version().as_deref(), &pods)
    {
        // Shared streams announce changes but not removals, so a pod that vanished (deleted,
        // or released from its finalizer while being deleted) triggers nothing: look again
        // shortly rather than wait for an event.
        return Ok(Action::requeue(RECHECK));
    }
    let now = jiff::Timestamp::now();
    let backoff = context
        .backoff
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&uid)
        .copied()
        .unwrap_or_default();
    let mut plan = plan::plan(&job, &pods, backoff, now);
    {
        let mut records = context
            .backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if tracking::is_finished(&job) {
            records.remove(&uid);
        } else {
            records.insert(uid.clone(), plan.backoff);
        }
    }
    let namespace = job.namespace().unwrap_or_default();
    let pod_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);

    let deleted = delete_pods(&job, &uid, &pod_api, &plan.delete, &context).await?;
    let created = create_pods(&job, &uid, &pod_api, &plan.create, &context).await;
    let active =
        plan.status.active.unwrap_or(0) + deleted_shortfall(plan.delete.len(), deleted) + created;
    plan.status.active = Some(active).filter(|n| *n > 0);

    if job.status.as_ref() != Some(&plan.status) {
        let mut updated = (*job).clone();
        updated.status = Some(plan.status.clone());
        let api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
        match api
            .replace_status(&job.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(written) => context
                .expectations
                .status_written(&uid, written.resource_version().as_deref()),
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(err) => return Err(err.into()),
        }
        for (kind, reason, message) in &plan.events {
            context
                .recorder
                .publish(reference_to(job.as_ref()), kind, reason, message.clone())
                .await;
        }
    }
    release_pods(&uid, &pod_api, &plan.unfinalize, &context).await?;
    let mut requeue = plan.requeue_after;
    // Pods released or terminating disappear without an event (see above).
    let waiting_for_removals =
        !plan.unfinalize.is_empty() || plan.status.terminating.unwrap_or(0) > 0;
    if waiting_for_removals && !tracking::is_finished(&job) {
        requeue = Some(requeue.map_or(RECHECK, |r| r.min(RECHECK)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Pods the plan meant to delete but could not still count as active.
fn deleted_shortfall(planned: usize, deleted: usize) -> i32 {
    (planned - deleted) as i32
}

async fn delete_pods(
    job: &Job,
    uid: &str,
    api: &Api<Pod>,
    doomed: &[Arc<Pod>],
    context: &Context,
) -> Result<usize, ControllerError> {
    let results: Vec<(Arc<Pod>, Result<(), kube::Error>)> = stream::iter(doomed.iter().cloned())
        .map(|pod| async move {
            let result = pods::delete(api, &pod).await;
            (pod, result)
        })
        .buffer_unordered(pods::CONCURRENCY)
        .collect()
        .await;
    let mut deleted = 0;
    let mut failure = None;
    for (pod, result) in results {
        match result {
            Ok(()) => {
                deleted += 1;
                if let Some(pod_uid) = pod.uid() {
                    context.expectations.deleted(uid, pod_uid);
                }
                let message = format!("Deleted pod: {}", pod.name_any());
                context
                    .recorder
                    .publish(reference_to(job), "Normal", "SuccessfulDelete", message)
                    .await;
            }
            Err(err) => failure = Some(err),
        }
    }
    match failure {
        Some(err) if deleted == 0 => Err(err.into()),
        _ => Ok(deleted),
    }
}

async fn create_pods(
    job: &Job,
    uid: &str,
    api: &Api<Pod>,
    wanted: &[Option<i32>],
    context: &Context,
) -> i32 {
    if wanted.is_empty() {
        return 0;
    }
    let templates = wanted
        .iter()
        .map(|index| pods::pod_for(job, *index))
        .collect();
    let (created, failure) = pods::create_slow_start(api, templates).await;
    for name in &created {
        context.expectations.created(uid, name.clone());
        let message = format!("Created pod: {name}");
        context
            .recorder
            .publish(reference_to(job), "Normal", "SuccessfulCreate", message)
            .await;
    }
    if let Some(err) = failure {
        let message = format!("Error creating: {err}");
        context
            .recorder
            .publish(reference_to(job), "Warning", "FailedCreate", message)
            .await;
    }
    created.len() as i32
}

async fn release_pods(
    uid: &str,
    api: &Api<Pod>,
    counted: &[Arc<Pod>],
    context: &Context,
) -> Result<(), ControllerError> {
    let results: Vec<(Arc<Pod>, Result<(), kube::Error>)> = stream::iter(counted.iter().cloned())
        .map(|pod| async move {
            let result = pods::release(api, &pod).await;
            (pod, result)
        })
        .buffer_unordered(pods::CONCURRENCY)
        .collect()
        .await;
    let mut failure = None;
    for (pod, result) in results {
        match result {
            Ok(()) => {
                if let Some(pod_uid) = pod.uid() {
                    context.expectations.unfinalized(uid, pod_uid);
                }
            }
            Err(err) => failure = Some(err),
        }
    }
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}
