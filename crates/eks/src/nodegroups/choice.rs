//! Which zone a new node goes to and which nodes a scale-in removes, as an Auto Scaling group
//! chooses: keep the zones balanced, and prefer removing unhealthy, then idle, then new nodes.

use std::collections::BTreeMap;

use super::model::NodeRecord;

/// What the cluster's API says about a node when a scale-in chooses.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub ready: bool,
    pub pods: usize,
}

/// The zone with the fewest of `nodes` (the first such in `zones`' order).
pub fn zone_for_new_node(zones: &[String], nodes: &[NodeRecord]) -> String {
    zones
        .iter()
        .min_by_key(|zone| nodes.iter().filter(|n| &n.zone == *zone).count())
        .cloned()
        .unwrap_or_default()
}

/// `count` nodes to remove: not-Ready ones first, then from the zone holding the most nodes,
/// then those running the fewest pods, then the newest.
pub fn scale_in_victims(
    nodes: &[NodeRecord],
    observed: &BTreeMap<String, Observed>,
    count: usize,
) -> Vec<NodeRecord> {
    let mut remaining: Vec<NodeRecord> = nodes.to_vec();
    let mut chosen = Vec::new();
    while chosen.len() < count && !remaining.is_empty() {
        let per_zone = |zone: &str| remaining.iter().filter(|n| n.zone == zone).count();
        let position = (0..remaining.len())
            .min_by_key(|&i| {
                let node = &remaining[i];
                let seen = observed.get(&node.name).cloned().unwrap_or_default();
                (
                    seen.ready,
                    std::cmp::Reverse(per_zone(&node.zone)),
                    seen.pods,
                    std::cmp::Reverse(node.index),
                )
            })
            .expect("remaining is not empty");
        chosen.push(remaining.remove(position));
    }
    chosen
}

/// The zones of a group's subnets: the i-th subnet lies in the region's i-th zone (`a`, `b`,
/// ...), there being no EC2 to ask.
pub fn zones_of_subnets(region: &str, subnets: &[String]) -> Vec<String> {
    let mut zones: Vec<String> = (0..subnets.len().clamp(1, 26))
        .map(|i| format!("{region}{}", (b'a' + i as u8) as char))
        .collect();
    zones.dedup();
    zones
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(index: u32, zone: &str) -> NodeRecord {
        NodeRecord {
            name: format!("n-{index}"),
            index,
            zone: zone.into(),
            instance_type: "t3.medium".into(),
        }
    }

    fn seen(entries: &[(u32, bool, usize)]) -> BTreeMap<String, Observed> {
        entries
            .iter()
            .map(|&(i, ready, pods)| (format!("n-{i}"), Observed { ready, pods }))
            .collect()
    }

    #[test]
    fn unready_nodes_go_first_then_the_fullest_zone_then_idle_then_newest() {
        let nodes = [
            node(0, "a"),
            node(1, "b"),
            node(2, "a"),
            node(3, "b"),
            node(4, "a"),
        ];
        let observed = seen(&[
            (0, true, 1),
            (1, false, 5),
            (2, true, 0),
            (3, true, 0),
            (4, true, 3),
        ]);
        let names: Vec<_> = scale_in_victims(&nodes, &observed, 3)
            .into_iter()
            .map(|n| n.name)
            .collect();
        // n-1 is not Ready; then zone a has 3 of the remaining 4: its idlest is n-2; then a still
        // has 2 against b's 1, and n-0 runs fewer pods than n-4.
        assert_eq!(names, ["n-1", "n-2", "n-0"]);
    }

    #[test]
    fn among_equals_the_newest_goes() {
        let nodes = [node(0, "a"), node(1, "a"), node(2, "a")];
        let observed = seen(&[(0, true, 0), (1, true, 0), (2, true, 0)]);
        assert_eq!(scale_in_victims(&nodes, &observed, 1)[0].name, "n-2");
        assert!(scale_in_victims(&nodes, &observed, 5).len() == 3);
    }

    #[test]
    fn new_nodes_balance_the_zones() {
        let zones = zones_of_subnets("us-west-2", &["s1".into(), "s2".into()]);
        assert_eq!(zones, ["us-west-2a", "us-west-2b"]);
        assert_eq!(
            zone_for_new_node(&zones, &[node(0, "us-west-2a")]),
            "us-west-2b"
        );
        assert_eq!(zone_for_new_node(&zones, &[]), "us-west-2a");
    }
}
