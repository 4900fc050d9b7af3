//! k8s-openapi objects to the scheduler's model, once per informer event.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use keelson_api_types::quantity;

use crate::labels::{Labels, NodeSelectorTerm, Operator, Requirement, Selector};
use crate::model::*;

fn add_list(into: &mut Resources, list: Option<&BTreeMap<String, Quantity>>) {
    for (name, q) in list.into_iter().flatten() {
        match name.as_str() {
            "cpu" => into.milli_cpu += quantity::milli(&q.0),
            "memory" => into.memory += quantity::value(&q.0),
            "ephemeral-storage" => into.ephemeral_storage += quantity::value(&q.0),
            other if is_scalar_resource(other) => {
                *into.scalar.entry(other.to_string()).or_default() += quantity::value(&q.0)
            }
            _ => {}
        }
    }
}

/// Extended resources, hugepages and attachable volumes: the resources upstream fits besides
/// cpu, memory, ephemeral storage and pods.
pub fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

fn container_requests(container: &core::Container, non_zero: bool) -> Resources {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut out = Resources::default();
    add_list(&mut out, requests);
    if non_zero {
        if !requests.is_some_and(|r| r.contains_key("cpu")) {
            out.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !requests.is_some_and(|r| r.contains_key("memory")) {
            out.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    out
}

/// A pod's requests as upstream computes them: the containers' sum plus sidecars, at least the
/// peak of any init container (with the sidecars started before it), plus the overhead.
pub fn pod_requests(spec: &core::PodSpec, non_zero: bool) -> Resources {
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let requests = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            total.add(&requests);
            sidecars.add(&requests);
            init_peak.max_with(&sidecars);
        } else {
            let mut with_sidecars = requests;
            with_sidecars.add(&sidecars);
            init_peak.max_with(&with_sidecars);
        }
    }
    total.max_with(&init_peak);
    add_list(&mut total, spec.overhead.as_ref());
    total
}

pub fn selector(ls: &LabelSelector) -> Selector {
    let mut requirements: Vec<Requirement> = ls
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| Requirement::equals(k, v))
        .collect();
    for e in ls.match_expressions.iter().flatten() {
        let Some(operator) = Operator::parse(&e.operator) else {
            // An invalid selector selects nothing, as upstream's conversion error does.
            return Selector {
                requirements: vec![Requirement {
                    key: e.key.clone(),
                    operator: Operator::In,
                    values: vec![],
                }],
            };
        };
        requirements.push(Requirement {
            key: e.key.clone(),
            operator,
            values: e.values.clone().unwrap_or_default(),
        });
    }
    Selector { requirements }
}

fn node_term(term: &core::NodeSelectorTerm) -> NodeSelectorTerm {
    let convert = |list: &Option<Vec<core::NodeSelectorRequirement>>| {
        list.iter()
            .flatten()
            .map(|r| Requirement {
                key: r.key.clone(),
                // An unknown operator can never match.
                operator: Operator::parse(&r.operator).unwrap_or(Operator::In),
                values: if Operator::parse(&r.operator).is_some() {
                    r.values.clone().unwrap_or_default()
                } else {
                    vec![]
                },
            })
            .collect()
    };
    NodeSelectorTerm {
        expressions: convert(&term.match_expressions),
        fields: convert(&term.match_fields),
    }
}

fn affinity_term(term: &core::PodAffinityTerm, namespace: &str) -> AffinityTerm {
    let namespaces = term.namespaces.clone().unwrap_or_default();
    let namespace_selector = term.namespace_selector.as_ref().map(selector);
    AffinityTerm {
        namespaces: if namespaces.is_empty() && namespace_selector.is_none() {
            vec![namespace.to_string()]
        } else {
            namespaces
        },
        namespace_selector,
        selector: term.label_selector.as_ref().map(selector),
        topology_key: term.topology_key.clone(),
    }
}

fn weighted(
    terms: &Option<Vec<core::WeightedPodAffinityTerm>>,
    ns: &str,
) -> Vec<WeightedAffinityTerm> {
    terms
        .iter()
        .flatten()
        .map(|w| WeightedAffinityTerm {
            weight: i64::from(w.weight),
            term: affinity_term(&w.pod_affinity_term, ns),
        })
        .collect()
}

fn required(terms: &Option<Vec<core::PodAffinityTerm>>, ns: &str) -> Vec<AffinityTerm> {
    terms
        .iter()
        .flatten()
        .map(|t| affinity_term(t, ns))
        .collect()
}

pub fn toleration(t: &core::Toleration) -> Toleration {
    Toleration {
        key: t.key.clone().unwrap_or_default(),
        exists: t.operator.as_deref() == Some("Exists"),
        value: t.value.clone().unwrap_or_default(),
        effect: t.effect.as_deref().and_then(TaintEffect::parse),
    }
}

fn spread_constraint(c: &core::TopologySpreadConstraint, labels: &Labels) -> SpreadConstraint {
    let selector = c.label_selector.as_ref().map(|ls| {
        let mut s = selector(ls);
        for key in c.match_label_keys.iter().flatten() {
            if let Some(v) = labels.get(key) {
                s.requirements.push(Requirement::equals(key, v));
            }
        }
        s
    });
    SpreadConstraint {
        max_skew: i64::from(c.max_skew),
        topology_key: c.topology_key.clone(),
        hard: c.when_unsatisfiable != "ScheduleAnyway",
        selector,
        min_domains: c.min_domains.map(i64::from),
        honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
        honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
    }
}

pub fn pod(pod: &core::Pod) -> PodInfo {
    let meta = &pod.metadata;
    let empty_spec = core::PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty_spec);
    let namespace = meta.namespace.clone().unwrap_or_default();
    let labels = meta.labels.clone().unwrap_or_default();
    // The API server's Priority admission resolves priorityClassName into spec.priority on
    // create, so, as upstream's PodPriority helper, an unset value means 0.
    let priority = spec.priority.unwrap_or(0);
    let preempt_never = spec.preemption_policy.as_deref() == Some("Never");
    let requests = pod_requests(spec, false);
    let non_zero = pod_requests(spec, true);
    let host_ports = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| HostPort {
            ip: p.host_ip.clone().unwrap_or_default(),
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            port: p.host_port.unwrap_or(0),
        })
        .collect();
    let node_affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref());
    let pod_affinity = spec.affinity.as_ref().and_then(|a| a.pod_affinity.as_ref());
    let anti = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref());
    let status = pod.status.as_ref();
    let started = status
        .and_then(|s| s.start_time.as_ref())
        .or(meta.creation_timestamp.as_ref())
        .map(|t| t.0.as_second())
        .unwrap_or(0);
    PodInfo {
        uid: meta.uid.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        node_name: spec.node_name.clone().unwrap_or_default(),
        scheduler_name: spec
            .scheduler_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::SCHEDULER_NAME.into()),
        priority,
        preempt_never,
        requests,
        non_zero_milli_cpu: non_zero.milli_cpu,
        non_zero_memory: non_zero.memory,
        host_ports,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity: node_affinity
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|s| s.node_selector_terms.iter().map(node_term).collect()),
        preferred_node_affinity: node_affinity
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|p| (i64::from(p.weight), node_term(&p.preference)))
            .collect(),
        tolerations: spec.tolerations.iter().flatten().map(toleration).collect(),
        affinity: PodAffinity {
            required: pod_affinity
                .map(|a| {
                    required(
                        &a.required_during_scheduling_ignored_during_execution,
                        &namespace,
                    )
                })
                .unwrap_or_default(),
            preferred: pod_affinity
                .map(|a| {
                    weighted(
                        &a.preferred_during_scheduling_ignored_during_execution,
                        &namespace,
                    )
                })
                .unwrap_or_default(),
            anti_required: anti
                .map(|a| {
                    required(
                        &a.required_during_scheduling_ignored_during_execution,
                        &namespace,
                    )
                })
                .unwrap_or_default(),
            anti_preferred: anti
                .map(|a| {
                    weighted(
                        &a.preferred_during_scheduling_ignored_during_execution,
                        &namespace,
                    )
                })
                .unwrap_or_default(),
        },
        spread: spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c| spread_constraint(c, &labels))
            .collect(),
        gated: spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty()),
        gated_condition: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated")),
        terminating: meta.deletion_timestamp.is_some(),
        terminal: matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ),
        nominated_node_name: status
            .and_then(|s| s.nominated_node_name.clone())
            .unwrap_or_default(),
        controller: meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| Owner {
                kind: o.kind.clone(),
                api_version: o.api_version.clone(),
                name: o.name.clone(),
            }),
        start_time: started,
        labels,
        namespace,
    }
}

pub fn node(node: &core::Node) -> NodeSpec {
    let spec = node.spec.as_ref();
    let mut allocatable = Resources::default();
    let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    add_list(&mut allocatable, alloc);
    allocatable.pods = alloc
        .and_then(|a| a.get("pods"))
        .map(|q| quantity::value(&q.0))
        .unwrap_or(0);
    NodeSpec {
        name: node.metadata.name.clone().unwrap_or_default(),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some(Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: TaintEffect::parse(&t.effect)?,
                })
            })
            .collect(),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        allocatable,
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
