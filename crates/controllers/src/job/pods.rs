//! Creating, deleting and releasing a Job's pods, on top of the shared [`podcontrol`] helpers
//! (pods from a template with a controller reference, slow-start batches) plus the Job
//! specifics: completion index, hostname and the tracking finalizer.
//!
//! [`podcontrol`]: crate::podcontrol

use std::sync::Mutex;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::indexes::COMPLETION_INDEX;
use super::tracking::TRACKING_FINALIZER;
use crate::ControllerError;
use crate::podcontrol::Owner;
use crate::podcontrol::create::{SLOW_START_INITIAL_BATCH, pod_from_template, slow_start_batch};

/// Writes in flight at once for one Job.
pub const CONCURRENCY: usize = 64;

/// The pod a Job runs (for Indexed Jobs, the pod of one completion index).
pub fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let template = job.spec.clone().unwrap_or_default().template;
    let mut pod = pod_from_template(&template, &Owner::of(job));
    let name = job.name_any();
    let meta = &mut pod.metadata;
    meta.finalizers
        .get_or_insert_with(Vec::new)
        .push(TRACKING_FINALIZER.into());
    let Some(index) = index else {
        return pod;
    };
    meta.generate_name = Some(format!("{name}-{index}-"));
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(COMPLETION_INDEX.into(), index.to_string());
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(COMPLETION_INDEX.into(), index.to_string());
    let pod_spec = pod.spec.get_or_insert_with(Default::default);
    if pod_spec.hostname.is_none() {
        pod_spec.hostname = Some(format!("{name}-{index}"));
    }
    let index_env = EnvVar {
        name: "JOB_COMPLETION_INDEX".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
            }),
            ..Default::default()
        }),
    };
    let containers = pod_spec
        .containers
        .iter_mut()
        .chain(pod_spec.init_containers.iter_mut().flatten());
    for container in containers {
        let env = container.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.name == index_env.name) {
            env.push(index_env.clone());
        }
    }
    pod
}

/// Create pods in upstream's slow-start batches (1, 2, 4, ...), stopping at the first batch
/// with a failure so a broken template does not cause a storm of errors. Returns the created
/// pods' names and the first error.
pub async fn create_slow_start(
    api: &Api<Pod>,
    pods: Vec<Pod>,
) -> (Vec<String>, Option<ControllerError>) {
    let count = pods.len();
    let queue = Mutex::new(pods.into_iter());
    slow_start_batch(count, SLOW_START_INITIAL_BATCH, || {
        let next = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next();
        async move {
            let pod = next.expect("slow_start_batch calls once per pod");
            let created = api.create(&PostParams::default(), &pod).await?;
            Ok(created.name_any())
        }
    })
    .await
}

/// Delete a pod; a pod already gone counts as deleted.
pub async fn delete(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    match api.delete(&pod.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err),
    }
}

/// Remove the tracking finalizer (only from the pod with this uid); gone pods are fine.
pub async fn release(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let patch = json!({
        "metadata": {
            "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
            "uid": pod.uid(),
        }
    });
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(err) => Err(err),
    }
}
