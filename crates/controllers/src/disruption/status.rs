//! The status a budget is given: pending disruptedPods entries, the DisruptionAllowed
//! condition, the fail-safe status, and the write through /status.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

use super::Context;
use crate::ControllerError;
use crate::events::reference_to as reference;

/// How long an evicted pod may take to show its deletion (upstream's DeletionTimeout).
const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);
const CONDITION: &str = "DisruptionAllowed";

/// The disruptedPods entries still pending (pod present, not yet deleting, younger than the
/// timeout), and when the oldest of them expires.
pub(super) async fn still_disrupted(
    context: &Context,
    budget: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let recorded = budget
        .status
        .as_ref()
        .and_then(|s| s.disrupted_pods.clone())
        .unwrap_or_default();
    for (name, since) in recorded {
        let Some(pod) = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name.as_str()))
        else {
            continue;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let expiry = since.0 + DELETION_TIMEOUT;
        if expiry < now {
            let budget_name = format!(
                "{}/{}",
                budget.metadata.namespace.as_deref().unwrap_or(""),
                budget.metadata.name.as_deref().unwrap_or("")
            );
            context
                .events
                .warning(
                    &reference(&**pod),
                    "NotDeleted",
                    &format!("Pod was expected by PDB {budget_name} to be deleted but it wasn't"),
                )
                .await;
            continue;
        }
        recheck = Some(recheck.map_or(expiry, |r| r.min(expiry)));
        kept.insert(name, since);
    }
    (kept, recheck)
}

fn with_condition(
    budget: &PodDisruptionBudget,
    status: &mut PodDisruptionBudgetStatus,
    allowed: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let wanted = if allowed { "True" } else { "False" };
    let previous = budget
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == CONDITION));
    let transition = match previous {
        Some(p) if p.status == wanted => p.last_transition_time.clone(),
        _ => Time(now),
    };
    let mut conditions: Vec<Condition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != CONDITION)
        .collect();
    conditions.push(Condition {
        type_: CONDITION.into(),
        status: wanted.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: status.observed_generation,
        last_transition_time: transition,
    });
    status.conditions = Some(conditions);
}

pub(super) fn new_status(
    budget: &PodDisruptionBudget,
    expected: i32,
    desired: i32,
    healthy: i32,
    allowed: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = budget.status.clone().unwrap_or_default();
    status.expected_pods = expected;
    status.desired_healthy = desired;
    status.current_healthy = healthy;
    status.disruptions_allowed = allowed;
    status.disrupted_pods = (!disrupted.is_empty()).then_some(disrupted);
    status.observed_generation = budget.metadata.generation;
    let reason = if allowed > 0 {
        "SufficientPods"
    } else {
        "InsufficientPods"
    };
    with_condition(budget, &mut status, allowed > 0, reason, "", now);
    status
}

/// Upstream's failSafe: no disruptions while the budget cannot be computed.
pub(super) fn fail_safe(
    budget: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = budget.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    with_condition(budget, &mut status, false, "SyncFailed", message, now);
    status
}

pub(super) async fn write_status(
    context: &Context,
    budget: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
) -> Result<(), ControllerError> {
    if budget.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = budget.clone();
    updated.status = Some(status);
    let namespace = budget.metadata.namespace.clone().unwrap_or_default();
    let name = budget.metadata.name.clone().unwrap_or_default();
    let api: Api<PodDisruptionBudget> = Api::namespaced(context.client.clone(), &namespace);
    match api
        .replace_status(&name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(()),
        // A newer budget (an eviction, an edit) is on its way through the cache.
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => Ok(()),
        Err(err) => Err(err.into()),
    }
}
