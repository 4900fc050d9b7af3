//! The TTL-after-finished controller (upstream's ttl-after-finished-controller): deletes a
//! finished Job `spec.ttlSecondsAfterFinished` seconds after it finished, with foreground
//! propagation so its pods go first. It sleeps until each Job's expiry instead of polling.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::Preconditions;
use kube::api::{Api, DeleteParams};
use kube::runtime::controller::{Action, Controller};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::informers::Informers;
use crate::job::tracking::{COMPLETE, FAILED};

struct Context {
    client: kube::Client,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let jobs = informers.shared::<Job>();
    let context = Arc::new(Context { client });
    async move {
        Controller::for_shared_stream(jobs.changes, jobs.cache)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

fn error_policy(job: Arc<Job>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, job = %job.name_any(), "ttl-after-finished check failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// When the Job's TTL runs out: its Complete or Failed condition's transition time plus the
/// TTL; `None` while it is unfinished, has no TTL or is being deleted.
pub fn expiry(job: &Job) -> Option<Timestamp> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = job
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")?;
    let at = finished.last_transition_time.as_ref()?.0;
    Some(at + SignedDuration::from_secs(i64::from(ttl)))
}

async fn reconcile(job: Arc<Job>, context: Arc<Context>) -> Result<Action, ControllerError> {
    let Some(expires) = expiry(&job) else {
        return Ok(Action::await_change());
    };
    let now = Timestamp::now();
    if now < expires {
        return Ok(Action::requeue(expires.duration_since(now).unsigned_abs()));
    }
    // The cache may be stale (the TTL may have just been raised): decide on a fresh read.
    let api: Api<Job> =
        Api::namespaced(context.client.clone(), &job.namespace().unwrap_or_default());
    let Some(fresh) = api.get_opt(&job.name_any()).await? else {
        return Ok(Action::await_change());
    };
    match expiry(&fresh) {
        Some(expires) if expires <= Timestamp::now() => {}
        Some(expires) => {
            return Ok(Action::requeue(expires.duration_since(now).unsigned_abs()));
        }
        None => return Ok(Action::await_change()),
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: fresh.uid(),
            resource_version: fresh.resource_version(),
        }),
        ..DeleteParams::foreground()
    };
    match api.delete(&fresh.name_any(), &params).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_counts_from_the_terminal_condition() {
        let job: Job = serde_json::from_value(json!({
            "spec": {"ttlSecondsAfterFinished": 30, "template": {}},
            "status": {"conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                {"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}
            ]}
        }))
        .unwrap();
        assert_eq!(expiry(&job), Some("2024-01-01T00:00:35Z".parse().unwrap()));
        let mut running = job.clone();
        running.status = None;
        assert_eq!(expiry(&running), None);
        let mut forever = job;
        forever.spec.as_mut().unwrap().ttl_seconds_after_finished = None;
        assert_eq!(expiry(&forever), None);
    }
}
