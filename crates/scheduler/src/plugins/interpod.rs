//! InterPodAffinity: required affinity and anti-affinity of the incoming pod, the required
//! anti-affinity of pods already placed, and preferred terms of both as a score.

use std::collections::HashMap;

use super::{FilterResult, Plugin, Reason, Rejection};
use crate::cache::{Cache, NodeInfo};
use crate::model::{AffinityTerm, PodInfo};

/// Counts per topology key and value.
type Counts = HashMap<String, HashMap<String, i64>>;

fn bump(counts: &mut Counts, key: &str, value: &str, delta: i64) {
    *counts
        .entry(key.to_string())
        .or_default()
        .entry(value.to_string())
        .or_default() += delta;
}

fn get(counts: &Counts, key: &str, value: &str) -> i64 {
    counts
        .get(key)
        .and_then(|m| m.get(value))
        .copied()
        .unwrap_or(0)
}

/// PreFilter result.
#[derive(Clone, Debug, Default)]
pub struct FilterState {
    /// Domains where a placed pod's required anti-affinity selects the incoming pod.
    existing_anti: Counts,
    /// Pods matching all the incoming pod's required affinity terms, per domain.
    affinity: Counts,
    affinity_any: bool,
    /// Pods matching each required anti-affinity term of the incoming pod, per domain.
    anti: Counts,
}

fn term_selects(term: &AffinityTerm, pod: &PodInfo, cache: &Cache) -> bool {
    term.matches(
        &pod.namespace,
        &pod.labels,
        cache.namespace_labels(&pod.namespace),
    )
}

impl FilterState {
    /// Account for `existing` on `node` being added (delta 1) or removed (delta -1).
    pub fn update(
        &mut self,
        incoming: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        cache: &Cache,
        delta: i64,
    ) {
        self.count_existing_anti(incoming, existing, node, cache, delta);
        self.count_affinity(incoming, existing, node, cache, delta);
        for term in &incoming.affinity.anti_required {
            self.count_anti(term, existing, node, cache, delta);
        }
    }

    /// A placed pod whose required anti-affinity selects the incoming pod.
    fn count_existing_anti(
        &mut self,
        incoming: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        cache: &Cache,
        delta: i64,
    ) {
        for term in &existing.affinity.anti_required {
            if let Some(value) = node.label(&term.topology_key)
                && term_selects(term, incoming, cache)
            {
                bump(&mut self.existing_anti, &term.topology_key, value, delta);
            }
        }
    }

    /// A placed pod matching every required affinity term of the incoming pod.
    fn count_affinity(
        &mut self,
        incoming: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        cache: &Cache,
        delta: i64,
    ) {
        let required = &incoming.affinity.required;
        if !required.is_empty() && required.iter().all(|t| term_selects(t, existing, cache)) {
            for term in required {
                if let Some(value) = node.label(&term.topology_key) {
                    bump(&mut self.affinity, &term.topology_key, value, delta);
                    self.affinity_any = true;
                }
            }
        }
    }

    /// A placed pod matching one required anti-affinity term of the incoming pod.
    fn count_anti(
        &mut self,
        term: &AffinityTerm,
        existing: &PodInfo,
        node: &NodeInfo,
        cache: &Cache,
        delta: i64,
    ) {
        if let Some(value) = node.label(&term.topology_key)
            && term_selects(term, existing, cache)
        {
            bump(&mut self.anti, &term.topology_key, value, delta);
        }
    }
}

/// None when nothing can constrain the pod (the common case, kept cheap). Each count visits
/// only the pods that can contribute to it: placed pods with required anti-affinity, and the
/// pods a term's selector can match (through the node's label index).
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<FilterState> {
    let own_terms = !pod.affinity.required.is_empty() || !pod.affinity.anti_required.is_empty();
    let any_existing = cache.nodes.iter().any(|n| !n.anti_affinity_pods.is_empty());
    if !own_terms && !any_existing {
        return None;
    }
    let mut state = FilterState::default();
    for node in &cache.nodes {
        for existing in &node.anti_affinity_pods {
            state.count_existing_anti(pod, existing, node, cache, 1);
        }
        // Matching every required term implies matching the first.
        if let Some(first) = pod.affinity.required.first() {
            for existing in node.candidates(first.selector.as_ref()) {
                state.count_affinity(pod, existing, node, cache, 1);
            }
        }
        for term in &pod.affinity.anti_required {
            for existing in node.candidates(term.selector.as_ref()) {
                state.count_anti(term, existing, node, cache, 1);
            }
        }
    }
    Some(state)
}

pub fn filter(
    state: Option<&FilterState>,
    pod: &PodInfo,
    node: &NodeInfo,
    cache: &Cache,
) -> FilterResult {
    let Some(state) = state else {
        return Ok(());
    };
    // Required affinity: every term's domain must hold a matching pod, except for the first pod
    // of a group that selects itself.
    let mut missing = false;
    for term in &pod.affinity.required {
        match node.label(&term.topology_key) {
            None => return Err(affinity_rejection()),
            Some(value) => missing |= get(&state.affinity, &term.topology_key, value) <= 0,
        }
    }
    if missing {
        let all_empty = state.affinity.values().all(|m| m.values().all(|c| *c <= 0));
        let self_match = pod
            .affinity
            .required
            .iter()
            .all(|t| term_selects(t, pod, cache));
        if !(all_empty && self_match) {
            return Err(affinity_rejection());
        }
    }
    for term in &pod.affinity.anti_required {
        if let Some(value) = node.label(&term.topology_key)
            && get(&state.anti, &term.topology_key, value) > 0
        {
            return Err(Rejection::new(
                Plugin::InterPodAffinity,
                Reason::AntiAffinityRules,
                false,
            ));
        }
    }
    for (key, values) in &state.existing_anti {
        if let Some(value) = node.label(key)
            && values.get(value).copied().unwrap_or(0) > 0
        {
            return Err(Rejection::new(
                Plugin::InterPodAffinity,
                Reason::ExistingAntiAffinity,
                false,
            ));
        }
    }
    Ok(())
}

fn affinity_rejection() -> Rejection {
    Rejection::new(Plugin::InterPodAffinity, Reason::AffinityRules, true)
}

/// Upstream's hardPodAffinityWeight: how much a placed pod's required affinity attracts.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// PreScore: the preference per domain, from the incoming pod's preferred terms and placed
/// pods' terms that select it. None when there is nothing to score.
pub fn prescore(pod: &PodInfo, cache: &Cache) -> Option<Counts> {
    let mut scores = Counts::new();
    let add = |scores: &mut Counts, node: &NodeInfo, term: &AffinityTerm, weight: i64| {
        if let Some(value) = node.label(&term.topology_key) {
            bump(scores, &term.topology_key, value, weight);
        }
    };
    for node in &cache.nodes {
        for (w, sign) in pod
            .affinity
            .preferred
            .iter()
            .map(|w| (w, 1))
            .chain(pod.affinity.anti_preferred.iter().map(|w| (w, -1)))
        {
            for existing in node.candidates(w.term.selector.as_ref()) {
                if term_selects(&w.term, existing, cache) {
                    add(&mut scores, node, &w.term, sign * w.weight);
                }
            }
        }
        for existing in &node.affinity_pods {
            for term in &existing.affinity.required {
                if term_selects(term, pod, cache) {
                    add(&mut scores, node, term, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for w in &existing.affinity.preferred {
                if term_selects(&w.term, pod, cache) {
                    add(&mut scores, node, &w.term, w.weight);
                }
            }
            for w in &existing.affinity.anti_preferred {
                if term_selects(&w.term, pod, cache) {
                    add(&mut scores, node, &w.term, -w.weight);
                }
            }
        }
    }
    (!scores.is_empty()).then_some(scores)
}

pub fn score(scores: &Counts, node: &NodeInfo) -> i64 {
    scores
        .iter()
        .filter_map(|(key, values)| node.label(key).and_then(|v| values.get(v)))
        .sum()
}

/// Min-max normalization to 0..=100 (all equal: 0).
pub fn normalize(scores: &mut [i64]) {
    let (min, max) = scores
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
    let diff = max - min;
    for s in scores.iter_mut() {
        *s = if diff > 0 {
            (100.0 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{Selector, labels};
    use crate::model::{NodeSpec, WeightedAffinityTerm};
    use std::sync::Arc;

    fn term(app: &str, key: &str) -> AffinityTerm {
        AffinityTerm {
            namespaces: vec!["default".into()],
            namespace_selector: None,
            selector: Some(Selector::from_map(&labels(&[("app", app)]))),
            topology_key: key.into(),
        }
    }

    fn pod(uid: &str, app: &str) -> PodInfo {
        PodInfo {
            uid: uid.into(),
            namespace: "default".into(),
            labels: labels(&[("app", app)]),
            ..Default::default()
        }
    }

    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for (name, zone) in [("n1", "a"), ("n2", "a"), ("n3", "b")] {
            cache.upsert_node(NodeSpec {
                name: name.into(),
                labels: labels(&[("zone", zone), ("kubernetes.io/hostname", name)]),
                ..Default::default()
            });
        }
        let mut db = pod("db", "db");
        db.node_name = "n1".into();
        cache.upsert_bound_pod(Arc::new(db));
        cache
    }

    fn feasible(cache: &Cache, p: &PodInfo) -> Vec<String> {
        let state = prefilter(p, cache);
        cache
            .nodes
            .iter()
            .filter(|n| filter(state.as_ref(), p, n, cache).is_ok())
            .map(|n| n.spec.name.clone())
            .collect()
    }

    #[test]
    fn required_affinity_follows_the_domain() {
        let cache = cluster();
        let mut web = pod("w", "web");
        web.affinity.required.push(term("db", "zone"));
        assert_eq!(feasible(&cache, &web), ["n1", "n2"]);
        // Nothing matches and the pod does not select itself: nowhere.
        web.affinity.required = vec![term("cache", "zone")];
        assert!(feasible(&cache, &web).is_empty());
        // The first pod of a self-selecting group may go anywhere.
        let mut first = pod("c", "cache");
        first.affinity.required.push(term("cache", "zone"));
        assert_eq!(feasible(&cache, &first).len(), 3);
    }

    #[test]
    fn anti_affinity_both_ways() {
        let mut cache = cluster();
        let mut web = pod("w", "web");
        web.affinity
            .anti_required
            .push(term("db", "kubernetes.io/hostname"));
        assert_eq!(feasible(&cache, &web), ["n2", "n3"]);
        // A placed pod that repels "web" in its zone.
        let mut guard = pod("g", "guard");
        guard.node_name = "n3".into();
        guard.affinity.anti_required.push(term("web", "zone"));
        cache.upsert_bound_pod(Arc::new(guard));
        let err = filter(
            prefilter(&web, &cache).as_ref(),
            &web,
            cache.node("n3").unwrap(),
            &cache,
        );
        assert_eq!(err.unwrap_err().reasons, [Reason::ExistingAntiAffinity]);
        assert_eq!(feasible(&cache, &web), ["n2"]);
    }

    #[test]
    fn preferred_terms_score_domains() {
        let cache = cluster();
        let mut web = pod("w", "web");
        web.affinity.preferred.push(WeightedAffinityTerm {
            weight: 10,
            term: term("db", "zone"),
        });
        let scores = prescore(&web, &cache).unwrap();
        let mut raw: Vec<i64> = cache.nodes.iter().map(|n| score(&scores, n)).collect();
        assert_eq!(raw, [10, 10, 0]);
        normalize(&mut raw);
        assert_eq!(raw, [100, 100, 0]);
        assert!(prescore(&pod("x", "x"), &cache).is_none());
    }
}
