//! What a DaemonSet sync should change, computed from the cached nodes and pods without any
//! I/O: upstream's manage (a pod on every eligible node, none elsewhere), rollingUpdate (replace
//! old pods within maxUnavailable, or surge new ones within maxSurge) and the status counters.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::eligibility::{self, Verdict};
use super::pods::{self, is_updated};
use crate::statefulset::health::{is_available, is_finished, is_ready};

/// The cluster as one DaemonSet sees it.
pub struct View {
    /// Every node with its verdict, in node-name order.
    pub nodes: Vec<(String, Verdict)>,
    /// The DaemonSet's pods by the node they belong to, oldest first.
    pub by_node: HashMap<String, Vec<Arc<Pod>>>,
    pub hash: String,
    pub generation: Option<String>,
    pub min_ready: i32,
    pub now: Timestamp,
}

impl View {
    pub fn new(ds: &DaemonSet, nodes: &[Arc<Node>], owned: Vec<Arc<Pod>>, hash: String) -> View {
        let template = pods::daemon_template(ds, &hash);
        let spec = template.spec.unwrap_or_default();
        let mut verdicts: Vec<_> = nodes
            .iter()
            .map(|node| {
                let name = node.metadata.name.clone().unwrap_or_default();
                (name, eligibility::evaluate(&spec, node))
            })
            .collect();
        verdicts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for pod in owned {
            // Terminal pods already being deleted are gone as far as placement goes.
            if is_finished(&pod) && pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(node) = pods::target_node(&pod) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        for list in by_node.values_mut() {
            pods::sort_oldest_first(list);
        }
        View {
            nodes: verdicts,
            by_node,
            hash,
            generation: pods::template_generation(ds),
            min_ready: ds
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
            now: Timestamp::now(),
        }
    }

    fn updated(&self, pod: &Pod) -> bool {
        is_updated(pod, &self.hash, self.generation.as_deref())
    }

    fn available(&self, pod: &Pod) -> bool {
        is_available(pod, self.min_ready, self.now)
    }

    fn desired(&self) -> usize {
        self.nodes.iter().filter(|(_, v)| v.should_run).count()
    }
}

#[derive(Default)]
pub struct Changes {
    /// Nodes that get a new pod.
    pub create_on: Vec<String>,
    pub delete: Vec<Arc<Pod>>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.create_on.is_empty() && self.delete.is_empty()
    }
}

/// Upstream's manage: which nodes need a pod and which pods must go.
pub fn manage(view: &View, surge: bool) -> Changes {
    let mut changes = Changes::default();
    for (node, verdict) in &view.nodes {
        let pods = view
            .by_node
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if verdict.should_run && pods.is_empty() {
            changes.create_on.push(node.clone());
        } else if verdict.should_continue_running {
            let mut running = Vec::new();
            for pod in pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
            {
                if is_finished(pod) {
                    // Failed or succeeded daemon pods are replaced.
                    changes.delete.push(pod.clone());
                } else {
                    running.push(pod.clone());
                }
            }
            changes.delete.extend(extra_pods(view, &running, surge));
        } else {
            let live = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none());
            changes.delete.extend(live.cloned());
        }
    }
    // Pods of nodes that no longer exist (upstream leaves bound ones to the pod GC).
    let known: std::collections::HashSet<&str> =
        view.nodes.iter().map(|(n, _)| n.as_str()).collect();
    for (node, pods) in &view.by_node {
        if !known.contains(node.as_str()) {
            let live = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none());
            changes.delete.extend(live.cloned());
        }
    }
    changes
}

/// Duplicates on one node: without surge keep the oldest; with surge keep the oldest updated
/// and the oldest old pod, and drop the old one once the new one is available.
fn extra_pods(view: &View, running: &[Arc<Pod>], surge: bool) -> Vec<Arc<Pod>> {
    if !surge {
        return running.iter().skip(1).cloned().collect();
    }
    let mut extra = Vec::new();
    let (mut newest, mut oldest) = (None, None);
    for pod in running {
        let slot = if view.updated(pod) {
            &mut newest
        } else {
            &mut oldest
        };
        if slot.is_none() {
            *slot = Some(pod.clone());
        } else {
            extra.push(pod.clone());
        }
    }
    if let (Some(new), Some(old)) = (newest, oldest)
        && (!is_ready(&old) || view.available(&new))
    {
        extra.push(old);
    }
    extra
}

/// maxSurge and maxUnavailable scaled to the desired count (percentages round up), with
/// upstream's fallback of one unavailable pod when both are zero.
pub fn budgets(ds: &DaemonSet, view: &View) -> (usize, usize) {
    let desired = view.desired();
    let rolling = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let scaled = |value: Option<&IntOrString>, default: i32| -> usize {
        match value {
            Some(IntOrString::Int(n)) => usize::try_from(*n).unwrap_or(0),
            Some(IntOrString::String(s)) => {
                let percent: usize = s.trim_end_matches('%').parse().unwrap_or(0);
                (percent * desired).div_ceil(100)
            }
            None => usize::try_from(default).unwrap_or(0),
        }
    };
    let surge = scaled(rolling.and_then(|r| r.max_surge.as_ref()), 0);
    let mut unavailable = scaled(rolling.and_then(|r| r.max_unavailable.as_ref()), 1);
    if desired > 0 && surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// A node's single updated and single old live pod; `None` when it has several of either.
/// A node's live pods split by template: (updated, old), each possibly absent.
type NodePods = (Option<Arc<Pod>>, Option<Arc<Pod>>);

fn updated_and_old(view: &View, pods: &[Arc<Pod>]) -> Option<NodePods> {
    let (mut new, mut old) = (None, None);
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if view.updated(pod) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod.clone());
    }
    Some((new, old))
}

/// Upstream's rollingUpdate.
pub fn rolling_update(ds: &DaemonSet, view: &View) -> Changes {
    let (max_surge, max_unavailable) = budgets(ds, view);
    let mut nodes: Vec<_> = view.by_node.iter().collect();
    nodes.sort_by(|a, b| a.0.cmp(b.0));
    let mut changes = Changes::default();
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace_now = Vec::new();
        let mut candidates = Vec::new();
        for (_, pods) in &nodes {
            match updated_and_old(view, pods) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !view.available(&new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !view.available(&old) {
                        replace_now.push(old);
                    } else if unavailable < max_unavailable {
                        candidates.push(old);
                    }
                }
            }
        }
        let room = max_unavailable
            .saturating_sub(unavailable)
            .min(candidates.len());
        changes.delete = replace_now;
        changes.delete.extend(candidates.into_iter().take(room));
        return changes;
    }
    let verdicts: HashMap<&str, Verdict> =
        view.nodes.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut surged = 0;
    let mut create_now = Vec::new();
    let mut candidates = Vec::new();
    for (node, pods) in &nodes {
        let Some((new, old)) = updated_and_old(view, pods) else {
            surged += 1;
            continue;
        };
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !view.available(&old) {
                    if verdicts.get(node.as_str()).is_some_and(|v| v.should_run) {
                        create_now.push((*node).clone());
                    } else {
                        changes.delete.push(old);
                    }
                } else if surged < max_surge {
                    candidates.push((*node).clone());
                }
            }
            (Some(new), Some(old)) => {
                if view.available(&new) {
                    changes.delete.push(old);
                } else {
                    surged += 1;
                }
            }
        }
    }
    let room = max_surge.saturating_sub(surged).min(candidates.len());
    changes.create_on = create_now;
    changes.create_on.extend(candidates.into_iter().take(room));
    changes
}

pub fn status(ds: &DaemonSet, view: &View, collision_count: i32) -> DaemonSetStatus {
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for (node, verdict) in &view.nodes {
        let oldest = view.by_node.get(node).and_then(|pods| pods.first());
        if !verdict.should_run {
            if oldest.is_some() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        let Some(pod) = oldest else {
            continue;
        };
        current += 1;
        if is_ready(pod) {
            ready += 1;
            if view.available(pod) {
                available += 1;
            }
        }
        if view.updated(pod) {
            updated += 1;
        }
    }
    DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: current,
        number_misscheduled: misscheduled,
        number_ready: ready,
        number_available: Some(available),
        number_unavailable: Some(desired - available),
        updated_number_scheduled: Some(updated),
        observed_generation: ds.metadata.generation,
        collision_count: Some(collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ds(strategy: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "ns", "uid": "u", "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "updateStrategy": strategy,
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}}
        }))
        .unwrap()
    }

    fn node(name: &str, taint: bool) -> Arc<Node> {
        let mut node = json!({"metadata": {"name": name}});
        if taint {
            node["spec"] = json!({"taints": [{"key": "k", "effect": "NoSchedule"}]});
        }
        Arc::new(serde_json::from_value(node).unwrap())
    }

    fn pod(name: &str, node: &str, hash: &str, ready: bool) -> Arc<Pod> {
        let mut status = json!({"phase": "Running"});
        if ready {
            status["conditions"] = json!([{"type": "Ready", "status": "True",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": name,
                    "labels": {"controller-revision-hash": hash},
                    "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"nodeName": node, "containers": []},
                "status": status
            }))
            .unwrap(),
        )
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn manage_places_one_pod_per_eligible_node() {
        let set = ds(json!({"type": "RollingUpdate"}));
        let nodes = [node("a", false), node("b", true), node("c", false)];
        let owned = vec![
            pod("p1", "c", "h", true),
            pod("p2", "c", "h", true),
            pod("p3", "gone", "h", true),
        ];
        let view = View::new(&set, &nodes, owned, "h".into());
        let changes = manage(&view, false);
        assert_eq!(changes.create_on, vec!["a".to_string()]);
        assert_eq!(names(&changes.delete), vec!["p2", "p3"]);
        let status = status(&set, &view, 0);
        assert_eq!(status.desired_number_scheduled, 2);
        assert_eq!(status.current_number_scheduled, 1);
        assert_eq!(status.number_unavailable, Some(1));
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let set = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let nodes = [node("a", false), node("b", false), node("c", false)];
        let owned = vec![
            pod("pa", "a", "old", true),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", false),
        ];
        let view = View::new(&set, &nodes, owned, "new".into());
        // The unavailable old pod is replaced at once and takes the whole budget.
        assert_eq!(names(&rolling_update(&set, &view).delete), vec!["pc", "pa"]);
        let owned = vec![
            pod("pa", "a", "new", false),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", true),
        ];
        let view = View::new(&set, &nodes, owned, "new".into());
        assert!(
            rolling_update(&set, &view).is_empty(),
            "an unavailable new pod uses the budget"
        );
    }

    #[test]
    fn rolling_update_surges_then_removes_old_pods() {
        let set = ds(json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}}));
        let nodes = [node("a", false), node("b", false), node("c", false)];
        let owned = vec![
            pod("pa", "a", "old", true),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", true),
        ];
        let view = View::new(&set, &nodes, owned, "new".into());
        assert_eq!(budgets(&set, &view), (2, 0));
        assert_eq!(rolling_update(&set, &view).create_on, vec!["a", "b"]);
        let owned = vec![
            pod("pa", "a", "old", true),
            pod("na", "a", "new", true),
            pod("pb", "b", "old", true),
            pod("nb", "b", "new", false),
            pod("pc", "c", "old", true),
        ];
        let view = View::new(&set, &nodes, owned, "new".into());
        let changes = rolling_update(&set, &view);
        assert_eq!(names(&changes.delete), vec!["pa"]);
        assert_eq!(changes.create_on, vec!["c"]);
    }
}
