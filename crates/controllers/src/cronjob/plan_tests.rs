use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use serde_json::{Value, json};

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn cron_job(spec: Value, status: Value) -> CronJob {
    let mut full = json!({
        "schedule": "*/5 * * * *",
        "concurrencyPolicy": "Allow",
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}},
    });
    for (k, v) in spec.as_object().unwrap() {
        full[k] = v.clone();
    }
    serde_json::from_value(json!({
        "metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid",
                     "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": full,
        "status": status,
    }))
    .unwrap()
}

fn child(name: &str, condition: Option<&str>, start: &str) -> Arc<Job> {
    let conditions = match condition {
        Some(c) => json!([{"type": c, "status": "True"}]),
        None => json!([]),
    };
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
            "status": {"conditions": conditions, "startTime": start,
                       "completionTime": if condition == Some("Complete") { json!(start) } else { Value::Null }},
        }))
        .unwrap(),
    )
}

fn run(cj: &CronJob, children: &[Arc<Job>], now: &str) -> Plan {
    plan(cj, children, &HashSet::new(), &TimeZone::UTC, at(now))
}

#[test]
fn waits_for_the_first_time_and_wakes_exactly_then() {
    let p = run(&cron_job(json!({}), json!({})), &[], "2024-05-01T10:03:20Z");
    assert_eq!(p.create, None);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(100_100)));
}

#[test]
fn creates_the_most_recent_missed_time_and_names_the_job_by_its_minute() {
    let p = run(&cron_job(json!({}), json!({})), &[], "2024-05-01T10:12:00Z");
    let scheduled = p.create.unwrap();
    assert_eq!(scheduled, at("2024-05-01T10:10:00Z"));
    assert_eq!(
        job_name("cj", scheduled),
        format!("cj-{}", scheduled.as_second() / 60)
    );
    assert_eq!(p.status.last_schedule_time.unwrap().0, scheduled);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(180_100)));
}

#[test]
fn starting_deadline_skips_late_starts() {
    let cj = cron_job(json!({"startingDeadlineSeconds": 30}), json!({}));
    let p = run(&cj, &[], "2024-05-01T10:11:00Z");
    assert_eq!(p.create, None);
    assert!(
        p.events.is_empty(),
        "times before the deadline window are not even missed"
    );
    let on_time = run(&cj, &[], "2024-05-01T10:10:20Z");
    assert_eq!(on_time.create, Some(at("2024-05-01T10:10:00Z")));
}

#[test]
fn forbid_waits_for_the_active_job_and_replace_deletes_it() {
    let running = child("cj-old", None, "2024-05-01T10:05:00Z");
    let status = json!({"active": [{"kind": "Job", "name": "cj-old", "namespace": "ns", "uid": "uid-cj-old"}],
                        "lastScheduleTime": "2024-05-01T10:05:00Z"});
    let forbid = cron_job(json!({"concurrencyPolicy": "Forbid"}), status.clone());
    let p = run(
        &forbid,
        std::slice::from_ref(&running),
        "2024-05-01T10:10:01Z",
    );
    assert_eq!(p.create, None);
    assert_eq!(p.events[0].1, "JobAlreadyActive");
    let replace = cron_job(json!({"concurrencyPolicy": "Replace"}), status.clone());
    let p = run(
        &replace,
        std::slice::from_ref(&running),
        "2024-05-01T10:10:01Z",
    );
    assert_eq!(p.replace.len(), 1);
    assert!(p.create.is_some());
    let allow = cron_job(json!({}), status);
    let p = run(&allow, &[running], "2024-05-01T10:10:01Z");
    assert!(p.create.is_some() && p.replace.is_empty());
}

#[test]
fn finished_jobs_leave_active_and_history_is_pruned_oldest_first() {
    let status = json!({"active": [{"kind": "Job", "name": "s4", "uid": "uid-s4"}],
                        "lastScheduleTime": "2024-05-01T10:20:00Z"});
    let cj = cron_job(
        json!({"successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 0}),
        status,
    );
    let children = vec![
        child("s1", Some("Complete"), "2024-05-01T10:01:00Z"),
        child("s2", Some("Complete"), "2024-05-01T10:02:00Z"),
        child("s3", Some("Complete"), "2024-05-01T10:03:00Z"),
        child("s4", Some("Complete"), "2024-05-01T10:04:00Z"),
        child("f1", Some("Failed"), "2024-05-01T10:00:00Z"),
    ];
    let p = run(&cj, &children, "2024-05-01T10:21:00Z");
    assert_eq!(p.status.active, None);
    assert_eq!(p.events[0].2, "Saw completed job: s4, condition: Complete");
    assert_eq!(
        p.status.last_successful_time.unwrap().0,
        at("2024-05-01T10:04:00Z")
    );
    let pruned: Vec<String> = p.prune.iter().map(|j| j.name_any()).collect();
    assert_eq!(pruned, vec!["s1", "s2", "f1"]);
}

#[test]
fn schedules_read_in_the_time_zone() {
    let cj = cron_job(json!({"schedule": "0 9 * * *"}), json!({}));
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let p = plan(
        &cj,
        &[],
        &HashSet::new(),
        &tokyo,
        at("2024-05-02T00:00:30Z"),
    );
    assert_eq!(p.create, Some(at("2024-05-02T00:00:00Z")));
    assert_eq!(
        super::super::rfc3339(at("2024-05-02T00:00:00Z"), &tokyo),
        "2024-05-02T09:00:00+09:00"
    );
    assert_eq!(
        super::super::rfc3339(at("2024-05-02T00:00:00Z"), &TimeZone::UTC),
        "2024-05-02T00:00:00Z"
    );
}

#[test]
fn suspended_and_unparseable_cron_jobs_create_nothing() {
    let suspended = cron_job(json!({"suspend": true}), json!({}));
    assert_eq!(run(&suspended, &[], "2024-05-01T11:00:00Z").create, None);
    let broken = cron_job(json!({"schedule": "61 * * * *"}), json!({}));
    let p = run(&broken, &[], "2024-05-01T11:00:00Z");
    assert_eq!(p.create, None);
    assert_eq!(p.events[0].1, "UnparseableSchedule");
}
