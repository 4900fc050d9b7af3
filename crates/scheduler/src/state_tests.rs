use super::*;
use crate::model::Resources;

fn node(name: &str, cpu: i64) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        allocatable: Resources {
            milli_cpu: cpu,
            memory: 1 << 30,
            pods: 10,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn pod(uid: &str, cpu: i64, priority: i32) -> PodInfo {
    PodInfo {
        uid: uid.into(),
        name: uid.into(),
        namespace: "default".into(),
        scheduler_name: crate::SCHEDULER_NAME.into(),
        priority,
        requests: Resources {
            milli_cpu: cpu,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn assumed_pods_take_space_until_bound_or_forgotten() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_node(node("n1", 1000), now);
    state.on_pod(pod("a", 600, 0), now);
    state.on_pod(pod("b", 600, 0), now);
    let Some(Decision::Bind { pod: a, node }) = state.schedule_next(now) else {
        panic!("a should be placed")
    };
    assert_eq!(node, "n1");
    let Some(Decision::Unschedulable { message, .. }) = state.schedule_next(now) else {
        panic!("b must not fit beside the assumed a")
    };
    assert_eq!(
        message,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: \
         1 No preemption victims found for incoming pod.."
    );
    // The binding fails: a is retried and b may now use the space (after an event).
    state.binding_failed(a, false, now);
    assert_eq!(state.cache.node("n1").unwrap().requested.milli_cpu, 0);
}

#[test]
fn other_schedulers_and_bound_pods_are_not_queued() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_node(node("n1", 1000), now);
    let mut foreign = pod("f", 1, 0);
    foreign.scheduler_name = "other".into();
    state.on_pod(foreign, now);
    let mut bound = pod("b", 300, 0);
    bound.node_name = "n1".into();
    state.on_pod(bound, now);
    assert!(state.schedule_next(now).is_none());
    assert_eq!(state.cache.node("n1").unwrap().requested.milli_cpu, 300);
    state.on_pod_deleted("b", now);
    assert_eq!(state.cache.node("n1").unwrap().requested.milli_cpu, 0);
}

#[test]
fn unschedulable_pod_is_retried_when_a_node_arrives() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_pod(pod("p", 500, 0), now);
    let Some(Decision::Unschedulable { message, .. }) = state.schedule_next(now) else {
        panic!("no nodes yet")
    };
    assert_eq!(message, "no nodes available to schedule pods");
    assert!(state.schedule_next(now).is_none());
    state.on_node(node("n1", 1000), now);
    state
        .queue
        .flush_backoff(now + crate::queue::INITIAL_BACKOFF);
    assert!(matches!(
        state.schedule_next(now),
        Some(Decision::Bind { .. })
    ));
}

#[test]
fn preemption_nominates_and_the_freed_space_is_held() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_node(node("n1", 1000), now);
    let mut low = pod("low", 800, 0);
    low.node_name = "n1".into();
    state.on_pod(low, now);
    state.on_pod(pod("high", 800, 100), now);
    let Some(Decision::Unschedulable {
        preemption: Some(p),
        message,
        ..
    }) = state.schedule_next(now)
    else {
        panic!("high should preempt")
    };
    assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
    assert_eq!(p.node, "n1");
    assert_eq!(p.victims[0].uid, "low");
    // The victim goes; a lower-priority newcomer must not take the space held for "high".
    state.on_pod_deleted("low", now);
    state.on_pod(pod("sneaky", 500, 0), now);
    let decisions: Vec<Decision> = std::iter::from_fn(|| {
        state.queue.flush_backoff(now + crate::queue::MAX_BACKOFF);
        state.schedule_next(now)
    })
    .take(2)
    .collect();
    let bound: Vec<&str> = decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Bind { pod, .. } => Some(pod.uid.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(bound, ["high"]);
}

#[test]
fn gated_pods_stay_pending() {
    let now = Instant::now();
    let mut state = State::default();
    state.on_node(node("n1", 1000), now);
    let mut gated = pod("g", 1, 0);
    gated.gated = true;
    state.on_pod(gated.clone(), now);
    assert!(state.schedule_next(now).is_none());
    gated.gated = false;
    state.on_pod(gated, now);
    assert!(matches!(
        state.schedule_next(now),
        Some(Decision::Bind { .. })
    ));
}

/// Core throughput at full scale: `cargo test -p keelson-scheduler --lib core_throughput --
/// --ignored --nocapture` (meaningful in an optimized build).
#[test]
#[ignore = "a benchmark"]
fn core_throughput_basic_pods() {
    let rate = crate::bench::core_throughput(5000, 10_000, crate::bench::basic_pod);
    println!("core: {rate:.0} pods/s (5000 nodes, 10000 basic pods)");
}
