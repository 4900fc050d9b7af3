use super::*;
use crate::model::{NodeSpec, PodInfo};

#[test]
fn a_relist_forgets_what_it_no_longer_holds() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_node(
        NodeSpec {
            name: "n1".into(),
            ..Default::default()
        },
        now,
    );
    state.on_node(
        NodeSpec {
            name: "n2".into(),
            ..Default::default()
        },
        now,
    );
    let pod = |uid: &str, node: &str| PodInfo {
        uid: uid.into(),
        node_name: node.into(),
        scheduler_name: crate::SCHEDULER_NAME.into(),
        ..Default::default()
    };
    state.on_pod(pod("bound", "n1"), now);
    state.on_pod(pod("pending", ""), now);
    state.on_pod(pod("kept", "n2"), now);
    let seen: HashSet<String> = ["kept".to_string()].into();
    Pods.retain(&mut state, &seen, now);
    assert!(!state.cache.contains_pod("bound"));
    assert!(state.cache.contains_pod("kept"));
    assert!(!state.queue.contains("pending"));
    Nodes.retain(&mut state, &["n2".to_string()].into(), now);
    assert!(state.cache.node("n1").is_none());
    assert_eq!(state.cache.node("n2").unwrap().pods.len(), 1);
}
