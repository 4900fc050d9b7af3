//! The scheduler's cache: every node with the pods placed on it (bound or assumed) and running
//! totals, so a scheduling cycle reads per-node aggregates instead of walking all pods.

use std::collections::HashMap;
use std::sync::Arc;

use crate::labels::{Labels, Operator, Selector};
use crate::model::{HostPort, NodeSpec, Pod, Resources};

#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub spec: NodeSpec,
    pub pods: Vec<Pod>,
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub ports: Vec<HostPort>,
    /// Pods with any (anti-)affinity: the only ones inter-pod scoring must visit.
    pub affinity_pods: Vec<Pod>,
    /// Pods with required anti-affinity: the only ones that can forbid the incoming pod.
    pub anti_affinity_pods: Vec<Pod>,
    /// Pods by each of their labels, so that a selector with an equality requirement visits
    /// only the pods that can match it instead of every pod on the node.
    by_label: HashMap<String, HashMap<String, Vec<Pod>>>,
}

impl NodeInfo {
    pub fn new(spec: NodeSpec) -> NodeInfo {
        NodeInfo {
            spec,
            ..Default::default()
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.spec.labels.get(key).map(String::as_str)
    }

    pub fn add_pod(&mut self, pod: Pod) {
        self.requested.add(&pod.requests);
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.affinity_pods.push(pod.clone());
        }
        if pod.has_required_anti_affinity() {
            self.anti_affinity_pods.push(pod.clone());
        }
        for (key, value) in &pod.labels {
            self.by_label
                .entry(key.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// The pods `selector` can select: a superset, narrowed through the index to those
    /// carrying one of its single-valued `In` requirements when it has one. A nil selector
    /// selects nothing.
    pub fn candidates(&self, selector: Option<&Selector>) -> &[Pod] {
        let Some(selector) = selector else {
            return &[];
        };
        let equality = selector
            .requirements
            .iter()
            .find(|r| r.operator == Operator::In && r.values.len() == 1);
        match equality {
            Some(r) => self
                .by_label
                .get(r.key.as_str())
                .and_then(|values| values.get(r.values[0].as_str()))
                .map_or(&[], Vec::as_slice),
            None => &self.pods,
        }
    }

    /// Remove by uid; returns the pod if it was here.
    pub fn remove_pod(&mut self, uid: &str) -> Option<Pod> {
        let at = self.pods.iter().position(|p| p.uid == uid)?;
        let pod = self.pods.swap_remove(at);
        self.requested.sub(&pod.requests);
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for port in &pod.host_ports {
            if let Some(i) = self.ports.iter().position(|p| p == port) {
                self.ports.swap_remove(i);
            }
        }
        self.affinity_pods.retain(|p| p.uid != uid);
        self.anti_affinity_pods.retain(|p| p.uid != uid);
        for (key, value) in &pod.labels {
            let Some(values) = self.by_label.get_mut(key.as_str()) else {
                continue;
            };
            if let Some(pods) = values.get_mut(value.as_str()) {
                pods.retain(|p| p.uid != uid);
                if pods.is_empty() {
                    values.remove(value.as_str());
                }
            }
            if values.is_empty() {
                self.by_label.remove(key.as_str());
            }
        }
        Some(pod)
    }
}

/// What changed when a node object arrived, for requeueing unschedulable pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// Something scheduling reads changed (labels, taints, allocatable, unschedulable).
    Updated,
    Unchanged,
}

struct PodEntry {
    pod: Pod,
    assumed: bool,
}

/// Label selectors of a pod's controllers and services, for default topology spreading.
#[derive(Default)]
pub struct SpreadSources {
    /// namespace → (service name → selector map)
    pub services: HashMap<String, HashMap<String, Labels>>,
    /// (kind, namespace, name) → selector of a ReplicaSet, StatefulSet or ReplicationController.
    pub controllers: HashMap<(String, String, String), crate::labels::Selector>,
}

#[derive(Default)]
pub struct Cache {
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, PodEntry>,
    /// Pods bound to nodes not (yet) known, kept until the node appears.
    orphans: HashMap<String, Vec<Pod>>,
    pub namespaces: HashMap<String, Labels>,
    pub spread_sources: SpreadSources,
}

impl Cache {
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn namespace_labels(&self, namespace: &str) -> &Labels {
        static EMPTY: Labels = Labels::new();
        self.namespaces.get(namespace).unwrap_or(&EMPTY)
    }

    pub fn upsert_node(&mut self, spec: NodeSpec) -> NodeChange {
        if let Some(&i) = self.index.get(&spec.name) {
            if self.nodes[i].spec == spec {
                return NodeChange::Unchanged;
            }
            self.nodes[i].spec = spec;
            return NodeChange::Updated;
        }
        let mut info = NodeInfo::new(spec);
        for pod in self.orphans.remove(&info.spec.name).unwrap_or_default() {
            info.add_pod(pod);
        }
        self.index.insert(info.spec.name.clone(), self.nodes.len());
        self.nodes.push(info);
        NodeChange::Added
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(i) = self.index.remove(name) else {
            return;
        };
        let info = self.nodes.swap_remove(i);
        if i < self.nodes.len() {
            self.index.insert(self.nodes[i].spec.name.clone(), i);
        }
        if !info.pods.is_empty() {
            self.orphans.insert(name.to_string(), info.pods);
        }
    }

    fn place(&mut self, pod: Pod) {
        match self.index.get(&pod.node_name) {
            Some(&i) => self.nodes[i].add_pod(pod),
            None => self
                .orphans
                .entry(pod.node_name.clone())
                .or_default()
                .push(pod),
        }
    }

    fn unplace(&mut self, pod: &Pod) {
        match self.index.get(&pod.node_name) {
            Some(&i) => {
                self.nodes[i].remove_pod(&pod.uid);
            }
            None => {
                if let Some(list) = self.orphans.get_mut(&pod.node_name) {
                    list.retain(|p| p.uid != pod.uid);
                    if list.is_empty() {
                        self.orphans.remove(&pod.node_name);
                    }
                }
            }
        }
    }

    /// A pod the API says is bound (or an update of it). Confirms an assumed pod.
    pub fn upsert_bound_pod(&mut self, pod: Pod) {
        if let Some(old) = self.pods.remove(&pod.uid) {
            self.unplace(&old.pod);
        }
        self.place(pod.clone());
        self.pods.insert(
            pod.uid.clone(),
            PodEntry {
                pod,
                assumed: false,
            },
        );
    }

    /// Place a pod on the node chosen for it before the binding is confirmed, so the next
    /// cycle sees its resources as taken.
    pub fn assume(&mut self, pod: Pod) {
        self.place(pod.clone());
        self.pods
            .insert(pod.uid.clone(), PodEntry { pod, assumed: true });
    }

    /// Undo `assume` after a failed binding (a confirmed pod stays).
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|e| e.assumed)
            && let Some(entry) = self.pods.remove(uid)
        {
            self.unplace(&entry.pod);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|e| e.assumed)
    }

    pub fn contains_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    pub fn remove_pod(&mut self, uid: &str) -> Option<Pod> {
        let entry = self.pods.remove(uid)?;
        self.unplace(&entry.pod);
        Some(entry.pod)
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Replace every known node (after a relist): nodes not in `names` are dropped.
    pub fn retain_nodes(&mut self, keep: &std::collections::HashSet<String>) {
        let gone: Vec<String> = self
            .index
            .keys()
            .filter(|n| !keep.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            self.remove_node(&name);
        }
    }

    /// Uids of bound (not assumed) pods, for pruning after a relist.
    pub fn bound_uids(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|(_, e)| !e.assumed)
            .map(|(uid, _)| uid.clone())
            .collect()
    }
}

pub fn arc(pod: crate::model::PodInfo) -> Pod {
    Arc::new(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PodInfo;

    fn pod(uid: &str, node: &str, cpu: i64) -> Pod {
        let mut p = PodInfo {
            uid: uid.into(),
            node_name: node.into(),
            ..Default::default()
        };
        p.requests.milli_cpu = cpu;
        p.non_zero_milli_cpu = cpu;
        Arc::new(p)
    }

    fn node(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_label_index_narrows_equality_selectors_and_follows_removals() {
        use crate::labels::{Requirement, Selector};
        let labelled = |uid: &str, app: &str| {
            Arc::new(PodInfo {
                uid: uid.into(),
                node_name: "n1".into(),
                labels: [("app".to_string(), app.to_string())].into(),
                ..Default::default()
            })
        };
        let mut cache = Cache::default();
        cache.upsert_node(node("n1"));
        cache.upsert_bound_pod(labelled("a", "web"));
        cache.upsert_bound_pod(labelled("b", "db"));
        cache.upsert_bound_pod(labelled("c", "web"));
        let web = Selector::from_map(&[("app".to_string(), "web".to_string())].into());
        let uids = |cache: &Cache, s: Option<&Selector>| {
            let mut uids: Vec<String> = cache
                .node("n1")
                .unwrap()
                .candidates(s)
                .iter()
                .map(|p| p.uid.clone())
                .collect();
            uids.sort();
            uids
        };
        assert_eq!(uids(&cache, Some(&web)), ["a", "c"]);
        // No single-valued In requirement: every pod is a candidate.
        let exists = Selector {
            requirements: vec![Requirement {
                key: "app".into(),
                operator: Operator::Exists,
                values: vec![],
            }],
        };
        assert_eq!(uids(&cache, Some(&exists)), ["a", "b", "c"]);
        assert!(uids(&cache, None).is_empty());
        cache.remove_pod("a");
        cache.remove_pod("c");
        assert!(uids(&cache, Some(&web)).is_empty());
        assert!(
            cache
                .node("n1")
                .unwrap()
                .by_label
                .get("app")
                .is_some_and(|v| !v.contains_key("web"))
        );
    }

    #[test]
    fn aggregates_follow_assume_forget_and_confirm() {
        let mut cache = Cache::default();
        assert_eq!(cache.upsert_node(node("n1")), NodeChange::Added);
        assert_eq!(cache.upsert_node(node("n1")), NodeChange::Unchanged);
        cache.assume(pod("a", "n1", 100));
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 100);
        cache.forget("a");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 0);
        cache.assume(pod("a", "n1", 100));
        cache.upsert_bound_pod(pod("a", "n1", 100));
        assert!(!cache.is_assumed("a"));
        cache.forget("a");
        assert_eq!(cache.node("n1").unwrap().pods.len(), 1);
        cache.remove_pod("a");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn pods_on_unknown_nodes_wait_for_the_node() {
        let mut cache = Cache::default();
        cache.upsert_bound_pod(pod("a", "later", 300));
        cache.upsert_node(node("other"));
        cache.upsert_node(node("later"));
        assert_eq!(cache.node("later").unwrap().requested.milli_cpu, 300);
        cache.remove_node("other");
        assert_eq!(cache.node("later").unwrap().pods.len(), 1);
        assert!(cache.node("other").is_none());
    }
}
