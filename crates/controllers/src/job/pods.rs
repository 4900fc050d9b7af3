//! Creating, deleting and releasing a Job's pods.
//!
//! Private helpers until the shared `podcontrol` module lands; they do what it is to do for
//! every workload controller (pods from a template with a controller reference, slow-start
//! batches), plus the Job specifics (completion index, hostname, tracking finalizer).

use futures::StreamExt;
use futures::stream;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::indexes::COMPLETION_INDEX;
use super::tracking::TRACKING_FINALIZER;

/// Writes in flight at once for one Job.
pub const CONCURRENCY: usize = 64;

/// The pod a Job runs (for Indexed Jobs, the pod of one completion index).
pub fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let spec = job.spec.clone().unwrap_or_default();
    let template = spec.template;
    let template_meta = template.metadata.unwrap_or_default();
    let name = job.name_any();
    let mut labels = template_meta.labels.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    let mut finalizers = template_meta.finalizers.unwrap_or_default();
    finalizers.push(TRACKING_FINALIZER.into());
    let mut pod_spec = template.spec.unwrap_or_default();
    let generate_name = match index {
        Some(index) => {
            annotations.insert(COMPLETION_INDEX.into(), index.to_string());
            labels.insert(COMPLETION_INDEX.into(), index.to_string());
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
            format!("{name}-{index}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.namespace(),
            labels: Some(labels),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(job)]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

fn controller_ref(job: &Job) -> OwnerReference {
    OwnerReference {
        api_version: Job::api_version(&()).into_owned(),
        kind: Job::kind(&()).into_owned(),
        name: job.name_any(),
        uid: job.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Create pods in upstream's slow-start batches (1, 2, 4, ...), stopping at the first batch
/// with a failure so a broken template does not cause a storm of errors. Returns the created
/// pods' names and the first error.
pub async fn create_slow_start(
    api: &Api<Pod>,
    pods: Vec<Pod>,
) -> (Vec<String>, Option<kube::Error>) {
    let mut created = Vec::new();
    let mut pending = pods.into_iter();
    let mut batch = 1usize;
    loop {
        let chunk: Vec<Pod> = pending.by_ref().take(batch).collect();
        if chunk.is_empty() {
            return (created, None);
        }
        let results: Vec<Result<Pod, kube::Error>> = stream::iter(chunk)
            .map(|pod| async move { api.create(&PostParams::default(), &pod).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(pod) => created.push(pod.name_any()),
                Err(err) => failure = Some(err),
            }
        }
        if failure.is_some() {
            return (created, failure);
        }
        batch *= 2;
    }
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
