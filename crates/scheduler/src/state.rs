//! Everything the scheduler knows, updated by the informers and read by the scheduling loop;
//! the decisions it takes for one pod, as values the API glue then carries out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::cache::{Cache, NodeChange};
use crate::framework::{self, Nominated, Rotation, TieBreaker};
use crate::model::{NodeSpec, Pod, PodInfo};
use crate::preemption::{self, Outcome};
use crate::queue::{ClusterEvent, SchedulingQueue};

pub struct State {
    /// Pods asking for this scheduler name are ours.
    pub scheduler_name: String,
    pub cache: Cache,
    pub queue: SchedulingQueue,
    pub nominated: Nominated,
    nominated_node: HashMap<String, String>,
    /// Gated pods whose PodScheduled condition must say SchedulingGated.
    pub gated_to_report: Vec<Pod>,
    rotation: Rotation,
    ties: TieBreaker,
}

/// What a scheduling cycle decided.
#[derive(Debug)]
pub enum Decision {
    /// Assumed on `node`; bind it.
    Bind { pod: Pod, node: String },
    Unschedulable {
        pod: Pod,
        message: String,
        /// Set when preemption chose a node: evict `victims`, nominate the pod there.
        preemption: Option<Preemption>,
    },
}

#[derive(Debug)]
pub struct Preemption {
    pub node: String,
    pub victims: Vec<Pod>,
    pub denominated: Vec<Pod>,
}

impl Default for State {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        State {
            scheduler_name: crate::SCHEDULER_NAME.into(),
            cache: Cache::default(),
            queue: SchedulingQueue::default(),
            nominated: Nominated::new(),
            nominated_node: HashMap::new(),
            gated_to_report: Vec::new(),
            rotation: Rotation::default(),
            ties: TieBreaker::new(seed),
        }
    }
}

impl State {
    fn set_nominated(&mut self, pod: &Pod, node: &str) {
        self.clear_nominated(&pod.uid);
        if node.is_empty() {
            return;
        }
        self.nominated_node
            .insert(pod.uid.clone(), node.to_string());
        self.nominated
            .entry(node.to_string())
            .or_default()
            .push(pod.clone());
    }

    fn clear_nominated(&mut self, uid: &str) {
        if let Some(node) = self.nominated_node.remove(uid)
            && let Some(list) = self.nominated.get_mut(&node)
        {
            list.retain(|p| p.uid != uid);
            if list.is_empty() {
                self.nominated.remove(&node);
            }
        }
    }

    /// A pod object arrived (added or updated).
    pub fn on_pod(&mut self, pod: PodInfo, now: Instant) {
        if pod.terminal {
            self.on_pod_deleted(&pod.uid, now);
            return;
        }
        let pod = Arc::new(pod);
        if !pod.node_name.is_empty() {
            self.queue.delete(&pod.uid);
            self.clear_nominated(&pod.uid);
            let known = self.cache.contains_pod(&pod.uid);
            self.cache.upsert_bound_pod(pod);
            if !known {
                self.queue.on_event(ClusterEvent::AssignedPodAdded, now);
            }
            return;
        }
        if pod.scheduler_name != self.scheduler_name || self.cache.is_assumed(&pod.uid) {
            return;
        }
        if pod.terminating {
            self.queue.delete(&pod.uid);
            self.clear_nominated(&pod.uid);
            return;
        }
        if pod.gated && !pod.gated_condition {
            self.gated_to_report.push(pod.clone());
        }
        let nominated = pod.nominated_node_name.clone();
        self.set_nominated(&pod, &nominated);
        self.queue.add(pod);
    }

    pub fn on_pod_deleted(&mut self, uid: &str, now: Instant) {
        self.queue.delete(uid);
        self.clear_nominated(uid);
        if self.cache.remove_pod(uid).is_some() {
            self.queue.on_event(ClusterEvent::AssignedPodDeleted, now);
        }
    }

    pub fn on_node(&mut self, node: NodeSpec, now: Instant) {
        match self.cache.upsert_node(node) {
            NodeChange::Added => self.queue.on_event(ClusterEvent::NodeAdded, now),
            NodeChange::Updated => self.queue.on_event(ClusterEvent::NodeUpdated, now),
            NodeChange::Unchanged => {}
        }
    }

    pub fn on_node_deleted(&mut self, name: &str) {
        self.cache.remove_node(name);
    }

    pub fn on_namespace(&mut self, name: String, labels: crate::labels::Labels, now: Instant) {
        if self.cache.namespaces.get(&name) != Some(&labels) {
            self.cache.namespaces.insert(name, labels);
            self.queue.on_event(ClusterEvent::NamespaceChanged, now);
        }
    }

    /// Run one scheduling cycle for the next pod, if any.
    pub fn schedule_next(&mut self, now: Instant) -> Option<Decision> {
        let popped = self.queue.pop()?;
        let pod = popped.pod;
        match framework::schedule(
            &pod,
            &self.cache,
            &self.nominated,
            &mut self.rotation,
            &mut self.ties,
        ) {
            Ok(index) => {
                let node = self.cache.nodes[index].name().to_string();
                let mut placed = (*pod).clone();
                placed.node_name = node.clone();
                placed.nominated_node_name.clear();
                self.cache.assume(Arc::new(placed));
                self.queue.done(&pod.uid);
                self.clear_nominated(&pod.uid);
                Some(Decision::Bind { pod, node })
            }
            Err(diagnosis) => {
                let plugins = diagnosis.plugins();
                let reasons = framework::diagnosis_reasons(&diagnosis);
                let (post, preemption) = if diagnosis.num_nodes == 0 {
                    (None, None)
                } else {
                    match preemption::preempt(&pod, &diagnosis, &self.cache, &self.nominated) {
                        Outcome::Failed(message) => (Some(format!("preemption: {message}")), None),
                        Outcome::Preempt {
                            node,
                            victims,
                            denominated,
                        } => {
                            let mut nominee = (*pod).clone();
                            nominee.nominated_node_name = node.clone();
                            let nominee = Arc::new(nominee);
                            self.set_nominated(&nominee, &node);
                            for other in &denominated {
                                self.clear_nominated(&other.uid);
                            }
                            self.queue.update(nominee);
                            (
                                None,
                                Some(Preemption {
                                    node,
                                    victims,
                                    denominated,
                                }),
                            )
                        }
                    }
                };
                let message = framework::fit_error(diagnosis.num_nodes, &reasons, post.as_deref());
                self.queue.unschedulable(&pod.uid, plugins, now);
                Some(Decision::Unschedulable {
                    pod,
                    message,
                    preemption,
                })
            }
        }
    }

    /// The binding failed: free the node and retry after backoff (unless the pod is gone).
    pub fn binding_failed(&mut self, pod: Pod, pod_gone: bool, now: Instant) {
        self.cache.forget(&pod.uid);
        if !pod_gone {
            self.queue.error(pod, now);
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
