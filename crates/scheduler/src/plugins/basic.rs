//! NodeUnschedulable, NodeName, TaintToleration, NodeAffinity and NodePorts: filters and
//! scores that look at one node and the incoming pod only.

use super::{FilterResult, Plugin, Reason, Rejection};
use crate::cache::NodeInfo;
use crate::labels::{Labels, any_term_matches};
use crate::model::{PodInfo, Taint, TaintEffect, tolerated};

pub const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if !node.spec.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT_KEY.into(),
        value: String::new(),
        effect: TaintEffect::NoSchedule,
    };
    if tolerated(&pod.tolerations, &taint) {
        return Ok(());
    }
    Err(Rejection::new(
        Plugin::NodeUnschedulable,
        Reason::Unschedulable,
        true,
    ))
}

pub fn node_name(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if pod.node_name.is_empty() || pod.node_name == node.spec.name {
        return Ok(());
    }
    Err(Rejection::new(Plugin::NodeName, Reason::NodeName, true))
}

pub fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let untolerated = node.spec.taints.iter().find(|t| {
        matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
            && !tolerated(&pod.tolerations, t)
    });
    match untolerated {
        None => Ok(()),
        Some(t) => Err(Rejection::new(
            Plugin::TaintToleration,
            Reason::Taint {
                key: t.key.clone(),
                value: t.value.clone(),
            },
            true,
        )),
    }
}

/// Raw TaintToleration score: PreferNoSchedule taints the pod does not tolerate (fewer is
/// better; normalized reversed).
pub fn taint_score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    node.spec
        .taints
        .iter()
        .filter(|t| {
            t.effect == TaintEffect::PreferNoSchedule
                && !pod
                    .tolerations
                    .iter()
                    .filter(|tol| {
                        tol.effect
                            .is_none_or(|e| e == TaintEffect::PreferNoSchedule)
                    })
                    .any(|tol| tol.tolerates(t))
        })
        .count() as i64
}

/// nodeSelector plus required node affinity.
pub fn matches_node_selector(pod: &PodInfo, name: &str, labels: &Labels) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && pod
            .required_node_affinity
            .as_ref()
            .is_none_or(|terms| any_term_matches(terms, name, labels))
}

pub fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if matches_node_selector(pod, &node.spec.name, &node.spec.labels) {
        Ok(())
    } else {
        Err(Rejection::new(
            Plugin::NodeAffinity,
            Reason::NodeAffinity,
            true,
        ))
    }
}

/// Raw NodeAffinity score: the summed weights of matching preferred terms.
pub fn node_affinity_score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.preferred_node_affinity
        .iter()
        .filter(|(_, term)| term.matches(&node.spec.name, &node.spec.labels))
        .map(|(w, _)| *w)
        .sum()
}

pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let conflict = pod
        .host_ports
        .iter()
        .any(|want| node.ports.iter().any(|used| used.conflicts(want)));
    if conflict {
        Err(Rejection::new(Plugin::NodePorts, Reason::Ports, false))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{NodeSelectorTerm, Operator, Requirement, labels};
    use crate::model::{HostPort, NodeSpec, Toleration};
    use std::sync::Arc;

    fn node_with(taints: Vec<Taint>, node_labels: Labels) -> NodeInfo {
        NodeInfo::new(NodeSpec {
            name: "n1".into(),
            labels: node_labels,
            taints,
            ..Default::default()
        })
    }

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    #[test]
    fn unschedulable_node_needs_the_toleration() {
        let mut node = node_with(vec![], Labels::new());
        node.spec.unschedulable = true;
        let mut pod = PodInfo::default();
        assert!(node_unschedulable(&pod, &node).is_err());
        pod.tolerations.push(Toleration {
            key: UNSCHEDULABLE_TAINT_KEY.into(),
            exists: true,
            ..Default::default()
        });
        assert!(node_unschedulable(&pod, &node).is_ok());
    }

    #[test]
    fn node_name_filter() {
        let node = node_with(vec![], Labels::new());
        let mut pod = PodInfo::default();
        assert!(node_name(&pod, &node).is_ok());
        pod.node_name = "n2".into();
        assert!(node_name(&pod, &node).is_err());
    }

    #[test]
    fn taints_filter_and_score() {
        let node = node_with(
            vec![
                taint("dedicated", "gpu", TaintEffect::NoSchedule),
                taint("soft", "x", TaintEffect::PreferNoSchedule),
            ],
            Labels::new(),
        );
        let mut pod = PodInfo::default();
        let err = taint_toleration(&pod, &node).unwrap_err();
        assert_eq!(
            err.reasons[0].to_string(),
            "node(s) had untolerated taint {dedicated: gpu}"
        );
        assert_eq!(taint_score(&pod, &node), 1);
        pod.tolerations.push(Toleration {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: Some(TaintEffect::NoSchedule),
            exists: false,
        });
        assert!(taint_toleration(&pod, &node).is_ok());
        pod.tolerations.push(Toleration {
            exists: true,
            ..Default::default()
        });
        assert_eq!(taint_score(&pod, &node), 0);
        // NoExecute is a filter too; a wrong value does not tolerate.
        let node = node_with(vec![taint("k", "v", TaintEffect::NoExecute)], Labels::new());
        let pod = PodInfo {
            tolerations: vec![Toleration {
                key: "k".into(),
                value: "other".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(taint_toleration(&pod, &node).is_err());
    }

    #[test]
    fn node_affinity_selector_and_preferences() {
        let node = node_with(vec![], labels(&[("zone", "a"), ("disk", "ssd")]));
        let mut pod = PodInfo {
            node_selector: labels(&[("disk", "ssd")]),
            ..Default::default()
        };
        assert!(node_affinity(&pod, &node).is_ok());
        pod.required_node_affinity = Some(vec![NodeSelectorTerm {
            expressions: vec![Requirement {
                key: "zone".into(),
                operator: Operator::In,
                values: vec!["b".into()],
            }],
            fields: vec![],
        }]);
        assert!(node_affinity(&pod, &node).is_err());
        pod.required_node_affinity = None;
        pod.preferred_node_affinity = vec![
            (
                5,
                NodeSelectorTerm {
                    expressions: vec![Requirement::equals("zone", "a")],
                    fields: vec![],
                },
            ),
            (
                7,
                NodeSelectorTerm {
                    expressions: vec![Requirement::equals("zone", "b")],
                    fields: vec![],
                },
            ),
        ];
        assert_eq!(node_affinity_score(&pod, &node), 5);
    }

    #[test]
    fn host_ports_conflict_on_wildcards() {
        let mut node = node_with(vec![], Labels::new());
        let used = PodInfo {
            uid: "a".into(),
            host_ports: vec![HostPort {
                ip: "".into(),
                protocol: "TCP".into(),
                port: 80,
            }],
            ..Default::default()
        };
        node.add_pod(Arc::new(used));
        let mut pod = PodInfo {
            host_ports: vec![HostPort {
                ip: "10.0.0.1".into(),
                protocol: "TCP".into(),
                port: 80,
            }],
            ..Default::default()
        };
        assert!(node_ports(&pod, &node).is_err());
        pod.host_ports[0].protocol = "UDP".into();
        assert!(node_ports(&pod, &node).is_ok());
    }
}
