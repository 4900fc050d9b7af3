//! expectedPods and desiredHealthy of a budget: the selected pods themselves for an integer
//! minAvailable, the replicas of their controllers (through the scale subresource) for
//! percentages and maxUnavailable.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;

use super::Context;

/// Upstream's GetScaledValueFromIntOrPercent (rounding up).
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            Ok(((percent * i64::from(total) + 99) / 100) as i32)
        }
    }
}

/// (expectedPods, desiredHealthy, names of selected pods without a controller)
pub(super) async fn expected_counts(
    context: &Context,
    budget: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
) -> Result<(i32, i32, Vec<String>), String> {
    let spec = budget.spec.clone().unwrap_or_default();
    if let Some(max_unavailable) = &spec.max_unavailable {
        let (expected, unmanaged) = controller_scale(context, pods).await?;
        let unavailable = scaled(max_unavailable, expected)?;
        return Ok((expected, (expected - unavailable).max(0), unmanaged));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n, Vec::new())),
        Some(percent) => {
            let (expected, unmanaged) = controller_scale(context, pods).await?;
            Ok((expected, scaled(percent, expected)?, unmanaged))
        }
        None => Ok((0, 0, Vec::new())),
    }
}

/// The summed replicas of the distinct controllers of the pods (a ReplicaSet's Deployment
/// counts in its place), read through their scale subresource.
async fn controller_scale(
    context: &Context,
    pods: &[Arc<Pod>],
) -> Result<(i32, Vec<String>), String> {
    let mut replicas: HashMap<String, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        let Some(owner) = owner else {
            unmanaged.push(pod.metadata.name.clone().unwrap_or_default());
            continue;
        };
        if replicas.contains_key(&owner.uid) {
            continue;
        }
        let (mut api_version, mut kind, mut name, mut uid) = (
            owner.api_version.clone(),
            owner.kind.clone(),
            owner.name.clone(),
            owner.uid.clone(),
        );
        if kind == "ReplicaSet" && api_version == "apps/v1" {
            let sets: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
            let set = sets.get(&name).await.map_err(|e| e.to_string())?;
            let deployment = set
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true) && o.kind == "Deployment");
            if let Some(deployment) = deployment {
                (api_version, kind, name, uid) = (
                    deployment.api_version.clone(),
                    deployment.kind.clone(),
                    deployment.name.clone(),
                    deployment.uid.clone(),
                );
            }
        }
        if replicas.contains_key(&uid) {
            replicas.insert(owner.uid.clone(), 0);
            continue;
        }
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &kind);
        let (resource, _) = kube::discovery::pinned_kind(&context.client, &gvk)
            .await
            .map_err(|e| format!("finding the scale of {kind} {name}: {e}"))?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.client.clone(), &namespace, &resource);
        let scale = api
            .get_scale(&name)
            .await
            .map_err(|e| format!("getting the scale of {kind} {namespace}/{name}: {e}"))?;
        if scale.metadata.uid.as_deref().is_some_and(|u| u != uid) {
            return Err(format!(
                "the scale of {kind} {namespace}/{name} has another uid"
            ));
        }
        let count = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
        replicas.insert(uid.clone(), count);
        // The pod's own owner (a ReplicaSet standing in for its Deployment) is done too.
        replicas.entry(owner.uid.clone()).or_insert(0);
    }
    Ok((replicas.values().sum(), unmanaged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::String("10%".into()), 10), Ok(1));
        assert_eq!(scaled(&IntOrString::String("0%".into()), 10), Ok(0));
        assert_eq!(scaled(&IntOrString::Int(4), 10), Ok(4));
        assert!(scaled(&IntOrString::String("half".into()), 10).is_err());
    }
}
