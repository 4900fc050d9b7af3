//! Status as upstream's calculateStatus computes it, written through the status subresource
//! only when it changed.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use super::ReplicaKind;
use super::kinds::{Condition, ReplicaStatus};
use crate::ControllerError;
use crate::podcontrol::{api_message, pods};

pub const REPLICA_FAILURE: &str = "ReplicaFailure";

pub(crate) fn calculate<K: ReplicaKind>(
    object: &K,
    claimed: &[Arc<Pod>],
    manage_error: Option<&ControllerError>,
) -> ReplicaStatus {
    let now = Timestamp::now();
    let template_labels = object
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = object.min_ready_seconds();
    let fully_labeled = claimed
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            template_labels
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let ready = claimed.iter().filter(|p| pods::is_ready(p)).count();
    let available = claimed
        .iter()
        .filter(|p| pods::is_available(p, min_ready, now))
        .count();
    let current = object.replica_status();
    let mut conditions = current.conditions.clone();
    let has_failure = conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match manage_error {
        Some(err) if !has_failure => {
            let diff = claimed.len() as i64 - i64::from(object.replicas());
            let reason = if diff < 0 {
                "FailedCreate"
            } else if diff > 0 {
                "FailedDelete"
            } else {
                ""
            };
            conditions.push(Condition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(api_message(err)),
                last_transition_time: Some(Time(now)),
            });
        }
        None if has_failure => conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }
    ReplicaStatus {
        replicas: claimed.len() as i32,
        fully_labeled_replicas: fully_labeled as i32,
        ready_replicas: ready as i32,
        available_replicas: available as i32,
        observed_generation: object.meta().generation,
        conditions,
    }
}

/// Write `status` unless it is what the object already has. A conflict (a stale cache)
/// fails the sync, which is retried with the newer object.
pub(crate) async fn update<K: ReplicaKind>(
    client: &kube::Client,
    object: &K,
    status: ReplicaStatus,
) -> Result<(), ControllerError> {
    if object.replica_status() == status {
        return Ok(());
    }
    let mut updated = object.clone();
    updated.set_replica_status(status);
    let api: Api<K> = Api::namespaced(
        client.clone(),
        object.meta().namespace.as_deref().unwrap_or_default(),
    );
    api.replace_status(
        object.meta().name.as_deref().unwrap_or_default(),
        &PostParams::default(),
        &updated,
    )
    .await?;
    Ok(())
}
