use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::*;

fn now() -> Timestamp {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn job(spec: Value, status: Value) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": "j", "namespace": "ns", "uid": "job-uid"},
        "spec": spec.as_object().unwrap().clone().into_iter()
            .chain([("template".to_string(), json!({"spec": {"containers": [{"name": "main", "image": "i"}]}}))])
            .collect::<serde_json::Map<_, _>>(),
        "status": status,
    }))
    .unwrap()
}

fn pod(name: &str, phase: &str, tracked: bool, extra: Value) -> Arc<Pod> {
    let mut pod = json!({
        "metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
            "finalizers": if tracked { json!([TRACKING_FINALIZER]) } else { json!([]) },
        },
        "status": {"phase": phase},
    });
    merge(&mut pod, extra);
    Arc::new(serde_json::from_value(pod).unwrap())
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

#[test]
fn new_job_creates_parallelism_pods_and_starts() {
    let j = job(json!({"completions": 4, "parallelism": 2}), json!({}));
    let p = plan(&j, &[], Backoff::default(), now());
    assert_eq!(p.create, vec![None, None]);
    assert!(p.status.start_time.is_some());
    assert_eq!(p.status.uncounted_terminated_pods, Some(Default::default()));
}

#[test]
fn finished_pods_are_counted_in_two_steps() {
    let j = job(
        json!({"completions": 2, "parallelism": 2}),
        json!({"startTime": "2024-01-01T00:00:00Z"}),
    );
    let done = pod("a", "Succeeded", true, json!({}));
    let running = pod("b", "Running", true, json!({}));
    let first = plan(
        &j,
        &[done.clone(), running.clone()],
        Backoff::default(),
        now(),
    );
    let uncounted = first.status.uncounted_terminated_pods.clone().unwrap();
    assert_eq!(uncounted.succeeded, Some(vec!["uid-a".to_string()]));
    assert_eq!(first.status.succeeded, None);
    assert_eq!(first.unfinalize.len(), 1);
    assert!(
        first.create.is_empty(),
        "one running and one succeeded cover two completions"
    );

    // After the finalizer is gone the pod is counted, once.
    let j2 = Job {
        status: Some(first.status),
        ..j.clone()
    };
    let released = pod("a", "Succeeded", false, json!({}));
    let second = plan(&j2, &[released.clone(), running], Backoff::default(), now());
    assert_eq!(second.status.succeeded, Some(1));
    assert_eq!(
        second.status.uncounted_terminated_pods,
        Some(Default::default())
    );
    let third = plan(
        &Job {
            status: Some(second.status),
            ..j
        },
        &[released],
        Backoff::default(),
        now(),
    );
    assert_eq!(third.status.succeeded, Some(1));
}

#[test]
fn completion_sets_success_criteria_then_complete() {
    let j = job(
        json!({"completions": 1}),
        json!({"startTime": "2024-01-01T00:00:00Z", "succeeded": 1}),
    );
    let p = plan(&j, &[], Backoff::default(), now());
    let types: Vec<&str> = p
        .status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, vec![SUCCESS_CRITERIA_MET, COMPLETE]);
    let complete = condition(&p.status, COMPLETE).unwrap();
    assert_eq!(complete.reason.as_deref(), Some(REASON_COMPLETIONS_REACHED));
    assert!(p.status.completion_time.is_some());
    assert_eq!(p.events[0].1, "Completed");
}

#[test]
fn backoff_limit_fails_the_job_and_deletes_active_pods() {
    let j = job(
        json!({"completions": 3, "parallelism": 2, "backoffLimit": 1}),
        json!({"startTime": "2024-01-01T00:00:00Z", "failed": 1}),
    );
    let failed = pod("a", "Failed", true, json!({}));
    let running = pod("b", "Running", true, json!({}));
    let p = plan(&j, &[failed, running], Backoff::default(), now());
    let target = condition(&p.status, FAILURE_TARGET).unwrap();
    assert_eq!(target.reason.as_deref(), Some(REASON_BACKOFF_LIMIT));
    assert_eq!(p.delete.len(), 1);
    assert!(
        condition(&p.status, FAILED).is_none(),
        "Failed waits for the pods to go"
    );
    assert!(p.create.is_empty());
}

#[test]
fn failures_back_off_before_replacement() {
    let j = job(
        json!({"completions": 1, "backoffLimit": 6}),
        json!({"startTime": "2024-01-01T00:00:00Z"}),
    );
    let failed = pod("a", "Failed", true, json!({}));
    let p = plan(&j, &[failed], Backoff::default(), now());
    assert!(p.create.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(10)));
    let later = now() + jiff::SignedDuration::from_secs(11);
    let again = plan(
        &Job {
            status: Some(p.status),
            ..j
        },
        &[],
        p.backoff,
        later,
    );
    assert_eq!(again.create, vec![None]);
}

#[test]
fn active_deadline() {
    let j = job(
        json!({"activeDeadlineSeconds": 30}),
        json!({"startTime": "2024-01-01T00:00:00Z"}),
    );
    let running = pod("a", "Running", true, json!({}));
    let early = plan(
        &j,
        std::slice::from_ref(&running),
        Backoff::default(),
        now(),
    );
    assert_eq!(early.requeue_after, Some(Duration::from_secs(30)));
    let late = plan(
        &j,
        &[running],
        Backoff::default(),
        now() + jiff::SignedDuration::from_secs(30),
    );
    assert_eq!(
        condition(&late.status, FAILURE_TARGET)
            .unwrap()
            .reason
            .as_deref(),
        Some(REASON_DEADLINE)
    );
    assert_eq!(late.delete.len(), 1);
}

#[test]
fn indexed_jobs_fill_the_lowest_missing_indexes() {
    let j = job(
        json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed"}),
        json!({"startTime": "2024-01-01T00:00:00Z", "completedIndexes": "0"}),
    );
    let index =
        |i: i32| json!({"metadata": {"annotations": {indexes::COMPLETION_INDEX: i.to_string()}}});
    let running = pod("r", "Running", true, index(2));
    let duplicate = pod("d", "Running", true, index(2));
    let done = pod("s", "Succeeded", true, index(3));
    let p = plan(&j, &[running, duplicate, done], Backoff::default(), now());
    assert_eq!(p.status.completed_indexes.as_deref(), Some("0,3"));
    assert_eq!(p.status.succeeded, Some(2));
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.create, vec![Some(1)]);
}

#[test]
fn ignored_failures_are_not_counted() {
    let j = job(
        json!({"backoffLimit": 0, "podReplacementPolicy": "Failed", "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}
        ]}}),
        json!({"startTime": "2024-01-01T00:00:00Z"}),
    );
    let status = json!({"status": {"containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]}});
    let p = plan(
        &j,
        &[pod("a", "Failed", true, status)],
        Backoff::default(),
        now(),
    );
    assert!(condition(&p.status, FAILURE_TARGET).is_none());
    assert_eq!(p.unfinalize.len(), 1);
    assert_eq!(p.create, vec![None]);
}

#[test]
fn finished_jobs_only_release_their_pods() {
    let j = job(
        json!({}),
        json!({"conditions": [{"type": "Complete", "status": "True"}]}),
    );
    let p = plan(
        &j,
        &[pod("a", "Succeeded", true, json!({}))],
        Backoff::default(),
        now(),
    );
    assert_eq!(p.unfinalize.len(), 1);
    assert!(p.create.is_empty() && p.delete.is_empty());
}
