//! Creating children: pods from a PodTemplateSpec (upstream's `GetPodFromTemplate`) and the
//! slow-start batches that keep a failing create (quota, admission) from being retried
//! hundreds of times in one sync.

use std::future::Future;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::Owner;
use crate::ControllerError;

/// Upstream's SlowStartInitialBatchSize.
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// A pod for `owner` from its template: the template's labels, annotations and finalizers,
/// the name generated from `<owner>-`, and a controller reference that blocks the owner's
/// foreground deletion.
pub fn pod_from_template(template: &PodTemplateSpec, owner: &Owner) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name)),
            namespace: Some(owner.namespace.clone()),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner.controller_ref()]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Run `count` calls of `call` in batches of 1, 2, 4, ... (each batch concurrently),
/// stopping after the first batch with a failure. Returns the successes and that failure.
pub async fn slow_start_batch<T, F, Fut>(
    count: usize,
    initial: usize,
    call: F,
) -> (Vec<T>, Option<ControllerError>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ControllerError>>,
{
    let mut done = Vec::with_capacity(count);
    let mut remaining = count;
    let mut batch = remaining.min(initial.max(1));
    while batch > 0 {
        let results = join_all((0..batch).map(|_| call())).await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(value) => done.push(value),
                Err(err) => failure = Some(err),
            }
        }
        if failure.is_some() {
            return (done, failure);
        }
        remaining -= batch;
        batch = remaining.min(batch * 2);
    }
    (done, None)
}

/// Create `count` pods for `owner` in slow-start batches; returns the names created and the
/// first failure, if any.
pub async fn create_pods(
    client: &kube::Client,
    owner: &Owner,
    template: &PodTemplateSpec,
    count: usize,
) -> (Vec<String>, Option<ControllerError>) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &owner.namespace);
    let pod = pod_from_template(template, owner);
    slow_start_batch(count, SLOW_START_INITIAL_BATCH, || {
        let api = api.clone();
        let pod = pod.clone();
        async move {
            let created = api.create(&PostParams::default(), &pod).await?;
            Ok(created.metadata.name.unwrap_or_default())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn batches_double_until_done() {
        let sizes = Mutex::new(Vec::new());
        let in_batch = AtomicUsize::new(0);
        let (done, err) = slow_start_batch(10, 1, || {
            in_batch.fetch_add(1, Ordering::SeqCst);
            async {
                let n = in_batch.swap(0, Ordering::SeqCst);
                if n > 0 {
                    sizes.lock().unwrap().push(n);
                }
                Ok::<_, ControllerError>(())
            }
        })
        .await;
        assert!(err.is_none());
        assert_eq!(done.len(), 10);
        assert_eq!(*sizes.lock().unwrap(), vec![1, 2, 4, 3]);
    }

    #[tokio::test]
    async fn a_failing_batch_stops_the_rest() {
        let calls = AtomicUsize::new(0);
        let (done, err) = slow_start_batch(100, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n >= 3 {
                    Err(ControllerError::Discovery("quota".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert!(err.is_some());
        // Batches of 1 and 2 succeed; the batch of 4 fails in every call.
        assert_eq!(done.len(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 7);
    }

    #[test]
    fn pods_carry_the_template_and_a_controller_reference() {
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        let owner = Owner {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            namespace: "ns".into(),
            name: "web-abc".into(),
            uid: "u1".into(),
            deleting: false,
        };
        let pod = pod_from_template(&template, &owner);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(pod.metadata.labels.unwrap()["app"], "web");
        let reference = &pod.metadata.owner_references.unwrap()[0];
        assert_eq!(reference.uid, "u1");
        assert_eq!(reference.block_owner_deletion, Some(true));
        assert_eq!(reference.controller, Some(true));
    }
}
