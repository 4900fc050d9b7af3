//! Pod state as the workload controllers judge it (upstream's `podutil` and
//! `controller.ActivePodsWithRanks`).

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

/// Annotation with which users bias which pods go first on scale-down.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Not finished and not being deleted (upstream's `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// When the pod's Ready condition last became True, if it is True.
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (condition.status == "True").then(|| condition.last_transition_time.as_ref().map(|t| t.0))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (upstream's `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(
                min_ready_seconds,
            )))
            .is_ok_and(|t| t < now),
    }
}

/// How long until a ready pod becomes available, to requeue its owner then.
pub fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let since = ready_since(pod)??;
    if min_ready_seconds <= 0 {
        return None;
    }
    let at = since
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(
            min_ready_seconds,
        )))
        .ok()?;
    let wait = at.duration_since(now);
    (wait.is_positive()).then(|| wait.unsigned_abs() + std::time::Duration::from_millis(50))
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn node(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn phase_rank(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// floor(log2(now - t)) in nanoseconds, -1 for a time not in the past (upstream's
/// logarithmic scale-down buckets).
fn log_bucket(t: Timestamp, now: Timestamp) -> i64 {
    let nanos = now.duration_since(t).as_nanos();
    if nanos <= 0 {
        -1
    } else {
        i64::from(127 - nanos.leading_zeros() as i32)
    }
}

/// Compare two optional times where the later (or missing) one comes first, bucketed
/// logarithmically; ties fall back to the uid.
/// Newer first on upstream's logarithmic scale. Times in one bucket compare equal; the
/// caller breaks the tie on uids at the very end, so the whole order stays total (a uid
/// tie-break here would make "same time" and "same bucket" disagree, which `sort_by` rejects).
fn newer_first(a: Option<Timestamp>, b: Option<Timestamp>, now: Timestamp) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(a), Some(b)) => (log_bucket(a, now) - log_bucket(b, now)).cmp(&0),
    }
}

/// Order pods so the ones to delete first come first (upstream's `ActivePodsWithRanks`):
/// unassigned < assigned; Pending < Unknown < Running; not ready < ready; lower
/// pod-deletion-cost first; more co-located related pods on the node first; ready for a
/// shorter time first; more restarts first; newer first.
pub fn rank_for_deletion(
    pods: &mut [std::sync::Arc<Pod>],
    related: &[std::sync::Arc<Pod>],
    now: Timestamp,
) {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| is_active(p)) {
        let n = node(pod);
        if !n.is_empty() {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let colocated = |p: &Pod| -> usize {
        let n = node(p);
        if n.is_empty() {
            0
        } else {
            per_node.get(n).copied().unwrap_or(0)
        }
    };
    pods.sort_by(|a, b| {
        let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
        (!node(a).is_empty())
            .cmp(&!node(b).is_empty())
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| is_ready(a).cmp(&is_ready(b)))
            .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
            .then_with(|| colocated(b).cmp(&colocated(a)))
            .then_with(|| {
                if is_ready(a) && is_ready(b) {
                    newer_first(ready_since(a).flatten(), ready_since(b).flatten(), now)
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| {
                newer_first(
                    a.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    now,
                )
            })
            .then_with(|| uid(a).cmp(&uid(b)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn pod(name: &str, node: &str, phase: &str, ready_at: Option<&str>) -> Arc<Pod> {
        let conditions = match ready_at {
            Some(t) => json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]),
            None => json!([]),
        };
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"nodeName": node, "containers": []},
                "status": {"phase": phase, "conditions": conditions},
            }))
            .unwrap(),
        )
    }

    /// Regression: ties inside one log bucket once broke transitivity and `sort_by` panicked
    /// on a 1,000-pod scale-down.
    #[test]
    fn ranking_is_a_total_order_when_times_share_buckets() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let mut pods: Vec<Arc<Pod>> = (0..64)
            .map(|i| {
                let ready = format!("2026-01-01T00:{:02}:{:02}Z", 10 + (i % 3), (i * 7) % 60);
                let mut p = (*pod(
                    &format!("p{:02}", (i * 37) % 64),
                    "n",
                    "Running",
                    Some(&ready),
                ))
                .clone();
                p.metadata.creation_timestamp = Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ready.parse().unwrap()),
                );
                Arc::new(p)
            })
            .collect();
        let related = pods.clone();
        rank_for_deletion(&mut pods, &related, now);
        let first = names(&pods);
        pods.reverse();
        rank_for_deletion(&mut pods, &related, now);
        assert_eq!(
            names(&pods),
            first,
            "the ranking does not depend on the input order"
        );
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn deletion_prefers_unassigned_pending_unready_and_recently_ready_pods() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let mut pods = vec![
            pod("ready-long", "n1", "Running", Some("2026-01-01T00:00:00Z")),
            pod(
                "ready-recent",
                "n2",
                "Running",
                Some("2026-01-01T23:59:58Z"),
            ),
            pod("running-unready", "n3", "Running", None),
            pod("pending", "n4", "Pending", None),
            pod("unassigned", "", "Pending", None),
        ];
        rank_for_deletion(&mut pods, &[], now);
        assert_eq!(
            names(&pods),
            [
                "unassigned",
                "pending",
                "running-unready",
                "ready-recent",
                "ready-long"
            ]
        );
    }

    #[test]
    fn deletion_prefers_crowded_nodes() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let a = pod("alone", "n1", "Running", Some("2026-01-01T00:00:00Z"));
        let b = pod("crowded", "n2", "Running", Some("2026-01-01T00:00:00Z"));
        let c = pod("neighbour", "n2", "Running", Some("2026-01-01T00:00:00Z"));
        let mut pods = vec![a.clone(), b.clone()];
        rank_for_deletion(&mut pods, &[a, b, c], now);
        assert_eq!(names(&pods), ["crowded", "alone"]);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now: Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        let p = pod("p", "n", "Running", Some("2026-01-01T00:00:05Z"));
        assert!(is_available(&p, 0, now));
        assert!(is_available(&p, 4, now));
        assert!(!is_available(&p, 5, now));
        assert!(!is_available(&pod("q", "n", "Running", None), 0, now));
    }
}
