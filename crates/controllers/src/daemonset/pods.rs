//! Daemon pods: the template a DaemonSet's pods are made from (labels, automatic tolerations),
//! the node affinity that pins each to its node for the default scheduler, and which node an
//! existing pod belongs to.

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::eligibility::add_daemon_tolerations;
use crate::history::{self, CONTROLLER_REVISION_HASH};

/// Label with the DaemonSet's template generation, still set by upstream for old clients.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// Where the API server keeps the template generation of an apps/v1 DaemonSet.
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

pub fn template_generation(ds: &DaemonSet) -> Option<String> {
    ds.annotations()
        .get(TEMPLATE_GENERATION_ANNOTATION)
        .cloned()
}

/// The template every daemon pod of revision `hash` is made from (upstream's
/// CreatePodTemplate): the DaemonSet's template with the revision labels and the daemon
/// tolerations.
pub fn daemon_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(Default::default);
    if let Some(generation) = template_generation(ds) {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), generation);
    }
    labels.insert(CONTROLLER_REVISION_HASH.into(), hash.into());
    add_daemon_tolerations(template.spec.get_or_insert_with(Default::default));
    template
}

/// A pod of `template` for `node`, left for the scheduler to bind: its required node affinity
/// is replaced by a single `metadata.name` match (upstream's
/// ReplaceDaemonSetPodNodeNameNodeAffinity).
pub fn pod_for_node(ds: &DaemonSet, template: &PodTemplateSpec, node: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    let pin = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(pin);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![history::controller_ref(ds)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The node a daemon pod belongs to: where it is bound, else where its affinity pins it.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(name) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(name.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|term| {
        term.match_fields.iter().flatten().find_map(|req| {
            let values = req.values.as_deref().unwrap_or_default();
            (req.key == "metadata.name" && req.operator == "In" && values.len() == 1)
                .then(|| values[0].clone())
        })
    })
}

/// Whether the pod runs the DaemonSet's current template (upstream's IsPodUpdated).
pub fn is_updated(pod: &Pod, hash: &str, generation: Option<&str>) -> bool {
    let labels = pod.labels();
    let by_generation = generation
        .is_some_and(|g| labels.get(TEMPLATE_GENERATION_LABEL).map(String::as_str) == Some(g));
    by_generation || labels.get(CONTROLLER_REVISION_HASH).map(String::as_str) == Some(hash)
}

/// Bound pods first, then oldest first (upstream's podByCreationTimestampAndPhase).
pub fn sort_oldest_first(pods: &mut [Arc<Pod>]) {
    let bound = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some_and(|n| !n.is_empty())
    };
    pods.sort_by(|a, b| match (bound(a), bound(b)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_pinned_to_their_node_and_labelled() {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "kube-system", "uid": "u",
                         "annotations": {"deprecated.daemonset.template.generation": "3"}},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}],
                        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "os", "operator": "Exists"}]}]}}}}}
            }
        }))
        .unwrap();
        let template = daemon_template(&ds, "abc");
        let pod = pod_for_node(&ds, &template, "node-1");
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[CONTROLLER_REVISION_HASH], "abc");
        assert_eq!(labels[TEMPLATE_GENERATION_LABEL], "3");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("agent-"));
        assert_eq!(target_node(&pod).as_deref(), Some("node-1"));
        let terms = &pod
            .spec
            .as_ref()
            .unwrap()
            .affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms;
        assert_eq!(
            terms.len(),
            1,
            "the node name replaces the template's terms"
        );
        assert!(is_updated(&pod, "abc", None));
        assert!(is_updated(&pod, "old", Some("3")));
        assert!(!is_updated(&pod, "old", Some("2")));
        assert_eq!(
            pod.spec
                .as_ref()
                .unwrap()
                .tolerations
                .as_ref()
                .unwrap()
                .len(),
            6
        );
    }
}
