//! PodTopologySpread: DoNotSchedule constraints as a filter, ScheduleAnyway constraints (or the
//! system defaults for pods of a controller or service) as a score.

use std::collections::HashMap;

use super::basic::matches_node_selector;
use super::{FilterResult, Plugin, Reason, Rejection};
use crate::cache::{Cache, NodeInfo};
use crate::labels::Selector;
use crate::model::{PodInfo, SpreadConstraint, TaintEffect, tolerated};

pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";

/// Whether `node` takes part in `c`'s domains (nodeAffinityPolicy, nodeTaintsPolicy).
fn node_included(c: &SpreadConstraint, pod: &PodInfo, node: &NodeInfo) -> bool {
    if c.honor_node_affinity && !matches_node_selector(pod, &node.spec.name, &node.spec.labels) {
        return false;
    }
    if c.honor_node_taints
        && node.spec.taints.iter().any(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && !tolerated(&pod.tolerations, t)
        })
    {
        return false;
    }
    true
}

fn has_all_keys(constraints: &[SpreadConstraint], node: &NodeInfo) -> bool {
    constraints
        .iter()
        .all(|c| node.label(&c.topology_key).is_some())
}

fn count_matching(c: &SpreadConstraint, namespace: &str, node: &NodeInfo) -> i64 {
    let Some(selector) = &c.selector else {
        return 0;
    };
    node.candidates(Some(selector))
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(&p.labels))
        .count() as i64
}

fn self_match(c: &SpreadConstraint, pod: &PodInfo) -> i64 {
    i64::from(c.selector.as_ref().is_some_and(|s| s.matches(&pod.labels)))
}

/// PreFilter result for the hard constraints.
#[derive(Clone, Debug)]
pub struct FilterState {
    constraints: Vec<SpreadConstraint>,
    counts: Vec<HashMap<String, i64>>,
    min: Vec<i64>,
}

impl FilterState {
    fn recompute_min(&mut self) {
        self.min = self
            .counts
            .iter()
            .map(|m| m.values().copied().min().unwrap_or(i64::from(i32::MAX)))
            .collect();
    }

    /// Account for `existing` on `node` being added (1) or removed (-1).
    pub fn update(&mut self, pod: &PodInfo, existing: &PodInfo, node: &NodeInfo, delta: i64) {
        if existing.namespace != pod.namespace || !has_all_keys(&self.constraints, node) {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if node_included(c, pod, node)
                && c.selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&existing.labels))
                && let Some(value) = node.label(&c.topology_key)
            {
                *self.counts[i].entry(value.to_string()).or_default() += delta;
            }
        }
        self.recompute_min();
    }
}

pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<FilterState> {
    let constraints: Vec<SpreadConstraint> =
        pod.spread.iter().filter(|c| c.hard).cloned().collect();
    if constraints.is_empty() {
        return None;
    }
    let mut counts = vec![HashMap::new(); constraints.len()];
    for node in &cache.nodes {
        if !has_all_keys(&constraints, node) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !node_included(c, pod, node) {
                continue;
            }
            let value = node.label(&c.topology_key).unwrap_or_default();
            *counts[i].entry(value.to_string()).or_default() +=
                count_matching(c, &pod.namespace, node);
        }
    }
    let mut state = FilterState {
        constraints,
        counts,
        min: vec![],
    };
    state.recompute_min();
    Some(state)
}

pub fn filter(state: Option<&FilterState>, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let Some(state) = state else { return Ok(()) };
    if !has_all_keys(&state.constraints, node) {
        return Err(Rejection::new(
            Plugin::PodTopologySpread,
            Reason::SpreadMissingLabel,
            true,
        ));
    }
    for (i, c) in state.constraints.iter().enumerate() {
        let value = node.label(&c.topology_key).unwrap_or_default();
        let matching = state.counts[i].get(value).copied().unwrap_or(0);
        let domains = state.counts[i].len() as i64;
        let min = match c.min_domains {
            Some(min_domains) if domains < min_domains => 0,
            _ => state.min[i],
        };
        if matching + self_match(c, pod) - min > c.max_skew {
            return Err(Rejection::new(
                Plugin::PodTopologySpread,
                Reason::Spread,
                false,
            ));
        }
    }
    Ok(())
}

/// Upstream's system default constraints, used when a pod sets none and a service or
/// controller selects it.
pub fn system_defaults(selector: Selector) -> Vec<SpreadConstraint> {
    [(HOSTNAME_KEY, 3), (ZONE_KEY, 5)]
        .into_iter()
        .map(|(key, skew)| SpreadConstraint {
            max_skew: skew,
            topology_key: key.into(),
            hard: false,
            selector: Some(selector.clone()),
            min_domains: None,
            honor_node_affinity: true,
            honor_node_taints: false,
        })
        .collect()
}

/// PreScore result for the soft constraints over the feasible nodes.
pub struct ScoreState {
    constraints: Vec<SpreadConstraint>,
    require_all: bool,
    /// Per constraint (non-hostname): matching pods per domain seen among feasible nodes.
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

/// `defaults` are the system default constraints, used only when the pod sets none.
pub fn prescore(
    pod: &PodInfo,
    feasible: &[&NodeInfo],
    cache: &Cache,
    defaults: impl FnOnce() -> Vec<SpreadConstraint>,
) -> Option<ScoreState> {
    let (constraints, require_all) = if pod.spread.is_empty() {
        (defaults(), false)
    } else {
        (
            pod.spread.iter().filter(|c| !c.hard).cloned().collect(),
            true,
        )
    };
    if constraints.is_empty() {
        return None;
    }
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
    let mut sizes = vec![0usize; constraints.len()];
    for node in feasible {
        if require_all && !has_all_keys(&constraints, node) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            let Some(value) = node.label(&c.topology_key) else {
                continue;
            };
            if c.topology_key == HOSTNAME_KEY {
                sizes[i] += 1;
            } else if !counts[i].contains_key(value) {
                counts[i].insert(value.to_string(), 0);
            }
        }
    }
    for (i, c) in constraints.iter().enumerate() {
        if c.topology_key != HOSTNAME_KEY {
            sizes[i] = counts[i].len();
        }
    }
    for node in &cache.nodes {
        if require_all && !has_all_keys(&constraints, node) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME_KEY || !node_included(c, pod, node) {
                continue;
            }
            if let Some(value) = node.label(&c.topology_key)
                && let Some(count) = counts[i].get_mut(value)
            {
                *count += count_matching(c, &pod.namespace, node);
            }
        }
    }
    let weights = sizes.iter().map(|s| ((*s + 2) as f64).ln()).collect();
    Some(ScoreState {
        constraints,
        require_all,
        counts,
        weights,
    })
}

/// Raw score (more matching pods in the node's domains is worse); None for nodes that lack a
/// topology key, which score 0 after normalization.
pub fn score(state: &ScoreState, pod: &PodInfo, node: &NodeInfo) -> Option<i64> {
    if state.require_all && !has_all_keys(&state.constraints, node) {
        return None;
    }
    let mut total = 0.0;
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.label(&c.topology_key) else {
            continue;
        };
        let count = if c.topology_key == HOSTNAME_KEY {
            count_matching(c, &pod.namespace, node)
        } else {
            state.counts[i].get(value).copied().unwrap_or(0)
        };
        total += count as f64 * state.weights[i] + (c.max_skew - 1) as f64;
    }
    Some(total.round() as i64)
}

/// Fewer matching pods scores higher: 100 × (max + min − s) / max.
pub fn normalize(raw: &[Option<i64>]) -> Vec<i64> {
    let valid = raw.iter().flatten();
    let min = valid.clone().copied().min().unwrap_or(0);
    let max = valid.copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| match s {
            None => 0,
            Some(_) if max == 0 => 100,
            Some(s) => 100 * (max + min - s) / max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::labels;
    use crate::model::NodeSpec;
    use std::sync::Arc;

    fn constraint(key: &str, skew: i64, hard: bool) -> SpreadConstraint {
        SpreadConstraint {
            max_skew: skew,
            topology_key: key.into(),
            hard,
            selector: Some(Selector::from_map(&labels(&[("app", "web")]))),
            min_domains: None,
            honor_node_affinity: true,
            honor_node_taints: false,
        }
    }

    fn web(uid: &str, node: &str) -> PodInfo {
        PodInfo {
            uid: uid.into(),
            namespace: "default".into(),
            labels: labels(&[("app", "web")]),
            node_name: node.into(),
            ..Default::default()
        }
    }

    /// Zones a (n1, n2), b (n3) and a node without a zone label (n4); two web pods in zone a.
    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for (name, zone) in [
            ("n1", Some("a")),
            ("n2", Some("a")),
            ("n3", Some("b")),
            ("n4", None),
        ] {
            let mut l = labels(&[(HOSTNAME_KEY, name)]);
            if let Some(z) = zone {
                l.insert(ZONE_KEY.into(), z.into());
            }
            cache.upsert_node(NodeSpec {
                name: name.into(),
                labels: l,
                ..Default::default()
            });
        }
        cache.upsert_bound_pod(Arc::new(web("w1", "n1")));
        cache.upsert_bound_pod(Arc::new(web("w2", "n2")));
        cache
    }

    fn feasible(cache: &Cache, pod: &PodInfo) -> Vec<String> {
        let state = prefilter(pod, cache);
        cache
            .nodes
            .iter()
            .filter(|n| filter(state.as_ref(), pod, n).is_ok())
            .map(|n| n.spec.name.clone())
            .collect()
    }

    #[test]
    fn do_not_schedule_balances_zones() {
        let cache = cluster();
        let mut pod = web("new", "");
        pod.spread.push(constraint(ZONE_KEY, 1, true));
        assert_eq!(feasible(&cache, &pod), ["n3"]);
        let state = prefilter(&pod, &cache);
        assert_eq!(
            filter(state.as_ref(), &pod, cache.node("n4").unwrap())
                .unwrap_err()
                .reasons,
            [Reason::SpreadMissingLabel]
        );
        pod.spread[0].max_skew = 3;
        assert_eq!(feasible(&cache, &pod), ["n1", "n2", "n3"]);
        // Zones a: 2, b: 1. minDomains above the number of domains makes the minimum 0.
        let mut cache = cache;
        cache.upsert_bound_pod(Arc::new(web("w3", "n3")));
        pod.spread[0].max_skew = 1;
        assert_eq!(feasible(&cache, &pod), ["n3"]);
        pod.spread[0].min_domains = Some(3);
        assert!(feasible(&cache, &pod).is_empty());
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let cache = cluster();
        let mut pod = web("new", "");
        pod.spread.push(constraint(ZONE_KEY, 1, false));
        let nodes: Vec<&NodeInfo> = cache.nodes.iter().collect();
        let state = prescore(&pod, &nodes, &cache, Vec::new).unwrap();
        let raw: Vec<Option<i64>> = nodes.iter().map(|n| score(&state, &pod, n)).collect();
        assert_eq!(raw[3], None);
        let scores = normalize(&raw);
        assert!(scores[2] > scores[0]);
        assert_eq!(scores[3], 0);
    }

    #[test]
    fn system_defaults_spread_by_host_and_zone() {
        let cache = cluster();
        let pod = web("new", "");
        let nodes: Vec<&NodeInfo> = cache.nodes.iter().collect();
        let selector = Selector::from_map(&labels(&[("app", "web")]));
        let state = prescore(&pod, &nodes, &cache, || system_defaults(selector)).unwrap();
        let raw: Vec<Option<i64>> = nodes.iter().map(|n| score(&state, &pod, n)).collect();
        // Nodes without a zone are still scored by hostname under the system defaults.
        assert!(raw.iter().all(Option::is_some));
        let scores = normalize(&raw);
        assert!(scores[2] > scores[0] && scores[3] > scores[0]);
        assert!(prescore(&pod, &nodes, &cache, Vec::new).is_none());
    }
}
