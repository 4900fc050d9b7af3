//! Which nodes a DaemonSet's pod belongs on (upstream's NodeShouldRunDaemonPod): the template's
//! nodeName, nodeSelector and required node affinity must match the node, and the pod (with the
//! tolerations upstream adds to every daemon pod) must tolerate the node's NoSchedule and
//! NoExecute taints. A pod already running may stay while only NoSchedule taints are untolerated.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};

/// Taints every daemon pod tolerates (upstream's AddOrUpdateDaemonPodTolerations): the pod
/// keeps running through node problems and is placed on cordoned or pressured nodes.
const DAEMON_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// Tolerated in addition by pods on the host network, which need no pod network.
const HOST_NETWORK_TOLERATION: (&str, &str) =
    ("node.kubernetes.io/network-unavailable", "NoSchedule");

/// Add the daemon tolerations the spec does not already have (same key and effect).
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network == Some(true);
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    let extra = host_network.then_some(HOST_NETWORK_TOLERATION);
    for (key, effect) in DAEMON_TOLERATIONS.iter().copied().chain(extra) {
        let present = tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect));
        if !present {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Default::default()
            });
        }
    }
}

/// Whether a daemon pod should be placed on `node`, and whether one already there may stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub should_run: bool,
    pub should_continue_running: bool,
}

/// `spec` is the template's pod spec with the daemon tolerations added.
pub fn evaluate(spec: &PodSpec, node: &Node) -> Verdict {
    let excluded = Verdict {
        should_run: false,
        should_continue_running: false,
    };
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node_name)
    {
        return excluded;
    }
    if !fits_node_affinity(spec, node) {
        return excluded;
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated = |effects: &[&str]| {
        taints
            .iter()
            .filter(|taint| effects.contains(&taint.effect.as_str()))
            .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    if untolerated(&["NoSchedule", "NoExecute"]) {
        return Verdict {
            should_run: false,
            should_continue_running: !untolerated(&["NoExecute"]),
        };
    }
    Verdict {
        should_run: true,
        should_continue_running: true,
    }
}

/// Upstream's ToleratesTaint.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration
        .effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    if toleration
        .key
        .as_deref()
        .is_some_and(|k| !k.is_empty() && k != taint.key)
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// The pod's nodeSelector and required node affinity (any of its terms) match the node.
fn fits_node_affinity(spec: &PodSpec, node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let affinity_ok = required.is_none_or(|selector| {
        selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, labels, node))
    });
    selector_ok && affinity_ok
}

/// A term matches when all its requirements do; a term without requirements matches nothing.
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let node_name = node.metadata.name.clone().unwrap_or_default();
    expressions
        .iter()
        .all(|req| requirement_matches(req, labels.get(&req.key)))
        && fields.iter().all(|req| {
            req.key == "metadata.name"
                && matches!(req.operator.as_str(), "In" | "NotIn")
                && requirement_matches(req, Some(&node_name))
        })
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let as_int = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| as_int(v)),
                values.first().and_then(|v| as_int(v)),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(value: serde_json::Value) -> Node {
        serde_json::from_value(value).unwrap()
    }

    fn daemon_spec(value: serde_json::Value) -> PodSpec {
        let mut spec: PodSpec = serde_json::from_value(value).unwrap();
        add_daemon_tolerations(&mut spec);
        spec
    }

    const RUN: Verdict = Verdict {
        should_run: true,
        should_continue_running: true,
    };
    const NEVER: Verdict = Verdict {
        should_run: false,
        should_continue_running: false,
    };

    #[test]
    fn daemon_tolerations_are_added_once() {
        let mut spec = daemon_spec(json!({"containers": [], "hostNetwork": true}));
        assert_eq!(spec.tolerations.as_ref().unwrap().len(), 7);
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations.as_ref().unwrap().len(), 7);
        let plain = daemon_spec(json!({"containers": []}));
        assert_eq!(plain.tolerations.as_ref().unwrap().len(), 6);
    }

    #[test]
    fn taints_decide_placement_and_eviction() {
        let spec = daemon_spec(json!({"containers": []}));
        let plain = node(json!({"metadata": {"name": "a"}}));
        assert_eq!(evaluate(&spec, &plain), RUN);
        let no_schedule = node(json!({"metadata": {"name": "a"},
            "spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}}));
        assert_eq!(
            evaluate(&spec, &no_schedule),
            Verdict {
                should_run: false,
                should_continue_running: true
            }
        );
        let no_execute = node(json!({"metadata": {"name": "a"},
            "spec": {"taints": [{"key": "dedicated", "effect": "NoExecute"}]}}));
        assert_eq!(evaluate(&spec, &no_execute), NEVER);
        let prefer = node(json!({"metadata": {"name": "a"},
            "spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}));
        assert_eq!(evaluate(&spec, &prefer), RUN);
        // Upstream's automatic tolerations cover cordoned and not-ready nodes.
        let cordoned = node(
            json!({"metadata": {"name": "a"}, "spec": {"unschedulable": true,
            "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                       {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]}}),
        );
        assert_eq!(evaluate(&spec, &cordoned), RUN);
        let tolerant = daemon_spec(json!({"containers": [],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"}]}));
        assert_eq!(evaluate(&tolerant, &no_schedule), RUN);
    }

    #[test]
    fn selectors_and_affinity_filter_nodes() {
        let gpu =
            node(json!({"metadata": {"name": "g1", "labels": {"gpu": "true", "cores": "8"}}}));
        let cpu = node(json!({"metadata": {"name": "c1", "labels": {"cores": "2"}}}));
        let selector = daemon_spec(json!({"containers": [], "nodeSelector": {"gpu": "true"}}));
        assert_eq!(evaluate(&selector, &gpu), RUN);
        assert_eq!(evaluate(&selector, &cpu), NEVER);
        let affinity = daemon_spec(json!({"containers": [], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c1"]}]}
        ]}}}}));
        assert_eq!(evaluate(&affinity, &gpu), RUN);
        assert_eq!(evaluate(&affinity, &cpu), RUN);
        let other = node(json!({"metadata": {"name": "o", "labels": {"cores": "1"}}}));
        assert_eq!(evaluate(&affinity, &other), NEVER);
        let pinned = daemon_spec(json!({"containers": [], "nodeName": "c1"}));
        assert_eq!(evaluate(&pinned, &gpu), NEVER);
        assert_eq!(evaluate(&pinned, &cpu), RUN);
    }
}
