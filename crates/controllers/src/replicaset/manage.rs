//! Creating and deleting pods to reach `spec.replicas` (upstream's manageReplicas).

use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions};

use super::{BURST_REPLICAS, Context, ReplicaKind};
use crate::ControllerError;
use crate::events::{NORMAL, WARNING, reference_to};
use crate::podcontrol::{Owner, api_message, controller_of, create, pods};

pub(crate) async fn manage_replicas<K: ReplicaKind>(
    object: &K,
    owner: &Owner,
    claimed: &[Arc<Pod>],
    context: &Context<K>,
) -> Result<(), ControllerError> {
    let wanted = object.replicas().max(0) as usize;
    if claimed.len() < wanted {
        let count = (wanted - claimed.len()).min(BURST_REPLICAS);
        let Some(template) = object.template() else {
            // Validation requires a template; there is nothing to create pods from.
            tracing::warn!(kind = %K::kind(&()), name = %owner.name, "no pod template");
            return Ok(());
        };
        let (created, failure) = create::create_pods(&context.client, owner, template, count).await;
        context
            .expectations
            .expect_creations(&owner.uid, created.iter().cloned());
        let regarding = reference_to(object);
        for name in &created {
            context
                .recorder
                .publish(
                    regarding.clone(),
                    NORMAL,
                    "SuccessfulCreate",
                    format!("Created pod: {name}"),
                )
                .await;
        }
        if let Some(err) = failure {
            context
                .recorder
                .publish(
                    regarding,
                    WARNING,
                    "FailedCreate",
                    format!("Error creating: {}", api_message(&err)),
                )
                .await;
            return Err(err);
        }
    } else if claimed.len() > wanted {
        let count = (claimed.len() - wanted).min(BURST_REPLICAS);
        let related = related_pods(object, context);
        let mut ranked = claimed.to_vec();
        pods::rank_for_deletion(&mut ranked, &related, Timestamp::now());
        ranked.truncate(count);
        context.expectations.expect_deletions(
            &owner.uid,
            ranked.iter().filter_map(|p| p.metadata.uid.clone()),
        );
        let api: Api<Pod> = Api::namespaced(context.client.clone(), &owner.namespace);
        let results = join_all(ranked.iter().map(|pod| delete_pod(&api, pod))).await;
        let regarding = reference_to(object);
        let mut failure = None;
        for (pod, result) in ranked.iter().zip(results) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            match result {
                Ok(()) => {
                    context
                        .recorder
                        .publish(
                            regarding.clone(),
                            NORMAL,
                            "SuccessfulDelete",
                            format!("Deleted pod: {name}"),
                        )
                        .await
                }
                Err(err) => {
                    context.expectations.deletion_failed(
                        &owner.uid,
                        pod.metadata.uid.as_deref().unwrap_or_default(),
                    );
                    context
                        .recorder
                        .publish(
                            regarding.clone(),
                            WARNING,
                            "FailedDelete",
                            format!("Error deleting: {}", api_message(&err)),
                        )
                        .await;
                    failure = Some(err);
                }
            }
        }
        if let Some(err) = failure {
            return Err(err);
        }
    }
    Ok(())
}

async fn delete_pod(api: &Api<Pod>, pod: &Pod) -> Result<(), ControllerError> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api
        .delete(pod.metadata.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        // Already gone (or replaced by a namesake): nothing left to delete.
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Upstream's getIndirectlyRelatedPods: the active pods of every owner sharing this owner's
/// controller (the ReplicaSets of one Deployment), used to spread deletions across nodes.
fn related_pods<K: ReplicaKind>(object: &K, context: &Context<K>) -> Vec<Arc<Pod>> {
    let Some(controller) = controller_of(object.meta()) else {
        return own_pods(object, context);
    };
    let namespace = object.meta().namespace.as_deref();
    context
        .owners
        .state()
        .iter()
        .filter(|o| {
            o.meta().namespace.as_deref() == namespace
                && controller_of(o.meta()).is_some_and(|c| c.uid == controller.uid)
        })
        .flat_map(|o| own_pods(&**o, context))
        .collect()
}

fn own_pods<K: ReplicaKind>(object: &K, context: &Context<K>) -> Vec<Arc<Pod>> {
    let uid = object.meta().uid.as_deref().unwrap_or_default();
    context
        .pods
        .owned_by(uid)
        .into_iter()
        .filter(|p| pods::is_active(p))
        .collect()
}
