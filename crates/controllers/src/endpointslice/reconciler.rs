//! What to write so a service's slices hold its desired endpoints, changing as few slices as
//! possible (upstream's reconciler): endpoints stay in the slice they are in, new ones fill
//! slices with room before new slices are made, and a service with no endpoints keeps one
//! empty placeholder slice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::desired::{Group, PortKey, port_key};
use super::pods;

pub(crate) const SERVICE_NAME: &str = "kubernetes.io/service-name";
pub(crate) const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
const HEADLESS: &str = "service.kubernetes.io/headless";
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) create: Vec<EndpointSlice>,
    pub(crate) update: Vec<EndpointSlice>,
    pub(crate) delete: Vec<Arc<EndpointSlice>>,
}

pub(crate) fn labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    for reserved in [SERVICE_NAME, MANAGED_BY, HEADLESS] {
        labels.remove(reserved);
    }
    labels.insert(
        SERVICE_NAME.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    if pods::is_headless(service) {
        labels.insert(HEADLESS.into(), String::new());
    }
    labels
}

fn new_slice(service: &Service, group: Option<&Group>, trigger: &Option<String>) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    let mut slice = EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name,
                uid: service.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: Vec::new(),
        ports: group.map(|g| g.ports.clone()),
    };
    refresh_meta(&mut slice, service, trigger);
    slice
}

fn refresh_meta(slice: &mut EndpointSlice, service: &Service, trigger: &Option<String>) {
    slice.metadata.labels = Some(labels(service));
    if let Some(time) = trigger {
        slice
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(TRIGGER_TIME.into(), time.clone());
    }
}

fn address(endpoint: &Endpoint) -> Option<&str> {
    endpoint.addresses.first().map(String::as_str)
}

pub(crate) fn plan(
    service: &Service,
    existing: &[Arc<EndpointSlice>],
    groups: &BTreeMap<PortKey, Group>,
    max_per_slice: usize,
    trigger: &Option<String>,
) -> Plan {
    let mut plan = Plan::default();
    let desired_labels = labels(service);
    let mut by_key: HashMap<PortKey, Vec<&Arc<EndpointSlice>>> = HashMap::new();
    for slice in existing {
        by_key
            .entry(port_key(slice.ports.as_deref().unwrap_or_default()))
            .or_default()
            .push(slice);
    }
    for (key, group) in groups {
        let slices = by_key.remove(key).unwrap_or_default();
        let wanted: HashMap<&str, &Endpoint> = group
            .endpoints
            .iter()
            .filter_map(|e| Some((address(e)?, e)))
            .collect();
        let mut placed: HashSet<&str> = HashSet::new();
        // (slice, its new endpoints, whether they changed)
        let mut kept: Vec<(&Arc<EndpointSlice>, Vec<Endpoint>, bool)> = Vec::new();
        for slice in slices {
            let mut endpoints = Vec::new();
            for current in &slice.endpoints {
                let Some(addr) = address(current) else {
                    continue;
                };
                if let Some(desired) = wanted.get(addr)
                    && placed.insert(addr)
                {
                    endpoints.push((*desired).clone());
                }
            }
            let changed = endpoints != slice.endpoints;
            kept.push((slice, endpoints, changed));
        }
        let mut leftovers = group
            .endpoints
            .iter()
            .filter(|e| address(e).is_some_and(|a| !placed.contains(a)))
            .cloned()
            .peekable();
        // Slices being rewritten anyway take new endpoints first.
        kept.sort_by_key(|(_, _, changed)| !*changed);
        for (_, endpoints, changed) in &mut kept {
            while endpoints.len() < max_per_slice {
                let Some(endpoint) = leftovers.next() else {
                    break;
                };
                endpoints.push(endpoint);
                *changed = true;
            }
        }
        while leftovers.peek().is_some() {
            let mut slice = new_slice(service, Some(group), trigger);
            slice.endpoints = leftovers.by_ref().take(max_per_slice).collect();
            plan.create.push(slice);
        }
        for (slice, endpoints, changed) in kept {
            if endpoints.is_empty() {
                plan.delete.push(slice.clone());
            } else if changed || slice.metadata.labels.as_ref() != Some(&desired_labels) {
                let mut updated = (**slice).clone();
                updated.endpoints = endpoints;
                updated.ports = Some(group.ports.clone());
                refresh_meta(&mut updated, service, if changed { trigger } else { &None });
                plan.update.push(updated);
            }
        }
    }
    // Slices of port sets no longer served go away.
    plan.delete.extend(by_key.into_values().flatten().cloned());
    if plan.create.is_empty() && plan.update.is_empty() && plan.delete.len() == existing.len() {
        keep_placeholder(service, &mut plan, &desired_labels, trigger);
    }
    plan
}

/// A service without endpoints keeps exactly one empty slice, reusing an empty one if any.
fn keep_placeholder(
    service: &Service,
    plan: &mut Plan,
    desired_labels: &BTreeMap<String, String>,
    trigger: &Option<String>,
) {
    let empty = plan
        .delete
        .iter()
        .position(|s| s.endpoints.is_empty() && s.ports.as_deref().unwrap_or_default().is_empty());
    match empty {
        Some(index) => {
            let slice = plan.delete.remove(index);
            if slice.metadata.labels.as_ref() != Some(desired_labels) {
                let mut updated = (*slice).clone();
                refresh_meta(&mut updated, service, trigger);
                plan.update.push(updated);
            }
        }
        None => plan.create.push(new_slice(service, None, trigger)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::discovery::v1::EndpointPort;

    fn service() -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"}}))
        .unwrap()
    }

    fn group(count: usize) -> BTreeMap<PortKey, Group> {
        let ports = vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }];
        let endpoints = (0..count)
            .map(|i| Endpoint {
                addresses: vec![format!("10.0.{}.{}", i / 250, i % 250)],
                ..Default::default()
            })
            .collect();
        BTreeMap::from([(port_key(&ports), Group { ports, endpoints })])
    }

    fn stored(plan: Plan) -> Vec<Arc<EndpointSlice>> {
        plan.create
            .into_iter()
            .enumerate()
            .map(|(i, mut slice)| {
                slice.metadata.name = Some(format!("web-{i}"));
                Arc::new(slice)
            })
            .collect()
    }

    #[test]
    fn endpoints_fill_slices_of_at_most_the_maximum() {
        let plan = plan(&service(), &[], &group(250), 100, &None);
        let sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let slice = &plan.create[0];
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(slice.metadata.labels.as_ref().unwrap()[SERVICE_NAME], "web");
        assert_eq!(
            slice.metadata.labels.as_ref().unwrap()[MANAGED_BY],
            CONTROLLER_NAME
        );
        assert_eq!(
            slice.metadata.owner_references.as_ref().unwrap()[0].uid,
            "u1"
        );
    }

    #[test]
    fn unchanged_slices_are_left_alone_and_new_endpoints_fill_free_room() {
        let existing = stored(plan(&service(), &[], &group(250), 100, &None));
        let again = plan(&service(), &existing, &group(250), 100, &None);
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());
        let grown = plan(&service(), &existing, &group(260), 100, &None);
        assert!(grown.create.is_empty() && grown.delete.is_empty());
        assert_eq!(grown.update.len(), 1);
        assert_eq!(grown.update[0].endpoints.len(), 60);
    }

    #[test]
    fn a_service_without_endpoints_keeps_one_placeholder() {
        let existing = stored(plan(&service(), &[], &group(150), 100, &None));
        let emptied = plan(&service(), &existing, &BTreeMap::new(), 100, &None);
        assert_eq!(emptied.delete.len(), 2);
        assert_eq!(emptied.create.len(), 1);
        assert!(emptied.create[0].endpoints.is_empty());
        let placeholder = stored(emptied);
        let still = plan(&service(), &placeholder, &BTreeMap::new(), 100, &None);
        assert!(still.create.is_empty() && still.update.is_empty() && still.delete.is_empty());
    }
}
