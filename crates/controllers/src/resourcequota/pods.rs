//! What a pod charges against a quota (upstream's pod evaluator): one pod, and its effective
//! requests and limits (containers and sidecars together, or the largest init container if
//! that is more, plus the pod overhead), unless it is terminal or past its deletion grace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceQuota};
use k8s_openapi::jiff::Timestamp;

use super::quantity::Amount;

type Resources = BTreeMap<String, Amount>;

/// Whether the pod still counts: not Succeeded/Failed and not past its deletion time.
pub(crate) fn counts(pod: &Pod, now: Timestamp) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    match &pod.metadata.deletion_timestamp {
        Some(deletion) => deletion.0 > now,
        None => true,
    }
}

fn container_resources(container: &Container, limits: bool) -> Resources {
    let resources = container.resources.as_ref();
    let list = if limits {
        resources.and_then(|r| r.limits.as_ref())
    } else {
        resources.and_then(|r| r.requests.as_ref())
    };
    list.into_iter()
        .flatten()
        .filter_map(|(name, q)| Some((name.clone(), Amount::parse(q)?)))
        .collect()
}

fn add_into(total: &mut Resources, more: &Resources) {
    for (name, amount) in more {
        let sum = total.get(name).copied().unwrap_or_default().add(*amount);
        total.insert(name.clone(), sum);
    }
}

/// Upstream's PodRequests / PodLimits.
fn effective(pod: &Pod, limits: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::new();
    };
    let mut total = Resources::new();
    for container in &spec.containers {
        add_into(&mut total, &container_resources(container, limits));
    }
    let mut sidecars = Resources::new();
    for init in spec.init_containers.iter().flatten() {
        let own = container_resources(init, limits);
        if init.restart_policy.as_deref() == Some("Always") {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
        } else {
            let mut peak = sidecars.clone();
            add_into(&mut peak, &own);
            for (name, amount) in peak {
                let current = total.get(&name).copied().unwrap_or_default();
                total.insert(name, current.max(amount));
            }
        }
    }
    if let Some(overhead) = &spec.overhead {
        let overhead: Resources = overhead
            .iter()
            .filter_map(|(n, q)| Some((n.clone(), Amount::parse(q)?)))
            .collect();
        add_into(&mut total, &overhead);
    }
    total
}

fn is_best_effort(pod: &Pod) -> bool {
    pod.spec.as_ref().is_none_or(|spec| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .all(|c| {
                container_resources(c, false).is_empty() && container_resources(c, true).is_empty()
            })
    })
}

/// Whether the pod falls under every scope of the quota (upstream's podMatchesScopeFunc for
/// the scopes that apply to pods).
pub(crate) fn in_scope(quota: &ResourceQuota, pod: &Pod) -> bool {
    let spec = quota.spec.as_ref();
    let terminating = pod
        .spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .is_some();
    let scopes = spec.and_then(|s| s.scopes.clone()).unwrap_or_default();
    let selectors = spec
        .and_then(|s| s.scope_selector.as_ref())
        .and_then(|s| s.match_expressions.clone())
        .unwrap_or_default();
    let priority_class = pod
        .spec
        .as_ref()
        .and_then(|s| s.priority_class_name.clone())
        .unwrap_or_default();
    let scope_matches = |scope: &str, operator: &str, values: &[String]| match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => match operator {
            "In" => values.contains(&priority_class),
            "NotIn" => !values.contains(&priority_class),
            "Exists" => !priority_class.is_empty(),
            "DoesNotExist" => priority_class.is_empty(),
            _ => false,
        },
        _ => false,
    };
    scopes.iter().all(|s| scope_matches(s, "Exists", &[]))
        && selectors.iter().all(|e| {
            scope_matches(
                &e.scope_name,
                &e.operator,
                e.values.as_deref().unwrap_or_default(),
            )
        })
}

/// The quota resource names a pod charges, with amounts.
pub(crate) fn usage(pod: &Pod) -> Resources {
    let mut used = Resources::new();
    used.insert("pods".into(), Amount::units(1));
    used.insert("count/pods".into(), Amount::units(1));
    for (name, amount) in effective(pod, false) {
        if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") {
            used.insert(name.clone(), amount);
        }
        used.insert(format!("requests.{name}"), amount);
    }
    for (name, amount) in effective(pod, true) {
        used.insert(format!("limits.{name}"), amount);
    }
    used
}

pub(crate) fn add(total: &mut Resources, pod_usage: &Resources) {
    add_into(total, pod_usage);
}
