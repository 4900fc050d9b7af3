//! The disruption controller: PodDisruptionBudget status (expectedPods, desiredHealthy,
//! currentHealthy, disruptionsAllowed, observedGeneration, the DisruptionAllowed condition)
//! from the pods the budget selects, for minAvailable and maxUnavailable as integers or
//! percentages; percentages and maxUnavailable count the replicas of the pods' controllers
//! through their scale subresource. The API server's eviction subresource consumes
//! disruptionsAllowed and records evicted pods in disruptedPods; this controller drops those
//! entries once the deletion is seen or after two minutes.

mod expected;
mod status;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::endpointslice::index::Index;
use crate::endpointslice::pods::is_ready;
use crate::events::{Recorder, reference_to as reference};
use crate::informers::Informers;
use expected::expected_counts;
use status::{fail_safe, new_status, still_disrupted, write_status};

/// Pods deleted outright (no graceful phase) reach no change stream; budgets are recomputed
/// this often besides.
const RESYNC: Duration = Duration::from_secs(30);

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    pods_by_namespace: Arc<Index<Pod>>,
    events: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let budgets = informers.shared::<PodDisruptionBudget>();
    let pod_feed = informers.shared::<Pod>();
    async move {
        let pods_by_namespace = Index::new(|pod: &Pod| pod.metadata.namespace.clone());
        pods_by_namespace.prime(&pod_feed.cache);
        let context = Arc::new(Context {
            events: Recorder::new(client.clone(), "controllermanager"),
            client,
            pods: pod_feed.cache.clone(),
            pods_by_namespace: pods_by_namespace.clone(),
        });
        let budget_cache = budgets.cache.clone();
        let resync = futures::stream::unfold((), |()| async {
            tokio::time::sleep(RESYNC).await;
            Some(((), ()))
        });
        Controller::for_shared_stream(budgets.changes, budgets.cache)
            .with_config(Config::default().concurrency(2))
            .watches_shared_stream(pod_feed.changes, move |pod| {
                pods_by_namespace.observe(&pod);
                budgets_selecting(&budget_cache, &pod)
            })
            .reconcile_all_on(resync)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

fn budgets_selecting(
    budgets: &Store<PodDisruptionBudget>,
    pod: &Pod,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    budgets
        .state()
        .into_iter()
        .filter(|b| b.metadata.namespace == pod.metadata.namespace)
        .filter(|b| selects(b.spec.as_ref().and_then(|s| s.selector.as_ref()), pod))
        .map(|b| ObjectRef::from_obj(&*b))
        .collect()
}

/// policy/v1 semantics: a missing selector selects nothing, an empty one every pod.
fn selects(selector: Option<&LabelSelector>, pod: &Pod) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_match
        && selector.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

fn error_policy(
    budget: Arc<PodDisruptionBudget>,
    err: &ControllerError,
    _: Arc<Context>,
) -> Action {
    tracing::warn!(%err, budget = ?budget.metadata.name, "syncing a disruption budget failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(
    budget: Arc<PodDisruptionBudget>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let (Some(_), Some(namespace)) = (&budget.metadata.name, &budget.metadata.namespace) else {
        return Ok(Action::await_change());
    };
    if budget.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let selector = budget.spec.as_ref().and_then(|s| s.selector.as_ref());
    let pods: Vec<Arc<Pod>> = context
        .pods_by_namespace
        .get(&context.pods, namespace)
        .into_iter()
        .filter(|pod| selects(selector, pod))
        .collect();
    let now = Timestamp::now();
    let status = match expected_counts(&context, &budget, &pods).await {
        Ok((expected, desired, unmanaged)) => {
            let percent_or_max = budget.spec.as_ref().is_some_and(|s| {
                s.max_unavailable.is_some()
                    || matches!(s.min_available, Some(IntOrString::String(_)))
            });
            if !unmanaged.is_empty() && percent_or_max && changed_since(&budget) {
                context.events.warning(&reference(&*budget), "UnmanagedPods", &format!(
                    "Pods selected by this PodDisruptionBudget (selector: {selector:?}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.")).await;
            }
            if pods.is_empty() && changed_since(&budget) {
                context
                    .events
                    .normal(&reference(&*budget), "NoPods", "No matching pods found")
                    .await;
            }
            let (disrupted, recheck) = still_disrupted(&context, &budget, &pods, now).await;
            let healthy = pods
                .iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .filter(|pod| !disrupted.contains_key(pod.metadata.name.as_deref().unwrap_or("")))
                .filter(|pod| is_ready(pod))
                .count() as i32;
            let allowed = if expected <= 0 {
                0
            } else {
                (healthy - desired).max(0)
            };
            let status = new_status(&budget, expected, desired, healthy, allowed, disrupted, now);
            write_status(&context, &budget, status).await?;
            return Ok(match recheck {
                Some(at) => Action::requeue(
                    at.duration_since(now)
                        .try_into()
                        .unwrap_or(Duration::from_secs(1)),
                ),
                None => Action::await_change(),
            });
        }
        Err(message) => {
            context
                .events
                .warning(
                    &reference(&*budget),
                    "CalculateExpectedPodCountFailed",
                    &format!("Failed to calculate the number of expected pods: {message}"),
                )
                .await;
            fail_safe(&budget, &message, now)
        }
    };
    write_status(&context, &budget, status).await?;
    Ok(Action::requeue(Duration::from_secs(10)))
}

/// Whether the controller has not yet recorded the budget's current generation (events are
/// recorded once per change, not on every resync).
fn changed_since(budget: &PodDisruptionBudget) -> bool {
    budget.status.as_ref().and_then(|s| s.observed_generation) != budget.metadata.generation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_follow_policy_v1() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "labels": {"app": "db", "tier": "x"}}}))
        .unwrap();
        assert!(!selects(None, &pod));
        assert!(selects(Some(&LabelSelector::default()), &pod));
        let selector: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]}))
        .unwrap();
        assert!(selects(Some(&selector), &pod));
        let other: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}))
        .unwrap();
        assert!(!selects(Some(&other), &pod));
    }
}
