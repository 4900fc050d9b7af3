//! The CronJob controller (upstream's cronjob-controller, the v2 one): creates a Job at each
//! scheduled time, honours the concurrency policy and starting deadline, prunes finished Jobs
//! beyond the history limits, and sleeps until exactly the next scheduled time.

mod plan;
pub mod schedule;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::{Recorder, reference_to};
use crate::informers::Informers;
use crate::podcontrol::index::OwnerIndex;

const COMPONENT: &str = "cronjob-controller";
/// Set on every Job to the time it was scheduled for, in the CronJob's zone.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

struct Context {
    client: kube::Client,
    index: OwnerIndex<Job>,
    recorder: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let cron_jobs = informers.shared::<CronJob>();
    let jobs = informers.shared::<Job>();
    let context = Arc::new(Context {
        client: client.clone(),
        index: OwnerIndex::new(jobs.cache.clone()),
        recorder: Recorder::new(client, COMPONENT),
    });
    async move {
        for object in context.index.cache().state() {
            context.index.observe(&object);
        }
        let watched = context.clone();
        let job_cache = jobs.cache.clone();
        let job_changes = jobs.changes.inspect(move |job| {
            // A deleted Job's last state must not re-enter the index (swept below).
            if job_cache.get(&ObjectRef::from_obj(job.as_ref())).is_some() {
                let _ = watched.index.observe(job);
            }
        });
        let swept = crate::job::sweep(context.index.clone(), shutdown.clone());
        let controller = Controller::for_shared_stream(cron_jobs.changes, cron_jobs.cache)
            .owns_shared_stream(job_changes)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {});
        futures::future::join(controller, swept).await;
    }
}

fn error_policy(cron_job: Arc<CronJob>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, cronjob = %cron_job.name_any(), "cronjob sync failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    cron_job: Arc<CronJob>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let Some(uid) = cron_job.uid() else {
        return Ok(Action::await_change());
    };
    let namespace = cron_job.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let children = context.index.owned_by(&uid);
    let missing = confirm_missing(&jobs, &cron_job, &children).await?;
    let zone = match cron_job.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        None => TimeZone::system(),
        Some(name) => match TimeZone::get(name) {
            Ok(zone) => zone,
            Err(err) => {
                let message = format!("invalid timeZone: {name:?}: {err}");
                context
                    .recorder
                    .publish(
                        reference_to(cron_job.as_ref()),
                        "Warning",
                        "UnknownTimeZone",
                        message,
                    )
                    .await;
                return Ok(Action::await_change());
            }
        },
    };
    let now = Timestamp::now();
    let plan = plan::plan(&cron_job, &children, &missing, &zone, now);
    for (kind, reason, message) in &plan.events {
        context
            .recorder
            .publish(
                reference_to(cron_job.as_ref()),
                kind,
                reason,
                message.clone(),
            )
            .await;
    }
    for doomed in &plan.replace {
        let name = doomed.name.clone().unwrap_or_default();
        delete_job(&jobs, &name).await?;
        context
            .recorder
            .publish(
                reference_to(cron_job.as_ref()),
                "Normal",
                "SuccessfulDelete",
                format!("Deleted job {name}"),
            )
            .await;
    }
    let mut status = plan.status.clone();
    if let Some(scheduled) = plan.create {
        let job = job_for(&cron_job, scheduled, &zone);
        let name = job.name_any();
        match jobs.create(&PostParams::default(), &job).await {
            Ok(created) => {
                status
                    .active
                    .get_or_insert_with(Vec::new)
                    .push(plan::reference(&created));
                let message = format!("Created job {name}");
                context
                    .recorder
                    .publish(
                        reference_to(cron_job.as_ref()),
                        "Normal",
                        "SuccessfulCreate",
                        message,
                    )
                    .await;
            }
            // An earlier sync created it; the next sync adopts it into status.active.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(err) => {
                let message = format!("Error creating job: {err}");
                context
                    .recorder
                    .publish(
                        reference_to(cron_job.as_ref()),
                        "Warning",
                        "FailedCreate",
                        message,
                    )
                    .await;
                return Err(err.into());
            }
        }
    }
    if cron_job.status.as_ref() != Some(&status) {
        let mut updated = (*cron_job).clone();
        updated.status = Some(status);
        let api: Api<CronJob> = Api::namespaced(context.client.clone(), &namespace);
        match api
            .replace_status(&cron_job.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(err) => return Err(err.into()),
        }
    }
    for job in &plan.prune {
        delete_job(&jobs, &job.name_any()).await?;
        let message = format!("Deleted job {}", job.name_any());
        context
            .recorder
            .publish(
                reference_to(cron_job.as_ref()),
                "Normal",
                "SuccessfulDelete",
                message,
            )
            .await;
    }
    Ok(plan
        .requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

/// Uids of `status.active` entries absent from the cache that the API confirms are gone (a
/// Job just created may not be in the cache yet).
async fn confirm_missing(
    jobs: &Api<Job>,
    cron_job: &CronJob,
    children: &[Arc<Job>],
) -> Result<HashSet<String>, ControllerError> {
    let mut missing = HashSet::new();
    let active = cron_job.status.as_ref().and_then(|s| s.active.as_ref());
    for entry in active.into_iter().flatten() {
        let (Some(name), Some(uid)) = (&entry.name, &entry.uid) else {
            continue;
        };
        if children.iter().any(|c| c.uid().as_ref() == Some(uid)) {
            continue;
        }
        match jobs.get_opt(name).await? {
            Some(job) if job.uid().as_ref() == Some(uid) => {}
            _ => {
                missing.insert(uid.clone());
            }
        }
    }
    Ok(missing)
}

async fn delete_job(jobs: &Api<Job>, name: &str) -> Result<(), ControllerError> {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The Job for one scheduled time, from the CronJob's jobTemplate.
fn job_for(cron_job: &CronJob, scheduled: Timestamp, zone: &TimeZone) -> Job {
    let template = cron_job.spec.clone().unwrap_or_default().job_template;
    let template_meta = template.metadata.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(plan::job_name(&cron_job.name_any(), scheduled)),
            namespace: cron_job.namespace(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: CronJob::api_version(&()).into_owned(),
                kind: CronJob::kind(&()).into_owned(),
                name: cron_job.name_any(),
                uid: cron_job.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Go's RFC 3339 layout in the zone: `Z` for a zero offset, `±hh:mm` otherwise.
fn rfc3339(at: Timestamp, zone: &TimeZone) -> String {
    let zoned = at.to_zoned(zone.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}
