//! The PodDisruptionBudget check behind pods/eviction.

use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::object::{encode_for_store, storage_key, storage_prefix};
use crate::status::ApiError;

fn too_many(message: &str) -> ApiError {
    ApiError::TooManyRequests(message.to_string())
}

/// Allow the eviction (consuming one allowed disruption of the pod's budget) or refuse with 429.
pub async fn check_eviction(ctx: &Ctx, pod_name: &str) -> Result<(), ApiError> {
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let pod_key = storage_key("", "pods", Some(&namespace), pod_name);
    let pod = ctx
        .server
        .cache
        .get("", "pods", &pod_key)
        .ok_or_else(|| ctx.not_found(pod_name))?;
    let pod_value = pod.value()?;
    // Pods that are not running cannot be disrupted further.
    if matches!(
        pod_value.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed" | "Pending")
    ) {
        return Ok(());
    }
    let prefix = storage_prefix("policy", "poddisruptionbudgets", Some(&namespace));
    let (budgets, _) = ctx
        .server
        .cache
        .list("policy", "poddisruptionbudgets", &prefix);
    let mut matching = Vec::new();
    for budget in budgets {
        let value = budget.value()?;
        let Some(selector) = value.pointer("/spec/selector") else {
            continue;
        };
        let Ok(selector) = keelson_apimachinery::selectors::LabelSelector::from_metav1(selector)
        else {
            continue;
        };
        // In policy/v1 an empty selector matches every pod of the namespace.
        if selector.matches(&pod.labels) {
            matching.push((budget, value));
        }
    }
    if matching.is_empty() {
        return Ok(());
    }
    if matching.len() > 1 {
        return Err(ApiError::Internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
        ));
    }
    let (budget, value) = matching.remove(0);
    let generation = value
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = value
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if observed < generation {
        return Err(too_many(
            "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget has not been processed by the disruption controller yet.",
        ));
    }
    let allowed = value
        .pointer("/status/disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if allowed <= 0 {
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(too_many(&format!(
            "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {name} needs {} healthy pods and has {} currently",
            value
                .pointer("/status/desiredHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            value
                .pointer("/status/currentHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )));
    }
    if ctx.query.dry_run()? {
        return Ok(());
    }
    let mut updated = value.clone();
    updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
    updated["status"]["disruptedPods"][pod_name] = json!(crate::write::now_rfc3339());
    let key = budget.key.clone();
    match ctx
        .server
        .store
        .update(
            &key,
            encode_for_store(&updated),
            budget.resource_version,
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(keelson_store::StoreError::Conflict { .. }) => Err(too_many(
            "Cannot evict pod as the disruption budget changed concurrently; retry",
        )),
        Err(err) => Err(err.into()),
    }
}
