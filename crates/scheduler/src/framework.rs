//! One scheduling cycle of the default profile: PreFilter, Filter over an adaptive share of
//! the nodes (starting where the last cycle stopped), Score with upstream's weights, and the
//! choice of a host; or the diagnosis that becomes a FailedScheduling message.

use std::collections::{BTreeMap, HashMap};

use crate::cache::{Cache, NodeInfo};
use crate::labels::Selector;
use crate::model::{Pod, PodInfo};
use crate::plugins::fit::Reserved;
use crate::plugins::{self, FilterResult, PluginSet, Rejection, basic, fit, interpod, spread};

const MIN_FEASIBLE_NODES: usize = 100;
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// Upstream's adaptive percentageOfNodesToScore: all nodes below 100, then 50% shrinking by
/// one point per 125 nodes down to 5%, never fewer than 100.
pub fn nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES {
        return all;
    }
    let percentage = 50usize
        .saturating_sub(all / 125)
        .max(MIN_FEASIBLE_PERCENTAGE);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES)
}

/// Nominated pods per node: preemptors waiting for their victims to go.
pub type Nominated = HashMap<String, Vec<Pod>>;

/// Space that nominated pods of at least `pod`'s priority hold on `node`.
pub fn reserved_for(pod: &PodInfo, node: &str, nominated: &Nominated) -> Option<Reserved> {
    if nominated.is_empty() {
        return None;
    }
    let list = nominated.get(node)?;
    let mut reserved = Reserved::default();
    for other in list
        .iter()
        .filter(|o| o.uid != pod.uid && o.priority >= pod.priority)
    {
        reserved.requests.add(&other.requests);
        reserved.pods += 1;
    }
    (reserved.pods > 0).then_some(reserved)
}

/// PreFilter results shared by every node's filters.
#[derive(Clone, Default)]
pub struct CycleState {
    pub interpod: Option<interpod::FilterState>,
    pub spread: Option<spread::FilterState>,
}

pub fn prefilter(pod: &PodInfo, cache: &Cache) -> CycleState {
    CycleState {
        interpod: interpod::prefilter(pod, cache),
        spread: spread::prefilter(pod, cache),
    }
}

/// The filters in the default profile's order; the first rejection wins.
pub fn run_filters(
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    cache: &Cache,
    reserved: Option<&Reserved>,
) -> FilterResult {
    basic::node_unschedulable(pod, node)?;
    basic::node_name(pod, node)?;
    basic::taint_toleration(pod, node)?;
    basic::node_affinity(pod, node)?;
    basic::node_ports(pod, node)?;
    fit::fit(pod, node, reserved)?;
    spread::filter(state.spread.as_ref(), pod, node)?;
    interpod::filter(state.interpod.as_ref(), pod, node, cache)
}

/// Why no node fits: per rejected node (by index into `cache.nodes`), and how many nodes
/// there were.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub num_nodes: usize,
    pub rejections: Vec<(usize, Rejection)>,
}

impl Diagnosis {
    pub fn plugins(&self) -> PluginSet {
        self.rejections
            .iter()
            .fold(0, |acc, (_, r)| acc | r.plugin as PluginSet)
    }
}

/// Upstream's FitError text: "0/N nodes are available: <count reason>, ... ." sorted, then
/// the PostFilter (preemption) message.
pub fn fit_error(num_nodes: usize, reasons: &[String], post_filter: Option<&str>) -> String {
    if num_nodes == 0 {
        return "no nodes available to schedule pods".into();
    }
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *histogram.entry(r).or_default() += 1;
    }
    let mut counted: Vec<String> = histogram.iter().map(|(r, n)| format!("{n} {r}")).collect();
    counted.sort();
    let mut message = format!("0/{num_nodes} nodes are available:");
    if !counted.is_empty() {
        message.push_str(&format!(" {}.", counted.join(", ")));
    }
    if let Some(post) = post_filter {
        message.push_str(&format!(" {post}."));
    }
    message
}

pub fn diagnosis_reasons(diagnosis: &Diagnosis) -> Vec<String> {
    diagnosis
        .rejections
        .iter()
        .flat_map(|(_, r)| r.reasons.iter().map(ToString::to_string))
        .collect()
}

/// The selector of a pod's services and controller, for the system default spreading.
pub fn default_spread_selector(pod: &PodInfo, cache: &Cache) -> Option<Selector> {
    let sources = &cache.spread_sources;
    let mut merged = BTreeMap::new();
    for selector in sources
        .services
        .get(&pod.namespace)
        .into_iter()
        .flat_map(|m| m.values())
    {
        if !selector.is_empty() && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            merged.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_map(&merged);
    if let Some(owner) = &pod.controller {
        let known = matches!(
            (owner.kind.as_str(), owner.api_version.as_str()),
            ("ReplicationController", "v1") | ("ReplicaSet" | "StatefulSet", "apps/v1")
        );
        let key = (
            owner.kind.clone(),
            pod.namespace.clone(),
            owner.name.clone(),
        );
        if known && let Some(owned) = sources.controllers.get(&key) {
            selector
                .requirements
                .extend(owned.requirements.iter().cloned());
        }
    }
    (!selector.is_empty()).then_some(selector)
}

/// Weighted sum of the default profile's scores per feasible node.
pub fn score_nodes(pod: &PodInfo, feasible: &[&NodeInfo], cache: &Cache) -> Vec<i64> {
    let mut total: Vec<i64> = feasible
        .iter()
        .map(|n| fit::least_allocated_score(pod, n) + fit::balanced_allocation_score(pod, n))
        .collect();
    let mut add = |scores: Vec<i64>, weight: i64| {
        for (t, s) in total.iter_mut().zip(scores) {
            *t += s * weight;
        }
    };
    let mut taints: Vec<i64> = feasible
        .iter()
        .map(|n| basic::taint_score(pod, n))
        .collect();
    plugins::normalize_by_max(&mut taints, true);
    add(taints, 3);
    if !pod.preferred_node_affinity.is_empty() {
        let mut affinity: Vec<i64> = feasible
            .iter()
            .map(|n| basic::node_affinity_score(pod, n))
            .collect();
        plugins::normalize_by_max(&mut affinity, false);
        add(affinity, 2);
    }
    if let Some(state) = interpod::prescore(pod, cache) {
        let mut scores: Vec<i64> = feasible
            .iter()
            .map(|n| interpod::score(&state, n))
            .collect();
        interpod::normalize(&mut scores);
        add(scores, 2);
    }
    let defaults = || {
        default_spread_selector(pod, cache)
            .map(spread::system_defaults)
            .unwrap_or_default()
    };
    if let Some(state) = spread::prescore(pod, feasible, cache, defaults) {
        let raw: Vec<Option<i64>> = feasible
            .iter()
            .map(|n| spread::score(&state, pod, n))
            .collect();
        add(spread::normalize(&raw), 2);
    }
    total
}

/// A small deterministic generator for breaking score ties, as upstream picks at random.
pub struct TieBreaker(u64);

impl TieBreaker {
    pub fn new(seed: u64) -> TieBreaker {
        TieBreaker(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The highest score, a uniformly random one among equals.
pub fn select_host(scores: &[i64], ties: &mut TieBreaker) -> usize {
    let mut best = 0;
    let mut seen = 0u64;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
            seen = 1;
        } else if *s == scores[best] {
            seen += 1;
            if ties.next().is_multiple_of(seen) {
                best = i;
            }
        }
    }
    best
}

/// Rotating start so successive pods look at different nodes first.
#[derive(Default)]
pub struct Rotation {
    pub next_start: usize,
}

/// Find a node for `pod`; Err with the per-node reasons when none fits.
pub fn schedule(
    pod: &PodInfo,
    cache: &Cache,
    nominated: &Nominated,
    rotation: &mut Rotation,
    ties: &mut TieBreaker,
) -> Result<usize, Diagnosis> {
    let all = cache.nodes.len();
    if all == 0 {
        return Err(Diagnosis::default());
    }
    let state = prefilter(pod, cache);
    let check = |i: usize| {
        let node = &cache.nodes[i];
        let reserved = reserved_for(pod, node.name(), nominated);
        run_filters(&state, pod, node, cache, reserved.as_ref())
    };
    // A preemptor tries the node it was nominated to first.
    if let Some(i) = cache.node_index(&pod.nominated_node_name)
        && check(i).is_ok()
    {
        return Ok(i);
    }
    let want = nodes_to_find(all);
    let mut feasible = Vec::with_capacity(want.min(all));
    let mut rejections = Vec::new();
    let start = rotation.next_start % all;
    let mut processed = 0;
    for offset in 0..all {
        let i = (start + offset) % all;
        processed += 1;
        match check(i) {
            Ok(()) => {
                feasible.push(i);
                if feasible.len() >= want {
                    break;
                }
            }
            Err(r) => rejections.push((i, r)),
        }
    }
    rotation.next_start = (start + processed) % all;
    match feasible.len() {
        0 => Err(Diagnosis {
            num_nodes: all,
            rejections,
        }),
        1 => Ok(feasible[0]),
        _ => {
            let nodes: Vec<&NodeInfo> = feasible.iter().map(|i| &cache.nodes[*i]).collect();
            let scores = score_nodes(pod, &nodes, cache);
            Ok(feasible[select_host(&scores, ties)])
        }
    }
}

#[cfg(test)]
#[path = "framework_tests.rs"]
mod tests;
