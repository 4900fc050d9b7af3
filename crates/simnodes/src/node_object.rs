//! The Node object a simulated node registers and the status it reports, shaped as a kubelet's.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::options::SimOptions;
use crate::{SIMULATED_LABEL, ids, ipam};

/// What the simulated runtime reports; never a real runtime's name.
pub const RUNTIME_VERSION: &str = "sim://keelson";
const KUBELET_PORT: i32 = 10250;

/// The Node as first registered: metadata only (status goes through nodes/status).
pub fn desired_node(options: &SimOptions, name: &str, index: u32) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels(options, name, index)),
            annotations: Some(annotations()),
            ..Default::default()
        },
        spec: (!options.register_with_taints.is_empty()).then(|| NodeSpec {
            taints: Some(options.register_with_taints.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Labels a kubelet sets on its node (well-known topology labels included), the extra labels
/// asked for, plus the marker that tells people and tools this node is simulated.
pub fn labels(options: &SimOptions, name: &str, index: u32) -> BTreeMap<String, String> {
    let zone = &options.zones[index as usize % options.zones.len()];
    [
        ("kubernetes.io/hostname", name.to_string()),
        ("kubernetes.io/os", "linux".into()),
        ("kubernetes.io/arch", options.arch.clone()),
        ("beta.kubernetes.io/os", "linux".into()),
        ("beta.kubernetes.io/arch", options.arch.clone()),
        ("topology.kubernetes.io/zone", zone.clone()),
        ("node.kubernetes.io/instance-type", options.instance_type()),
        (SIMULATED_LABEL, "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(options.labels.clone())
    .collect()
}

pub fn annotations() -> BTreeMap<String, String> {
    [
        (
            "volumes.kubernetes.io/controller-managed-attach-detach",
            "true",
        ),
        (
            "keelson.dev/simulated-by",
            "keelson sim-nodes: no kubelet or containers run behind this node",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The full status a node posts after registering.
pub fn node_status(
    options: &SimOptions,
    name: &str,
    index: u32,
    kubelet_version: &str,
    healthy_since: Timestamp,
    now: Timestamp,
) -> NodeStatus {
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", (&options.cpu).into()),
        ("memory", (&options.memory).into()),
        ("pods", Quantity(options.pods.to_string())),
        ("ephemeral-storage", (&options.ephemeral_storage).into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(conditions(healthy_since, now)),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: ipam::node_internal_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name.to_string(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: options.arch.clone(),
            boot_id: ids::hex_id(&[name, "boot"]),
            container_runtime_version: RUNTIME_VERSION.into(),
            kernel_version: "sim".into(),
            kube_proxy_version: String::new(),
            kubelet_version: kubelet_version.to_string(),
            machine_id: ids::hex_id(&[name, "machine"]),
            operating_system: "linux".into(),
            os_image: "Keelson simulated node".into(),
            swap: None,
            system_uuid: ids::hex_id(&[name, "system"]),
        }),
        phase: None,
        ..Default::default()
    }
}

/// Ready and the three pressure conditions with the kubelet's reasons and messages; the
/// transition time stays at `healthy_since` while the heartbeat time moves.
pub fn conditions(healthy_since: Timestamp, now: Timestamp) -> Vec<NodeCondition> {
    [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
    .into_iter()
    .map(|(type_, status, reason, message)| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(healthy_since)),
    })
    .collect()
}

/// When an existing node (a restarted simulator re-adopting it) last became Ready, so its
/// transition time survives the restart; `None` when it is not Ready now.
pub fn ready_since(node: &Node) -> Option<Timestamp> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SimOptions {
        let mut o = SimOptions::new(3);
        o.zones = vec!["a".into(), "b".into()];
        o
    }

    #[test]
    fn extra_labels_and_registration_taints_reach_the_node() {
        let mut o = options();
        o.labels
            .insert("eks.amazonaws.com/nodegroup".into(), "ng".into());
        o.register_with_taints = vec![crate::options::parse_taint("k=v:NoSchedule").unwrap()];
        let node = desired_node(&o, "sim-0", 0);
        assert_eq!(
            node.metadata.labels.unwrap()["eks.amazonaws.com/nodegroup"],
            "ng"
        );
        let taints = node.spec.unwrap().taints.unwrap();
        assert_eq!(taints[0].key, "k");
        assert!(desired_node(&options(), "sim-0", 0).spec.is_none());
    }

    #[test]
    fn labels_spread_zones_round_robin_and_mark_simulation() {
        let o = options();
        let l0 = labels(&o, "sim-0", 0);
        let l1 = labels(&o, "sim-1", 1);
        let l2 = labels(&o, "sim-2", 2);
        assert_eq!(l0["topology.kubernetes.io/zone"], "a");
        assert_eq!(l1["topology.kubernetes.io/zone"], "b");
        assert_eq!(l2["topology.kubernetes.io/zone"], "a");
        assert_eq!(l1["kubernetes.io/hostname"], "sim-1");
        assert_eq!(l1["kubernetes.io/os"], "linux");
        assert_eq!(l1["kubernetes.io/arch"], "amd64");
        assert_eq!(l1["node.kubernetes.io/instance-type"], "sim.4cpu.16Gi");
        assert_eq!(l1[SIMULATED_LABEL], "true");
    }

    #[test]
    fn status_advertises_shape_addresses_and_a_fake_runtime() {
        let since: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let now: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let status = node_status(&options(), "sim-1", 1, "v1.33.0", since, now);
        let capacity = status.capacity.unwrap();
        assert_eq!(capacity["cpu"].0, "4");
        assert_eq!(capacity["memory"].0, "16Gi");
        assert_eq!(capacity["pods"].0, "110");
        assert_eq!(capacity["ephemeral-storage"].0, "100Gi");
        assert_eq!(status.allocatable.unwrap(), capacity);
        let addresses = status.addresses.unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "198.18.0.2");
        assert_eq!(addresses[1].address, "sim-1");
        let info = status.node_info.unwrap();
        assert_eq!(info.container_runtime_version, "sim://keelson");
        assert_eq!(info.kubelet_version, "v1.33.0");
        assert_eq!(info.machine_id.len(), 32);
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
        assert_eq!(ready.last_transition_time.unwrap().0, since);
        assert_eq!(ready.last_heartbeat_time.unwrap().0, now);
    }

    #[test]
    fn pressure_conditions_are_false_with_upstream_reasons() {
        let now = Timestamp::now();
        let c = conditions(now, now);
        let reasons: Vec<_> = c
            .iter()
            .map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID"),
                ("Ready", "True", "KubeletReady"),
            ]
        );
    }

    #[test]
    fn ready_since_reads_the_ready_transition() {
        let since: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut node = desired_node(&options(), "sim-0", 0);
        assert_eq!(ready_since(&node), None);
        node.status = Some(node_status(&options(), "sim-0", 0, "v1.33.0", since, since));
        assert_eq!(ready_since(&node), Some(since));
    }
}
