use std::sync::Arc;

use super::*;
use crate::model::PodInfo;

fn pod(uid: &str, priority: i32) -> Pod {
    Arc::new(PodInfo {
        uid: uid.into(),
        priority,
        resource_version: "1".into(),
        ..Default::default()
    })
}

fn pop_uid(q: &mut SchedulingQueue) -> Option<String> {
    q.pop().map(|p| p.pod.uid.clone())
}

#[test]
fn priority_then_arrival() {
    let mut q = SchedulingQueue::default();
    q.add(pod("low-1", 0));
    q.add(pod("high", 100));
    q.add(pod("low-2", 0));
    assert_eq!(pop_uid(&mut q).as_deref(), Some("high"));
    assert_eq!(pop_uid(&mut q).as_deref(), Some("low-1"));
    assert_eq!(pop_uid(&mut q).as_deref(), Some("low-2"));
    assert_eq!(pop_uid(&mut q), None);
}

#[test]
fn gated_pods_wait_until_ungated() {
    let mut q = SchedulingQueue::default();
    let mut gated = PodInfo {
        uid: "g".into(),
        gated: true,
        ..Default::default()
    };
    q.add(Arc::new(gated.clone()));
    assert!(q.is_gated("g"));
    assert_eq!(pop_uid(&mut q), None);
    gated.gated = false;
    q.update(Arc::new(gated));
    assert_eq!(pop_uid(&mut q).as_deref(), Some("g"));
}

#[test]
fn unschedulable_pods_move_on_interesting_events_only() {
    let mut q = SchedulingQueue::default();
    q.add(pod("p", 0));
    let start = Instant::now();
    q.pop().unwrap();
    q.unschedulable("p", Plugin::NodeResourcesFit as PluginSet, start);
    // A new pod on a node does not free resources.
    q.on_event(ClusterEvent::AssignedPodAdded, start);
    assert_eq!(q.flush_backoff(start + MAX_BACKOFF), None);
    assert_eq!(pop_uid(&mut q), None);
    // A deleted pod might: the pod goes to backoff first (1s after its first attempt).
    q.on_event(ClusterEvent::AssignedPodDeleted, start);
    assert_eq!(pop_uid(&mut q), None);
    assert_eq!(q.flush_backoff(start), Some(start + INITIAL_BACKOFF));
    q.flush_backoff(start + INITIAL_BACKOFF);
    assert_eq!(pop_uid(&mut q).as_deref(), Some("p"));
}

#[test]
fn event_during_the_cycle_means_backoff_not_unschedulable() {
    let mut q = SchedulingQueue::default();
    q.add(pod("p", 0));
    let now = Instant::now();
    q.pop().unwrap();
    q.on_event(ClusterEvent::NodeAdded, now);
    q.unschedulable("p", Plugin::NodeResourcesFit as PluginSet, now);
    q.flush_backoff(now + INITIAL_BACKOFF);
    assert_eq!(pop_uid(&mut q).as_deref(), Some("p"));
}

#[test]
fn backoff_doubles_up_to_the_maximum() {
    let mut q = SchedulingQueue::default();
    q.add(pod("p", 0));
    let now = Instant::now();
    for _ in 0..6 {
        q.flush_backoff(now + Duration::from_secs(3600));
        q.pop().unwrap();
        q.error(pod("p", 0), now);
    }
    // Six attempts: 1, 2, 4, 8, then capped at 10 seconds.
    assert_eq!(q.flush_backoff(now), Some(now + MAX_BACKOFF));
}

#[test]
fn long_unschedulable_pods_are_flushed() {
    let mut q = SchedulingQueue::default();
    q.add(pod("p", 0));
    let now = Instant::now();
    q.pop().unwrap();
    q.unschedulable("p", Plugin::NodeAffinity as PluginSet, now);
    q.flush_unschedulable(now + Duration::from_secs(60));
    assert_eq!(pop_uid(&mut q), None);
    q.flush_unschedulable(now + MAX_UNSCHEDULABLE_STAY);
    assert_eq!(pop_uid(&mut q).as_deref(), Some("p"));
}

#[test]
fn deleted_pods_leave_every_queue() {
    let mut q = SchedulingQueue::default();
    q.add(pod("p", 0));
    q.delete("p");
    assert_eq!(pop_uid(&mut q), None);
    assert_eq!(q.pending_len(), 0);
}
