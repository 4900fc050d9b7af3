//! One CronJob sync as a pure function of the CronJob, its Jobs and the clock (upstream's
//! cronjob_controllerv2 syncCronJob and cleanupFinishedJobs without the I/O), so tests can
//! drive it with any clock.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::schedule::Schedule;
use crate::job::tracking::{COMPLETE, FAILED, condition, is_finished};

/// Missed start times beyond which upstream warns that the clock or deadline is off.
const TOO_MANY_MISSED: usize = 100;
/// Upstream wakes a little after the schedule time so the time has surely passed.
const WAKE_DELTA: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub struct Plan {
    pub status: CronJobStatus,
    /// The start time of the Job to create.
    pub create: Option<Timestamp>,
    /// Active Jobs to delete first (concurrencyPolicy Replace).
    pub replace: Vec<ObjectReference>,
    /// Finished Jobs beyond the history limits.
    pub prune: Vec<Arc<Job>>,
    pub events: Vec<(&'static str, &'static str, String)>,
    pub requeue_after: Option<Duration>,
}

/// `children`: the Jobs this CronJob controls; `missing`: uids of `status.active` entries
/// the API confirmed are gone; `zone`: `spec.timeZone` resolved (or the local zone).
pub fn plan(
    cron_job: &CronJob,
    children: &[Arc<Job>],
    missing: &HashSet<String>,
    zone: &TimeZone,
    now: Timestamp,
) -> Plan {
    let mut out = Plan {
        status: cron_job.status.clone().unwrap_or_default(),
        ..Default::default()
    };
    reconcile_active(&mut out, children, missing);
    out.prune = over_history_limits(cron_job, children);
    if cron_job.metadata.deletion_timestamp.is_some() {
        return out;
    }
    let spec = cron_job.spec.clone().unwrap_or_default();
    if spec.suspend == Some(true) {
        return out;
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(err) => {
            let message = format!("unparseable schedule: {:?} : {err}", spec.schedule);
            out.events.push(("Warning", "UnparseableSchedule", message));
            return out;
        }
    };
    let next_wake = |out: &mut Plan| {
        out.requeue_after = schedule
            .next_after(now, zone)
            .map(|next| next.duration_since(now).unsigned_abs() + WAKE_DELTA);
    };
    let (scheduled, missed) = most_recent(cron_job, &schedule, zone, now);
    let Some(scheduled) = scheduled else {
        next_wake(&mut out);
        return out;
    };
    if missed > TOO_MANY_MISSED {
        let message = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_string();
        out.events.push(("Warning", "TooManyMissedTimes", message));
    }
    next_wake(&mut out);
    if let Some(deadline) = spec.starting_deadline_seconds
        && scheduled + SignedDuration::from_secs(deadline) < now
    {
        let when = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z");
        out.events.push((
            "Warning",
            "MissSchedule",
            format!("Missed scheduled time to start a job: {when}"),
        ));
        return out;
    }
    let name = job_name(&cron_job.name_any(), scheduled);
    let already = children.iter().any(|j| j.name_any() == name)
        || out
            .status
            .active
            .iter()
            .flatten()
            .any(|a| a.name.as_deref() == Some(name.as_str()));
    if already {
        // Created by an earlier sync whose status write was lost.
        if out
            .status
            .last_schedule_time
            .as_ref()
            .is_none_or(|t| t.0 < scheduled)
        {
            out.status.last_schedule_time = Some(Time(scheduled));
        }
        return out;
    }
    let active = out.status.active.clone().unwrap_or_default();
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            let message = "Not starting job because prior execution is running and concurrency policy is Forbid";
            out.events
                .push(("Normal", "JobAlreadyActive", message.into()));
            return out;
        }
        Some("Replace") => {
            out.replace = active;
            out.status.active = None;
        }
        _ => {}
    }
    out.create = Some(scheduled);
    out.status.last_schedule_time = Some(Time(scheduled));
    out
}

/// `<cronjob>-<scheduled time in minutes since the epoch>`, as upstream names them.
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second().div_euclid(60))
}

/// The latest start time not after `now` that has not run yet, and how many were missed.
fn most_recent(
    cron_job: &CronJob,
    schedule: &Schedule,
    zone: &TimeZone,
    now: Timestamp,
) -> (Option<Timestamp>, usize) {
    let spec = cron_job.spec.as_ref();
    let created = cron_job.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let last = cron_job
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .map(|t| t.0);
    let Some(mut earliest) = last.or(created) else {
        return (None, 0);
    };
    if let Some(deadline) = spec.and_then(|s| s.starting_deadline_seconds) {
        earliest = earliest.max(now - SignedDuration::from_secs(deadline));
    }
    let mut found = None;
    let mut count = 0;
    let mut cursor = earliest;
    while let Some(next) = schedule.next_after(cursor, zone) {
        if next > now {
            break;
        }
        found = Some(next);
        count += 1;
        cursor = next;
    }
    (found, count)
}

/// Drop finished and vanished Jobs from `status.active`, adopt unfinished children missing
/// from it, and remember the latest successful completion.
fn reconcile_active(out: &mut Plan, children: &[Arc<Job>], missing: &HashSet<String>) {
    let mut active = out.status.active.take().unwrap_or_default();
    for child in children {
        let uid = child.uid();
        let listed = active.iter().any(|a| a.uid == uid);
        if !listed && !is_finished(child) && child.metadata.deletion_timestamp.is_none() {
            active.push(reference(child));
        } else if listed && is_finished(child) {
            active.retain(|a| a.uid != uid);
            let status = child.status.clone().unwrap_or_default();
            let outcome = if condition(&status, COMPLETE).is_some() {
                COMPLETE
            } else {
                FAILED
            };
            let message = format!(
                "Saw completed job: {}, condition: {outcome}",
                child.name_any()
            );
            out.events.push(("Normal", "SawCompletedJob", message));
            if let Some(done) = status.completion_time.filter(|_| outcome == COMPLETE)
                && out
                    .status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|t| t.0 < done.0)
            {
                out.status.last_successful_time = Some(done);
            }
        }
    }
    active.retain(|a| {
        let gone = a.uid.as_ref().is_some_and(|uid| missing.contains(uid));
        if gone {
            let name = a.name.clone().unwrap_or_default();
            out.events.push((
                "Warning",
                "MissingJob",
                format!("Active job went missing: {name}"),
            ));
        }
        !gone
    });
    out.status.active = Some(active).filter(|a| !a.is_empty());
}

/// Finished Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`, oldest first.
fn over_history_limits(cron_job: &CronJob, children: &[Arc<Job>]) -> Vec<Arc<Job>> {
    let spec = cron_job.spec.as_ref();
    let mut prune = Vec::new();
    for (outcome, limit) in [
        (COMPLETE, spec.and_then(|s| s.successful_jobs_history_limit)),
        (FAILED, spec.and_then(|s| s.failed_jobs_history_limit)),
    ] {
        let Some(limit) = limit else { continue };
        let mut finished: Vec<Arc<Job>> = children
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .filter(|j| {
                j.status
                    .as_ref()
                    .is_some_and(|s| condition(s, outcome).is_some())
            })
            .cloned()
            .collect();
        // Jobs that never started sort last, as upstream's byJobStartTime.
        finished.sort_by_key(|j| {
            let start = j
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0);
            (start.is_none(), start, j.name_any())
        });
        let excess = finished.len().saturating_sub(limit.max(0) as usize);
        prune.extend(finished.into_iter().take(excess));
    }
    prune
}

pub fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(job.name_any()),
        namespace: job.namespace(),
        uid: job.uid(),
        resource_version: job.resource_version(),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
