//! pods/eviction: a deletion that respects the pod's PodDisruptionBudget, as upstream's
//! EvictionREST. A healthy (Ready) pod consumes one of the budget's allowed disruptions and is
//! recorded in its disruptedPods; a pod that is not Ready is deleted without consuming one when
//! the budget's unhealthyPodEvictionPolicy allows it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use keelson_apimachinery::selectors::LabelSelector;
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::object::{CachedObject, encode_for_store, storage_key, storage_prefix};
use crate::status::ApiError;

/// Upstream's MaxDisruptedPodSize: evictions the disruption controller has not confirmed yet.
const MAX_DISRUPTED_PODS: usize = 2000;
const BUDGET_CAUSE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn too_many(detail: &str) -> ApiError {
    ApiError::TooManyRequests(format!("{BUDGET_CAUSE} {detail}"))
}

/// What the budget says about evicting one pod.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Delete without touching the budget, pinned to the pod's resourceVersion so the pod
    /// cannot have become Ready in between.
    DeleteUnhealthy,
    /// Delete after recording the disruption in the budget's status.
    Consume,
}

/// Evict `pod_name` with the client's `delete_options`: check the pod's budget, then delete.
pub async fn evict(ctx: &Ctx, pod_name: &str, mut delete_options: Value) -> Result<(), ApiError> {
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let pod_key = storage_key("", "pods", Some(&namespace), pod_name);
    let pod = ctx
        .server
        .cache
        .get("", "pods", &pod_key)
        .ok_or_else(|| ctx.not_found(pod_name))?;
    let pod_value = pod.value()?;
    if !delete_options.is_object() {
        delete_options = json!({});
    }
    let client_pinned = delete_options
        .pointer("/preconditions/resourceVersion")
        .is_some_and(|v| !v.is_null());
    // A pod that is not yet running cannot be disrupted further, but it must not become Ready
    // between this check and the deletion.
    let pin = if ignores_budgets(&pod_value) {
        pod_value.pointer("/status/phase").and_then(Value::as_str) == Some("Pending")
    } else {
        match budget_of(ctx, &namespace, &pod.labels)? {
            None => false,
            Some((budget, value)) => match judge(&pod_value, &value)? {
                Verdict::DeleteUnhealthy => true,
                Verdict::Consume => {
                    let updated = consume(&value, pod_name, &crate::write::now_rfc3339())?;
                    if !ctx.query.dry_run()? {
                        store_budget(ctx, &budget, &updated).await?;
                    }
                    false
                }
            },
        }
    };
    let pinned_here = pin && !client_pinned;
    if pinned_here {
        delete_options["preconditions"]["resourceVersion"] =
            json!(pod.resource_version.to_string());
    }
    let body = Bytes::from(serde_json::to_vec(&delete_options).unwrap_or_default());
    let mut delete_ctx = ctx.clone();
    delete_ctx.info.subresource = None;
    delete_ctx.content_type = Some("application/json".into());
    match crate::write::delete(&delete_ctx, body).await {
        Ok(_) => Ok(()),
        // The pod changed since it was judged (it may be Ready now): the client retries.
        Err(ApiError::Conflict { .. }) if pinned_here => Err(too_many(
            "The pod changed while its disruption budget was being checked; retry",
        )),
        Err(err) => Err(err),
    }
}

/// Terminal, pending and terminating pods are deleted without consulting budgets.
fn ignores_budgets(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed" | "Pending")
    ) || pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// The one budget selecting the pod (None without one; more than one is an error).
fn budget_of(
    ctx: &Ctx,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Option<(Arc<CachedObject>, Value)>, ApiError> {
    let prefix = storage_prefix("policy", "poddisruptionbudgets", Some(namespace));
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
        let Ok(selector) = LabelSelector::from_metav1(selector) else {
            continue;
        };
        // In policy/v1 an empty selector matches every pod of the namespace.
        if selector.matches(labels) {
            matching.push((budget, value));
        }
    }
    if matching.len() > 1 {
        return Err(ApiError::Internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
        ));
    }
    Ok(matching.pop())
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn status_int(budget: &Value, field: &str) -> i64 {
    budget
        .pointer(&format!("/status/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Upstream's order: a pod that is not Ready (it does not count as healthy) may go without
/// consuming a disruption, always under AlwaysAllow and under IfHealthyBudget (the default)
/// while the application is not disrupted (currentHealthy >= desiredHealthy > 0); every other
/// pod needs an allowed disruption.
fn judge(pod: &Value, budget: &Value) -> Result<Verdict, ApiError> {
    if !is_ready(pod) {
        let policy = budget
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str);
        if policy == Some("AlwaysAllow") {
            return Ok(Verdict::DeleteUnhealthy);
        }
        let desired = status_int(budget, "desiredHealthy");
        if status_int(budget, "currentHealthy") >= desired && desired > 0 {
            return Ok(Verdict::DeleteUnhealthy);
        }
    }
    Ok(Verdict::Consume)
}

/// Upstream's checkAndDecrement: the budget with one disruption fewer allowed and the pod
/// recorded as disrupted (so the disruption controller stops counting it), or the refusal.
fn consume(budget: &Value, pod_name: &str, now: &str) -> Result<Value, ApiError> {
    let name = budget
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let generation = budget
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status_int(budget, "observedGeneration") < generation {
        return Err(too_many(&format!(
            "The disruption budget {name} is still being processed by the server."
        )));
    }
    let forbidden = |why: &str| ApiError::Forbidden {
        message: format!("poddisruptionbudget.policy \"{name}\" is forbidden: {why}"),
        resource: "poddisruptionbudget".into(),
        group: "policy".into(),
        name: name.into(),
    };
    let allowed = status_int(budget, "disruptionsAllowed");
    if allowed < 0 {
        return Err(forbidden("pdb disruptions allowed is negative"));
    }
    let disrupted = budget
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |pods| pods.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many(&format!(
            "The disruption budget {name} needs {} healthy pods and has {} currently",
            status_int(budget, "desiredHealthy"),
            status_int(budget, "currentHealthy"),
        )));
    }
    let mut updated = budget.clone();
    updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
    updated["status"]["disruptedPods"][pod_name] = json!(now);
    if allowed == 1 {
        refuse_further(&mut updated, now);
    }
    Ok(updated)
}

/// The DisruptionAllowed condition once the last allowed disruption is used (upstream's
/// UpdateDisruptionAllowedCondition), so readers need not wait for the controller.
fn refuse_further(budget: &mut Value, now: &str) {
    let observed = budget.pointer("/status/observedGeneration").cloned();
    let mut conditions = budget
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let previous = conditions
        .iter()
        .position(|c| c["type"] == "DisruptionAllowed");
    let transition = match previous.map(|i| &conditions[i]) {
        Some(c) if c["status"] == "False" => c["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let condition = json!({"type": "DisruptionAllowed", "status": "False",
        "reason": "InsufficientPods", "message": "",
        "observedGeneration": observed, "lastTransitionTime": transition});
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    budget["status"]["conditions"] = json!(conditions);
}

async fn store_budget(ctx: &Ctx, budget: &CachedObject, updated: &Value) -> Result<(), ApiError> {
    match ctx
        .server
        .store
        .update(
            &budget.key,
            encode_for_store(updated),
            budget.resource_version,
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(keelson_store::StoreError::Conflict { .. }) => Err(too_many(&format!(
            "The disruption budget {} is still being processed by the server.",
            budget.name
        ))),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, ready: bool) -> Value {
        let ready = if ready { "True" } else { "False" };
        json!({"metadata": {"name": "p"}, "status": {"phase": phase,
            "conditions": [{"type": "Ready", "status": ready}]}})
    }

    fn budget(policy: Option<&str>, desired: i64, healthy: i64, allowed: i64) -> Value {
        let mut budget = json!({"metadata": {"name": "guard", "generation": 2},
            "spec": {"minAvailable": desired, "selector": {}},
            "status": {"observedGeneration": 2, "desiredHealthy": desired,
                "currentHealthy": healthy, "disruptionsAllowed": allowed, "expectedPods": 3}});
        if let Some(policy) = policy {
            budget["spec"]["unhealthyPodEvictionPolicy"] = json!(policy);
        }
        budget
    }

    #[test]
    fn ready_pods_always_consume_a_disruption() {
        for policy in [None, Some("IfHealthyBudget"), Some("AlwaysAllow")] {
            let verdict = judge(&pod("Running", true), &budget(policy, 1, 2, 1)).unwrap();
            assert_eq!(verdict, Verdict::Consume, "{policy:?}");
        }
    }

    #[test]
    fn unhealthy_pods_go_freely_while_the_budget_is_healthy() {
        let unready = pod("Running", false);
        // Default and IfHealthyBudget: only while currentHealthy >= desiredHealthy > 0.
        for policy in [None, Some("IfHealthyBudget")] {
            let free = judge(&unready, &budget(policy, 1, 1, 0)).unwrap();
            assert_eq!(free, Verdict::DeleteUnhealthy, "{policy:?}");
            let disrupted = judge(&unready, &budget(policy, 2, 1, 0)).unwrap();
            assert_eq!(disrupted, Verdict::Consume, "{policy:?}");
            // Upstream requires desiredHealthy > 0 here: a budget wanting no healthy pod
            // still needs an allowed disruption for an unhealthy one.
            let nothing_desired = judge(&unready, &budget(policy, 0, 0, 0)).unwrap();
            assert_eq!(nothing_desired, Verdict::Consume, "{policy:?}");
        }
        // AlwaysAllow: whatever the budget's health.
        for (desired, healthy) in [(2, 0), (0, 0), (1, 1)] {
            let verdict = judge(&unready, &budget(Some("AlwaysAllow"), desired, healthy, 0));
            assert_eq!(verdict.unwrap(), Verdict::DeleteUnhealthy);
        }
    }

    #[test]
    fn consuming_records_the_disruption_or_refuses() {
        let updated = consume(&budget(None, 1, 3, 2), "p", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(updated["status"]["disruptionsAllowed"], 1);
        assert_eq!(
            updated["status"]["disruptedPods"]["p"],
            "2026-01-01T00:00:00Z"
        );
        assert!(updated["status"].get("conditions").is_none());

        let last = consume(&budget(None, 1, 2, 1), "p", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(last["status"]["disruptionsAllowed"], 0);
        let condition = &last["status"]["conditions"][0];
        assert_eq!(condition["type"], "DisruptionAllowed");
        assert_eq!(condition["status"], "False");
        assert_eq!(condition["reason"], "InsufficientPods");

        match consume(&budget(None, 1, 1, 0), "p", "now") {
            Err(ApiError::TooManyRequests(message)) => assert!(
                message.ends_with(
                    "The disruption budget guard needs 1 healthy pods and has 1 currently"
                ),
                "{message}"
            ),
            other => panic!("expected 429, got {other:?}"),
        }
        let mut stale = budget(None, 1, 3, 2);
        stale["metadata"]["generation"] = json!(3);
        assert!(matches!(
            consume(&stale, "p", "now"),
            Err(ApiError::TooManyRequests(_))
        ));
        assert!(matches!(
            consume(&budget(None, 1, 3, -1), "p", "now"),
            Err(ApiError::Forbidden { .. })
        ));
    }

    #[test]
    fn settled_and_terminating_pods_skip_budgets() {
        assert!(ignores_budgets(&pod("Pending", false)));
        assert!(ignores_budgets(&pod("Succeeded", false)));
        assert!(ignores_budgets(&pod("Failed", false)));
        assert!(!ignores_budgets(&pod("Running", true)));
        let mut terminating = pod("Running", true);
        terminating["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(ignores_budgets(&terminating));
    }
}
