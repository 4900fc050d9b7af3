//! The taints the node lifecycle controller keeps on nodes, and the per-zone rate limits on
//! adding NoExecute ones (upstream's zone states and eviction QPS).

use std::collections::HashMap;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::Options;

pub(crate) const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(crate) const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Condition (type, status) -> NoSchedule taint key, as upstream's nodeConditionToTaintKeyStatusMap.
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

fn is_managed_no_schedule(taint: &Taint) -> bool {
    taint.effect == "NoSchedule"
        && (taint.key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == taint.key))
}

fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The status of the node's condition of this type; a missing condition calls for no taint.
fn condition_status<'a>(node: &'a Node, type_: &str) -> Option<&'a str> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// The node's taints with the condition-derived NoSchedule taints made current, or None when
/// they already are.
pub(crate) fn with_no_schedule_taints(node: &Node) -> Option<Vec<Taint>> {
    let mut wanted: Vec<&str> = CONDITION_TAINTS
        .iter()
        .filter(|(type_, status, _)| condition_status(node, type_) == Some(*status))
        .map(|(_, _, key)| *key)
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        wanted.push(UNSCHEDULABLE);
    }
    let current = taints(node);
    let have: Vec<&str> = current
        .iter()
        .filter(|t| is_managed_no_schedule(t))
        .map(|t| t.key.as_str())
        .collect();
    if wanted.iter().all(|k| have.contains(k)) && have.iter().all(|k| wanted.contains(k)) {
        return None;
    }
    let mut result: Vec<Taint> = current
        .iter()
        .filter(|t| !is_managed_no_schedule(t) || wanted.contains(&t.key.as_str()))
        .cloned()
        .collect();
    for key in wanted {
        if !have.contains(&key) {
            result.push(Taint {
                key: key.into(),
                effect: "NoSchedule".into(),
                value: None,
                time_added: None,
            });
        }
    }
    Some(result)
}

/// The NoExecute taint the node's Ready status calls for.
pub(crate) fn wanted_no_execute(node: &Node) -> Option<&'static str> {
    match condition_status(node, "Ready") {
        Some("False") => Some(NOT_READY),
        Some("Unknown") => Some(UNREACHABLE),
        _ => None,
    }
}

fn is_managed_no_execute(taint: &Taint) -> bool {
    taint.effect == "NoExecute" && (taint.key == NOT_READY || taint.key == UNREACHABLE)
}

/// Whether the node carries exactly the NoExecute taint `wanted` of the two this controller
/// manages.
pub(crate) fn has_no_execute(node: &Node, wanted: Option<&str>) -> bool {
    let have: Vec<&str> = taints(node)
        .iter()
        .filter(|t| is_managed_no_execute(t))
        .map(|t| t.key.as_str())
        .collect();
    have == wanted.into_iter().collect::<Vec<_>>()
}

/// The node's taints with `wanted` as its only managed NoExecute taint.
pub(crate) fn with_no_execute(node: &Node, wanted: Option<&str>, now: Timestamp) -> Vec<Taint> {
    let mut result: Vec<Taint> = taints(node)
        .iter()
        .filter(|t| !is_managed_no_execute(t) || Some(t.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted
        && !result
            .iter()
            .any(|t| t.key == key && t.effect == "NoExecute")
    {
        result.push(Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(now)),
        });
    }
    result
}

pub(crate) fn zone_of(node: &Node) -> String {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let get = |new: &str, old: &str| {
        labels
            .get(new)
            .or_else(|| labels.get(old))
            .cloned()
            .unwrap_or_default()
    };
    let region = get(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    let zone = get(
        "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/zone",
    );
    format!("{region}:\0:{zone}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// Upstream's ComputeZoneState from the zone's (ready, not ready) node counts.
pub(crate) fn zone_state(ready: usize, not_ready: usize, options: &Options) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2
        && not_ready as f64 / (ready + not_ready) as f64 >= options.unhealthy_zone_threshold
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// A token bucket with a burst of one per zone: how fast NoExecute taints may be added.
#[derive(Default)]
pub(crate) struct ZoneLimiters {
    buckets: HashMap<String, (f64, Instant)>,
}

impl ZoneLimiters {
    pub(crate) fn try_take(&mut self, zone: &str, rate: f64, now: Instant) -> bool {
        let (tokens, last) = self.buckets.entry(zone.to_string()).or_insert((1.0, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(1.0);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(crate) fn zone_rate(state: ZoneState, zone_size: usize, options: &Options) -> f64 {
    match state {
        ZoneState::Normal | ZoneState::FullDisruption => options.node_eviction_rate,
        ZoneState::PartialDisruption if zone_size > options.large_cluster_size_threshold => {
            options.secondary_node_eviction_rate
        }
        ZoneState::PartialDisruption => 0.0,
    }
}
