//! Node health as upstream's node lifecycle controller judges it: a node is healthy while its
//! kubelet keeps renewing its Lease in kube-node-lease (or posting status); the controller
//! remembers when it last saw either change (the probe time), and a node silent for longer
//! than the grace period gets its conditions set to Unknown.

use std::collections::HashMap;
use std::time::Instant;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The conditions the controller sets to Unknown besides Ready (upstream's
/// remainingNodeConditionTypes).
const OTHER_CONDITIONS: [&str; 3] = ["MemoryPressure", "DiskPressure", "PIDPressure"];

struct Observed {
    probe: Instant,
    heartbeat: Option<Timestamp>,
    renewed: Option<Timestamp>,
}

#[derive(Default)]
pub(crate) struct Health {
    nodes: HashMap<String, Observed>,
}

impl Health {
    /// Record what the node and its lease show now; returns when the controller last saw the
    /// kubelet alive (a node seen for the first time gets a full grace period from now).
    pub(crate) fn observe(&mut self, node: &Node, lease: Option<&Lease>, now: Instant) -> Instant {
        let name = node.metadata.name.clone().unwrap_or_default();
        let heartbeat = ready_condition(node)
            .and_then(|c| c.last_heartbeat_time.as_ref())
            .map(|t| t.0);
        let renewed = lease
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0);
        let entry = self.nodes.entry(name).or_insert(Observed {
            probe: now,
            heartbeat,
            renewed,
        });
        if entry.heartbeat != heartbeat || entry.renewed != renewed {
            entry.probe = now;
            entry.heartbeat = heartbeat;
            entry.renewed = renewed;
        }
        entry.probe
    }

    /// Forget nodes that no longer exist.
    pub(crate) fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.nodes.retain(|name, _| exists(name));
    }

    /// Give every node a fresh grace period (upstream does so when the cluster leaves full
    /// disruption, since the silence was most likely the control plane's own).
    pub(crate) fn reset(&mut self, now: Instant) {
        for observed in self.nodes.values_mut() {
            observed.probe = now;
        }
    }
}

pub(crate) fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// "True", "False" or "Unknown" (a node without a Ready condition is Unknown).
pub(crate) fn ready_status(node: &Node) -> &str {
    ready_condition(node).map_or("Unknown", |c| c.status.as_str())
}

/// The node with Ready and the pressure conditions set to Unknown, or None when they already
/// are.
pub(crate) fn mark_unknown(node: &Node, now: Timestamp) -> Option<Node> {
    let mut updated = node.clone();
    let conditions = updated
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new);
    let mut changed = false;
    for type_ in std::iter::once("Ready").chain(OTHER_CONDITIONS) {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(condition) if condition.status == "Unknown" => {}
            Some(condition) => {
                condition.status = "Unknown".into();
                condition.reason = Some("NodeStatusUnknown".into());
                condition.message = Some("Kubelet stopped posting node status.".into());
                condition.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(updated)
}
