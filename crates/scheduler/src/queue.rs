//! The scheduling queue, as upstream's: an active queue ordered by priority then arrival, a
//! backoff queue (1s doubling to 10s per failed attempt), and unschedulable pods that wait for
//! a cluster event that could help them (or at most five minutes). Gated pods wait apart.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::model::Pod;
use crate::plugins::{Plugin, PluginSet};

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_UNSCHEDULABLE_STAY: Duration = Duration::from_secs(300);

/// A change in the cluster, and which plugins' verdicts it can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdded,
    NodeUpdated,
    AssignedPodAdded,
    AssignedPodDeleted,
    NamespaceChanged,
}

impl ClusterEvent {
    fn interested(self) -> PluginSet {
        use Plugin::*;
        let set = |plugins: &[Plugin]| plugins.iter().fold(0, |acc, p| acc | *p as PluginSet);
        match self {
            ClusterEvent::NodeAdded | ClusterEvent::NodeUpdated => crate::plugins::ALL_PLUGINS,
            ClusterEvent::AssignedPodAdded => set(&[InterPodAffinity, PodTopologySpread]),
            ClusterEvent::AssignedPodDeleted => set(&[
                NodeResourcesFit,
                NodePorts,
                InterPodAffinity,
                PodTopologySpread,
            ]),
            ClusterEvent::NamespaceChanged => set(&[InterPodAffinity]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

struct Entry {
    pod: Pod,
    place: Place,
    /// Bumped on every move; heap entries with an older generation are stale.
    generation: u64,
    attempts: u32,
    /// When the pod last entered the queue or failed (the backoff base).
    timestamp: Instant,
    unschedulable_plugins: PluginSet,
    cycle: u64,
}

impl Entry {
    fn backoff_expiry(&self) -> Instant {
        let mut backoff = INITIAL_BACKOFF;
        for _ in 1..self.attempts {
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.timestamp + backoff
    }
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    seq: u64,
    generation: u64,
    uid: String,
}

impl Ord for ActiveKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A pod handed out for one scheduling cycle.
pub struct Popped {
    pub pod: Pod,
    pub cycle: u64,
    pub attempts: u32,
}

#[derive(Default)]
pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveKey>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    /// Uids in the Unschedulable place, so cluster events touch only them.
    parked: HashSet<String>,
    seq: u64,
    cycle: u64,
    /// The cycle at the last move request: pods failing in an earlier-started cycle missed it.
    move_request_cycle: u64,
}

impl SchedulingQueue {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push_active(&mut self, uid: &str) {
        let seq = self.next_seq();
        self.parked.remove(uid);
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        entry.place = Place::Active;
        entry.generation = seq;
        self.active.push(ActiveKey {
            priority: entry.pod.priority,
            seq,
            generation: seq,
            uid: uid.to_string(),
        });
    }

    fn push_backoff(&mut self, uid: &str) {
        let seq = self.next_seq();
        self.parked.remove(uid);
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        entry.place = Place::Backoff;
        entry.generation = seq;
        self.backoff
            .push(Reverse((entry.backoff_expiry(), seq, uid.to_string())));
    }

    /// A new pending pod (or one seen again after a relist).
    pub fn add(&mut self, pod: Pod) {
        if self.entries.contains_key(&pod.uid) {
            self.update(pod);
            return;
        }
        let uid = pod.uid.clone();
        let gated = pod.gated;
        self.entries.insert(
            uid.clone(),
            Entry {
                pod,
                place: Place::Gated,
                generation: 0,
                attempts: 0,
                timestamp: Instant::now(),
                unschedulable_plugins: 0,
                cycle: 0,
            },
        );
        if !gated {
            self.push_active(&uid);
        }
    }

    /// A pending pod changed: ungated pods become active, unschedulable ones get another try.
    pub fn update(&mut self, pod: Pod) {
        let Some(entry) = self.entries.get_mut(&pod.uid) else {
            self.add(pod);
            return;
        };
        let uid = pod.uid.clone();
        let gated = pod.gated;
        let changed = entry.pod.scheduling_changed(&pod);
        entry.pod = pod;
        match entry.place {
            Place::Gated if !gated => self.push_active(&uid),
            Place::Unschedulable if changed && !gated => self.requeue(&uid, Instant::now()),
            Place::Active | Place::Backoff | Place::Unschedulable if gated => {
                entry.place = Place::Gated;
                entry.generation = 0;
                self.parked.remove(&uid);
            }
            _ => {}
        }
    }

    pub fn delete(&mut self, uid: &str) {
        self.entries.remove(uid);
        self.parked.remove(uid);
    }

    /// Every queued uid, for pruning after a relist.
    pub fn uids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.entries.contains_key(uid)
    }

    pub fn is_gated(&self, uid: &str) -> bool {
        self.entries
            .get(uid)
            .is_some_and(|e| e.place == Place::Gated)
    }

    /// Pods waiting in any state (not in flight).
    pub fn pending_len(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.place != Place::InFlight)
            .count()
    }

    pub fn pop(&mut self) -> Option<Popped> {
        while let Some(key) = self.active.pop() {
            let Some(entry) = self.entries.get_mut(&key.uid) else {
                continue;
            };
            if entry.place != Place::Active || entry.generation != key.generation {
                continue;
            }
            self.cycle += 1;
            entry.place = Place::InFlight;
            entry.attempts += 1;
            entry.cycle = self.cycle;
            return Some(Popped {
                pod: entry.pod.clone(),
                cycle: self.cycle,
                attempts: entry.attempts,
            });
        }
        None
    }

    /// The pod was bound (or assumed and handed to the binder): it leaves the queue.
    pub fn done(&mut self, uid: &str) {
        self.delete(uid);
    }

    /// No node fit. Pods whose cycle overlapped a move request go to backoff, others wait for
    /// an event that interests one of `plugins`.
    pub fn unschedulable(&mut self, uid: &str, plugins: PluginSet, now: Instant) {
        let move_cycle = self.move_request_cycle;
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        if entry.place != Place::InFlight {
            return;
        }
        entry.timestamp = now;
        entry.unschedulable_plugins = plugins;
        if move_cycle >= entry.cycle {
            self.push_backoff(uid);
        } else {
            entry.place = Place::Unschedulable;
            entry.generation = 0;
            self.parked.insert(uid.to_string());
        }
    }

    /// A scheduling or binding error: retry after backoff.
    pub fn error(&mut self, pod: Pod, now: Instant) {
        let uid = pod.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(entry) => {
                entry.pod = pod;
                entry.timestamp = now;
            }
            None => {
                self.add(pod);
                if let Some(entry) = self.entries.get_mut(&uid) {
                    entry.attempts = 1;
                    entry.timestamp = now;
                }
            }
        }
        if !self.is_gated(&uid) {
            self.push_backoff(&uid);
        }
    }

    fn requeue(&mut self, uid: &str, now: Instant) {
        let Some(entry) = self.entries.get(uid) else {
            return;
        };
        if entry.backoff_expiry() > now {
            self.push_backoff(uid);
        } else {
            self.push_active(uid);
        }
    }

    /// A cluster event: retry unschedulable pods that a plugin interested in it rejected.
    pub fn on_event(&mut self, event: ClusterEvent, now: Instant) {
        self.move_request_cycle = self.cycle;
        let interested = event.interested();
        let movable: Vec<String> = self
            .parked
            .iter()
            .filter(|uid| {
                self.entries.get(*uid).is_some_and(|e| {
                    e.unschedulable_plugins == 0 || e.unschedulable_plugins & interested != 0
                })
            })
            .cloned()
            .collect();
        for uid in movable {
            self.requeue(&uid, now);
        }
    }

    /// Move pods whose backoff ended to the active queue; returns when the next backoff ends.
    pub fn flush_backoff(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, generation, uid))) = self.backoff.peek().cloned() {
            let live = self
                .entries
                .get(&uid)
                .is_some_and(|e| e.place == Place::Backoff && e.generation == generation);
            if !live {
                self.backoff.pop();
                continue;
            }
            if at > now {
                break;
            }
            self.backoff.pop();
            self.push_active(&uid);
        }
        self.backoff.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Give pods unschedulable for longer than five minutes another try.
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .parked
            .iter()
            .filter(|uid| {
                self.entries
                    .get(*uid)
                    .is_some_and(|e| now.duration_since(e.timestamp) >= MAX_UNSCHEDULABLE_STAY)
            })
            .cloned()
            .collect();
        for uid in stale {
            self.requeue(&uid, now);
        }
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
