//! The scheduler's own small view of pods and nodes: only what scheduling reads, parsed once
//! when an object arrives so that a scheduling cycle does no parsing or cloning.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::labels::{Labels, NodeSelectorTerm, Selector};

/// Upstream's requests assumed for scoring when a container sets none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub pods: i64,
    /// Extended resources (nvidia.com/gpu, hugepages-2Mi, ...).
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.pods -= other.pods;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= v;
        }
    }

    /// Per-resource maximum, as init containers combine with the main containers.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*v);
        }
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub fn parse(text: &str) -> Option<TaintEffect> {
        Some(match text {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    /// "Exists" or "Equal" (the default).
    pub exists: bool,
    pub value: String,
    /// None tolerates every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        if self.exists {
            return true;
        }
        !self.key.is_empty() && self.value == taint.value
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
        self.port == other.port
            && self.protocol == other.protocol
            && (wildcard(&self.ip) || wildcard(&other.ip) || self.ip == other.ip)
    }
}

/// A pod (anti-)affinity term with its namespaces resolved against the owning pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    /// Explicit namespaces; the owning pod's namespace when neither this nor a selector is set.
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<Selector>,
    /// None (a nil selector) matches no pod.
    pub selector: Option<Selector>,
    pub topology_key: String,
}

impl AffinityTerm {
    /// Whether a pod in `namespace` (whose namespace carries `namespace_labels`) with `labels`
    /// is selected by this term.
    pub fn matches(&self, namespace: &str, labels: &Labels, namespace_labels: &Labels) -> bool {
        let in_namespace = self.namespaces.iter().any(|n| n == namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(namespace_labels));
        in_namespace && self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedAffinityTerm {
    pub weight: i64,
    pub term: AffinityTerm,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinity {
    pub required: Vec<AffinityTerm>,
    pub preferred: Vec<WeightedAffinityTerm>,
    pub anti_required: Vec<AffinityTerm>,
    pub anti_preferred: Vec<WeightedAffinityTerm>,
}

impl PodAffinity {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.preferred.is_empty()
            && self.anti_required.is_empty()
            && self.anti_preferred.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    /// DoNotSchedule (a filter) rather than ScheduleAnyway (a score).
    pub hard: bool,
    /// With matchLabelKeys already folded in; None matches no pod.
    pub selector: Option<Selector>,
    pub min_domains: Option<i64>,
    /// nodeAffinityPolicy Honor (the default).
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy Honor (default Ignore).
    pub honor_node_taints: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub kind: String,
    pub api_version: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub labels: Labels,
    pub node_name: String,
    pub scheduler_name: String,
    pub priority: i32,
    pub preempt_never: bool,
    /// Effective requests (init containers and overhead included), with `pods` = 1.
    pub requests: Resources,
    /// cpu and memory requests with upstream's defaults for containers that set none (scoring).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub node_selector: Labels,
    /// None: no required node affinity.
    pub required_node_affinity: Option<Vec<NodeSelectorTerm>>,
    pub preferred_node_affinity: Vec<(i64, NodeSelectorTerm)>,
    pub tolerations: Vec<Toleration>,
    pub affinity: PodAffinity,
    pub spread: Vec<SpreadConstraint>,
    pub gated: bool,
    /// The pod already carries PodScheduled=False reason SchedulingGated.
    pub gated_condition: bool,
    pub terminating: bool,
    pub terminal: bool,
    pub nominated_node_name: String,
    pub controller: Option<Owner>,
    /// Seconds since the epoch the pod started (or was created); preemption tie-breaks.
    pub start_time: i64,
}

impl PodInfo {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn has_affinity(&self) -> bool {
        !self.affinity.is_empty()
    }

    /// Whether an update changed anything a filter or score reads (status-only updates, such
    /// as our own PodScheduled condition, do not make a pod worth retrying).
    pub fn scheduling_changed(&self, other: &PodInfo) -> bool {
        self.labels != other.labels
            || self.requests != other.requests
            || self.priority != other.priority
            || self.host_ports != other.host_ports
            || self.node_selector != other.node_selector
            || self.required_node_affinity != other.required_node_affinity
            || self.preferred_node_affinity != other.preferred_node_affinity
            || self.tolerations != other.tolerations
            || self.affinity != other.affinity
            || self.spread != other.spread
            || self.gated != other.gated
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        !self.affinity.anti_required.is_empty()
    }
}

pub type Pod = Arc<PodInfo>;

/// A node as scheduling sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSpec {
    pub name: String,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
}
