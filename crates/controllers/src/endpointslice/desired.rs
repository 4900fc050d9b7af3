//! The endpoints a service should have, grouped by the ports they serve (upstream's
//! desiredEndpointsByPortMap): each group is spread over slices of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use kube::runtime::reflector::{ObjectRef, Store};

use super::pods;

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Ports sorted by (name, port, protocol), so equal sets compare equal.
pub(crate) type PortKey = Vec<(String, i32, String)>;

pub(crate) struct Group {
    pub(crate) ports: Vec<EndpointPort>,
    /// By address, in the order the pods were found.
    pub(crate) endpoints: Vec<Endpoint>,
}

pub(crate) fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or(0),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect();
    key.sort();
    key
}

pub(crate) fn groups(
    service: &Service,
    selected: &[Arc<Pod>],
    nodes: &Store<Node>,
) -> BTreeMap<PortKey, Group> {
    let publish_not_ready = pods::publishes_not_ready(service);
    let service_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let mut groups: BTreeMap<PortKey, Group> = BTreeMap::new();
    for pod in selected {
        // Slices carry terminating pods too, marked as such.
        if !pods::belongs_in_endpoints(pod, true) {
            continue;
        }
        let Some(ip) = pods::ipv4(pod) else { continue };
        let mut ports: Vec<EndpointPort> = service_ports
            .iter()
            .filter_map(|sp| {
                let number = pods::find_port(pod, sp)?;
                Some(EndpointPort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    port: Some(number),
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        let key = port_key(&ports);
        ports.sort_by_key(|p| port_key(std::slice::from_ref(p)));
        let serving = publish_not_ready || pods::is_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let node_name = pods::node_name(pod);
        let zone = node_name.as_ref().and_then(|n| {
            let node = nodes.get(&ObjectRef::new(n))?;
            node.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned()
        });
        let endpoint = Endpoint {
            addresses: vec![ip],
            conditions: Some(EndpointConditions {
                ready: Some(publish_not_ready || (serving && !terminating)),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            hostname: pods::hostname(pod, service),
            node_name,
            zone,
            target_ref: Some(pods::target_ref(pod)),
            ..Default::default()
        };
        groups
            .entry(key)
            .or_insert_with(|| Group {
                ports,
                endpoints: Vec::new(),
            })
            .endpoints
            .push(endpoint);
    }
    groups
}
