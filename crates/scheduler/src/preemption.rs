//! DefaultPreemption (PostFilter): find a node where evicting lower-priority pods lets the
//! pod fit, with as few and as unimportant victims as possible.

use crate::cache::{Cache, NodeInfo};
use crate::framework::{self, CycleState, Diagnosis, Nominated, reserved_for, run_filters};
use crate::model::{Pod, PodInfo};

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const MIN_CANDIDATES: usize = 100;
const CANDIDATE_PERCENTAGE: usize = 10;

#[derive(Debug)]
pub enum Outcome {
    /// The PostFilter message (after "preemption: ").
    Failed(String),
    Preempt {
        node: String,
        victims: Vec<Pod>,
        /// Lower-priority pods nominated to the same node lose their nomination.
        denominated: Vec<Pod>,
    },
}

struct Candidate {
    node: usize,
    victims: Vec<Pod>,
}

fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.start_time.cmp(&b.start_time))
}

fn adjust(
    state: &mut CycleState,
    pod: &PodInfo,
    victim: &PodInfo,
    node: &NodeInfo,
    cache: &Cache,
    delta: i64,
) {
    if let Some(s) = state.interpod.as_mut() {
        s.update(pod, victim, node, cache, delta);
    }
    if let Some(s) = state.spread.as_mut() {
        s.update(pod, victim, node, delta);
    }
}

/// The fewest lower-priority pods to evict from `node` for `pod` to fit, most important kept.
fn victims_on(
    pod: &PodInfo,
    node: &NodeInfo,
    base: &CycleState,
    cache: &Cache,
    nominated: &Nominated,
) -> Option<Vec<Pod>> {
    let mut lower: Vec<Pod> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if lower.is_empty() {
        return None;
    }
    lower.sort_by(|a, b| more_important(a, b));
    let mut state = base.clone();
    let mut trial = node.clone();
    for victim in &lower {
        trial.remove_pod(&victim.uid);
        adjust(&mut state, pod, victim, &trial, cache, -1);
    }
    let reserved = reserved_for(pod, node.name(), nominated);
    let fits = |state: &CycleState, trial: &NodeInfo| {
        run_filters(state, pod, trial, cache, reserved.as_ref()).is_ok()
    };
    if !fits(&state, &trial) {
        return None;
    }
    let mut victims = Vec::new();
    for candidate in lower {
        trial.add_pod(candidate.clone());
        adjust(&mut state, pod, &candidate, &trial, cache, 1);
        if !fits(&state, &trial) {
            trial.remove_pod(&candidate.uid);
            adjust(&mut state, pod, &candidate, &trial, cache, -1);
            victims.push(candidate);
        }
    }
    Some(victims)
}

/// Upstream's order: lowest highest-victim priority, lowest priority sum, fewest victims,
/// latest start among the most important victims, then the first found.
fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
    let key = |c: &Candidate| {
        let highest = c
            .victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN);
        let sum: i64 = c
            .victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum();
        let earliest_of_highest = c
            .victims
            .iter()
            .filter(|v| v.priority == highest)
            .map(|v| v.start_time)
            .min()
            .unwrap_or(i64::MAX);
        (
            highest,
            sum,
            c.victims.len(),
            std::cmp::Reverse(earliest_of_highest),
        )
    };
    candidates.into_iter().min_by_key(key)
}

pub fn preempt(
    pod: &PodInfo,
    diagnosis: &Diagnosis,
    cache: &Cache,
    nominated: &Nominated,
) -> Outcome {
    if pod.preempt_never {
        return Outcome::Failed("not eligible due to preemptionPolicy=Never".into());
    }
    if let Some(node) = cache.node(&pod.nominated_node_name)
        && node
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && p.terminating)
    {
        return Outcome::Failed(
            "not eligible due to a terminating pod on the nominated node".into(),
        );
    }
    let base = framework::prefilter(pod, cache);
    let wanted = (cache.nodes.len() * CANDIDATE_PERCENTAGE / 100).max(MIN_CANDIDATES);
    let mut reasons = Vec::new();
    let mut candidates = Vec::new();
    for (index, rejection) in &diagnosis.rejections {
        if rejection.unresolvable {
            reasons.push(NOT_HELPFUL.to_string());
            continue;
        }
        if candidates.len() >= wanted {
            continue;
        }
        match victims_on(pod, &cache.nodes[*index], &base, cache, nominated) {
            Some(victims) => candidates.push(Candidate {
                node: *index,
                victims,
            }),
            None => reasons.push(NO_VICTIMS.to_string()),
        }
    }
    match pick(candidates) {
        None => Outcome::Failed(framework::fit_error(diagnosis.num_nodes, &reasons, None)),
        Some(best) => {
            let node = cache.nodes[best.node].name().to_string();
            let denominated = nominated
                .get(&node)
                .into_iter()
                .flatten()
                .filter(|p| p.priority < pod.priority && p.uid != pod.uid)
                .cloned()
                .collect();
            Outcome::Preempt {
                node,
                victims: best.victims,
                denominated,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Rotation, TieBreaker, schedule};
    use crate::model::{NodeSpec, Resources};
    use std::sync::Arc;

    fn pod(uid: &str, node: &str, cpu: i64, priority: i32) -> Pod {
        Arc::new(PodInfo {
            uid: uid.into(),
            namespace: "default".into(),
            node_name: node.into(),
            priority,
            requests: Resources {
                milli_cpu: cpu,
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for name in ["n1", "n2"] {
            cache.upsert_node(NodeSpec {
                name: name.into(),
                allocatable: Resources {
                    milli_cpu: 1000,
                    pods: 10,
                    ..Default::default()
                },
                ..Default::default()
            });
        }
        cache.upsert_bound_pod(pod("n1-low", "n1", 500, 10));
        cache.upsert_bound_pod(pod("n1-mid", "n1", 500, 50));
        cache.upsert_bound_pod(pod("n2-mid", "n2", 600, 50));
        cache.upsert_bound_pod(pod("n2-mid2", "n2", 400, 50));
        cache
    }

    fn diagnose(cache: &Cache, p: &PodInfo) -> Diagnosis {
        schedule(
            p,
            cache,
            &Nominated::new(),
            &mut Rotation::default(),
            &mut TieBreaker::new(1),
        )
        .unwrap_err()
    }

    #[test]
    fn evicts_the_least_important_pods_needed() {
        let cache = cluster();
        let preemptor = pod("hi", "", 500, 100);
        let diagnosis = diagnose(&cache, &preemptor);
        match preempt(&preemptor, &diagnosis, &cache, &Nominated::new()) {
            Outcome::Preempt { node, victims, .. } => {
                assert_eq!(node, "n1");
                let names: Vec<&str> = victims.iter().map(|v| v.uid.as_str()).collect();
                assert_eq!(names, ["n1-low"]);
            }
            other => panic!("expected preemption, got {other:?}"),
        }
    }

    #[test]
    fn reports_why_preemption_cannot_help() {
        let cache = cluster();
        let too_big = pod("huge", "", 2000, 100);
        let diagnosis = diagnose(&cache, &too_big);
        match preempt(&too_big, &diagnosis, &cache, &Nominated::new()) {
            Outcome::Failed(message) => assert_eq!(
                message,
                "0/2 nodes are available: 2 No preemption victims found for incoming pod."
            ),
            other => panic!("expected failure, got {other:?}"),
        }
        let mut never = (*pod("never", "", 500, 100)).clone();
        never.preempt_never = true;
        let diagnosis = diagnose(&cache, &never);
        assert!(matches!(
            preempt(&never, &diagnosis, &cache, &Nominated::new()),
            Outcome::Failed(m) if m == "not eligible due to preemptionPolicy=Never"
        ));
    }
}
