use std::sync::Arc;

use super::*;
use crate::labels::labels;
use crate::model::{NodeSpec, Owner, Resources, Taint, TaintEffect};

fn node(name: &str, cpu: i64, zone: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        labels: labels(&[
            ("kubernetes.io/hostname", name),
            ("topology.kubernetes.io/zone", zone),
        ]),
        allocatable: Resources {
            milli_cpu: cpu,
            memory: 1 << 34,
            pods: 110,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn pod(uid: &str, cpu: i64) -> PodInfo {
    PodInfo {
        uid: uid.into(),
        name: uid.into(),
        namespace: "default".into(),
        requests: Resources {
            milli_cpu: cpu,
            ..Default::default()
        },
        non_zero_milli_cpu: cpu.max(100),
        non_zero_memory: 200 << 20,
        ..Default::default()
    }
}

fn run(cache: &Cache, p: &PodInfo) -> Result<String, Diagnosis> {
    schedule(
        p,
        cache,
        &Nominated::new(),
        &mut Rotation::default(),
        &mut TieBreaker::new(7),
    )
    .map(|i| cache.nodes[i].spec.name.clone())
}

#[test]
fn adaptive_share_of_nodes() {
    assert_eq!(nodes_to_find(50), 50);
    assert_eq!(nodes_to_find(100), 100);
    assert_eq!(nodes_to_find(1000), 420);
    assert_eq!(nodes_to_find(5000), 500);
    assert_eq!(nodes_to_find(10000), 500);
}

#[test]
fn message_format_as_upstream() {
    let reasons = vec![
        "Insufficient cpu".to_string(),
        "node(s) had untolerated taint {key: value}".into(),
        "Insufficient cpu".into(),
    ];
    assert_eq!(
        fit_error(
            3,
            &reasons,
            Some(
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
            )
        ),
        "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
    );
    assert_eq!(
        fit_error(0, &[], None),
        "no nodes available to schedule pods"
    );
}

#[test]
fn picks_the_least_allocated_node_and_reports_failures() {
    let mut cache = Cache::default();
    cache.upsert_node(node("busy", 4000, "a"));
    cache.upsert_node(node("idle", 4000, "a"));
    let mut tainted = node("tainted", 4000, "a");
    tainted.taints.push(Taint {
        key: "key".into(),
        value: "value".into(),
        effect: TaintEffect::NoSchedule,
    });
    cache.upsert_node(tainted);
    let mut existing = pod("e", 3000);
    existing.node_name = "busy".into();
    cache.upsert_bound_pod(Arc::new(existing));
    assert_eq!(run(&cache, &pod("p", 500)).unwrap(), "idle");
    let err = run(&cache, &pod("big", 4500)).unwrap_err();
    assert_eq!(
        fit_error(err.num_nodes, &diagnosis_reasons(&err), None),
        "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu."
    );
}

#[test]
fn nominated_pods_hold_their_space() {
    let mut cache = Cache::default();
    cache.upsert_node(node("n1", 1000, "a"));
    let mut nominated = Nominated::new();
    let mut preemptor = pod("pre", 800);
    preemptor.priority = 100;
    nominated.insert("n1".into(), vec![Arc::new(preemptor)]);
    let low = pod("low", 500);
    let result = schedule(
        &low,
        &cache,
        &nominated,
        &mut Rotation::default(),
        &mut TieBreaker::new(1),
    );
    assert!(result.is_err());
    let mut high = pod("high", 500);
    high.priority = 1000;
    let result = schedule(
        &high,
        &cache,
        &nominated,
        &mut Rotation::default(),
        &mut TieBreaker::new(1),
    );
    assert!(result.is_ok());
}

#[test]
fn replicas_of_a_replicaset_spread_by_default() {
    let mut cache = Cache::default();
    for (name, zone) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        cache.upsert_node(node(name, 100_000, zone));
    }
    cache.spread_sources.controllers.insert(
        ("ReplicaSet".into(), "default".into(), "web".into()),
        Selector::from_map(&labels(&[("app", "web")])),
    );
    let replica = |uid: &str| {
        let mut p = pod(uid, 100);
        p.labels = labels(&[("app", "web")]);
        p.controller = Some(Owner {
            kind: "ReplicaSet".into(),
            api_version: "apps/v1".into(),
            name: "web".into(),
        });
        p
    };
    let mut per_zone = BTreeMap::<String, usize>::new();
    let mut per_node = BTreeMap::<String, usize>::new();
    for i in 0..6 {
        let mut p = replica(&format!("r{i}"));
        let name = run(&cache, &p).unwrap();
        let zone = cache
            .node(&name)
            .unwrap()
            .label("topology.kubernetes.io/zone")
            .unwrap()
            .to_string();
        *per_zone.entry(zone).or_default() += 1;
        *per_node.entry(name.clone()).or_default() += 1;
        p.node_name = name;
        cache.upsert_bound_pod(Arc::new(p));
    }
    // Zone b's single node gets at least a third of the replicas, no node more than half.
    assert!(per_zone.get("b").copied().unwrap_or(0) >= 2, "{per_zone:?}");
    assert!(per_node.values().all(|n| *n <= 3), "{per_node:?}");
    assert_eq!(per_node.len(), 3);
    assert!(default_spread_selector(&pod("lonely", 1), &cache).is_none());
}

#[test]
fn ties_are_broken_among_the_best() {
    let mut ties = TieBreaker::new(3);
    let picks: std::collections::HashSet<usize> = (0..50)
        .map(|_| select_host(&[5, 9, 9, 1], &mut ties))
        .collect();
    assert_eq!(picks, [1, 2].into_iter().collect());
}
