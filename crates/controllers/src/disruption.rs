//! The disruption controller: PodDisruptionBudget status (expectedPods, desiredHealthy,
//! currentHealthy, disruptionsAllowed, observedGeneration, the DisruptionAllowed condition)
//! from the pods the budget selects, for minAvailable and maxUnavailable as integers or
//! percentages; percentages and maxUnavailable count the replicas of the pods' controllers
//! through their scale subresource. The API server's eviction subresource consumes
//! disruptionsAllowed and records evicted pods in disruptedPods; this controller drops those
//! entries once the deletion is seen or after two minutes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::endpointslice::index::Index;
use crate::endpointslice::pods::is_ready;
use crate::informers::Informers;
use crate::nodelifecycle::events::{Recorder, reference};

/// How long an evicted pod may take to show its deletion (upstream's DeletionTimeout).
const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);
/// Pods deleted outright (no graceful phase) reach no change stream; budgets are recomputed
/// this often besides.
const RESYNC: Duration = Duration::from_secs(30);
const CONDITION: &str = "DisruptionAllowed";

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
async fn expected_counts(
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

/// The disruptedPods entries still pending (pod present, not yet deleting, younger than the
/// timeout), and when the oldest of them expires.
async fn still_disrupted(
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

fn new_status(
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
fn fail_safe(
    budget: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = budget.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    with_condition(budget, &mut status, false, "SyncFailed", message, now);
    status
}

async fn write_status(
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
