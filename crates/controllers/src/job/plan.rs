//! One Job sync as a pure function: from the Job, its pods and the clock to the status to
//! write and the pods to create, delete and stop tracking (upstream's syncJob, manageJob and
//! trackJobStatusAndRemoveFinalizers, without the I/O).
//!
//! Finished pods are counted in two steps so that none is lost or counted twice: their uids
//! first go to `status.uncountedTerminatedPods` (written before their tracking finalizer is
//! removed), and a later sync moves them to `succeeded`/`failed` once the finalizer is gone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::failure_policy::{self, Verdict};
use super::indexes;
use super::tracking::*;

/// Pods created per sync at most (upstream's burstReplicas).
pub const BURST: usize = 500;

#[derive(Debug, Default)]
pub struct Plan {
    pub status: JobStatus,
    /// One entry per pod to create: its completion index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    pub delete: Vec<Arc<Pod>>,
    /// Pods whose tracking finalizer goes once `status` is written.
    pub unfinalize: Vec<Arc<Pod>>,
    pub requeue_after: Option<Duration>,
    /// Events to record once `status` is written: (type, reason, message).
    pub events: Vec<(&'static str, String, String)>,
    pub backoff: Backoff,
}

pub fn plan(job: &Job, pods: &[Arc<Pod>], backoff: Backoff, now: Timestamp) -> Plan {
    let mut out = Plan {
        status: job.status.clone().unwrap_or_default(),
        backoff,
        ..Default::default()
    };
    if is_finished(job) || job.metadata.deletion_timestamp.is_some() {
        out.unfinalize = pods
            .iter()
            .filter(|p| has_tracking_finalizer(p))
            .cloned()
            .collect();
        return out;
    }
    let spec = job.spec.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let replace_only_failed = spec.pod_replacement_policy.as_deref() == Some("Failed");
    let status = &mut out.status;

    // Uncounted pods whose finalizer is gone are counted now.
    let uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    let by_uid: HashMap<String, &Arc<Pod>> =
        pods.iter().filter_map(|p| Some((p.uid()?, p))).collect();
    let still_tracked = |uid: &String| by_uid.get(uid).is_some_and(|p| has_tracking_finalizer(p));
    let mut uncounted_succeeded: BTreeSet<String> = BTreeSet::new();
    for uid in uncounted.succeeded.into_iter().flatten() {
        if still_tracked(&uid) {
            uncounted_succeeded.insert(uid);
        } else if !indexed {
            status.succeeded = Some(status.succeeded.unwrap_or(0) + 1);
        }
    }
    let mut uncounted_failed: BTreeSet<String> = BTreeSet::new();
    for uid in uncounted.failed.into_iter().flatten() {
        if still_tracked(&uid) {
            uncounted_failed.insert(uid);
        } else {
            status.failed = Some(status.failed.unwrap_or(0) + 1);
        }
    }

    let mut completed = completions
        .filter(|_| indexed)
        .map(|c| indexes::parse(status.completed_indexes.as_deref().unwrap_or(""), c))
        .unwrap_or_default();
    let mut active: Vec<Arc<Pod>> = Vec::new();
    let mut terminating = 0;
    let mut policy_failure: Option<String> = None;
    let (mut new_failures, mut latest_failure, mut new_success) = (0u32, None, false);
    for pod in pods {
        let tracked = has_tracking_finalizer(pod);
        let uid = pod.uid().unwrap_or_default();
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if deleting && !matches!(phase(pod), "Succeeded" | "Failed") {
            terminating += 1;
        }
        if phase(pod) == "Succeeded" {
            if let (true, Some(c)) = (indexed, completions)
                && let Some(index) = indexes::of_pod(pod, c)
                && (tracked || uncounted_succeeded.contains(&uid))
            {
                completed.insert(index);
            }
            if tracked {
                new_success |= uncounted_succeeded.insert(uid);
                out.unfinalize.push(pod.clone());
            }
        } else if is_failed(pod, replace_only_failed) {
            if tracked && !uncounted_failed.contains(&uid) {
                match failure_policy::judge(spec.pod_failure_policy.as_ref(), pod) {
                    Verdict::Ignore => {}
                    verdict => {
                        if let Verdict::FailJob(message) = verdict {
                            policy_failure.get_or_insert(message);
                        }
                        uncounted_failed.insert(uid);
                        new_failures += 1;
                        let finished = finish_time(pod, now);
                        latest_failure =
                            Some(latest_failure.map_or(finished, |l: Timestamp| l.max(finished)));
                    }
                }
            }
            if tracked {
                out.unfinalize.push(pod.clone());
            }
        } else if !deleting {
            active.push(pod.clone());
        }
    }
    out.backoff
        .record(new_failures, latest_failure, new_success);

    let succeeded = if indexed {
        completed.len() as i32
    } else {
        status.succeeded.unwrap_or(0) + uncounted_succeeded.len() as i32
    };
    let failed = status.failed.unwrap_or(0) + uncounted_failed.len() as i32;
    let suspended = spec.suspend == Some(true);
    if !suspended && status.start_time.is_none() {
        status.start_time = Some(Time(now));
    }

    // A Job reaching its end first gets a target condition; the terminal one follows when no
    // pod of it is left running or uncounted.
    let mut target =
        condition(status, FAILURE_TARGET).or_else(|| condition(status, SUCCESS_CRITERIA_MET));
    if target.is_none() {
        let deadline = spec
            .active_deadline_seconds
            .zip(status.start_time.as_ref())
            .map(|(seconds, start)| start.0 + jiff::SignedDuration::from_secs(seconds));
        let new_target = if let Some(message) = policy_failure {
            Some((FAILURE_TARGET, REASON_POD_FAILURE_POLICY, message))
        } else if failed > spec.backoff_limit.unwrap_or(6) {
            Some((
                FAILURE_TARGET,
                REASON_BACKOFF_LIMIT,
                MESSAGE_BACKOFF_LIMIT.into(),
            ))
        } else if !suspended && deadline.is_some_and(|d| now >= d) {
            Some((FAILURE_TARGET, REASON_DEADLINE, MESSAGE_DEADLINE.into()))
        } else if match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        } {
            Some((
                SUCCESS_CRITERIA_MET,
                REASON_COMPLETIONS_REACHED,
                MESSAGE_COMPLETIONS_REACHED.into(),
            ))
        } else {
            if let (false, Some(deadline)) = (suspended, deadline) {
                out.requeue_after = Some(deadline.duration_since(now).unsigned_abs());
            }
            None
        };
        if let Some((type_, reason, message)) = new_target {
            let cond = new_condition(type_, "True", reason, &message, now);
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .push(cond.clone());
            target = Some(cond);
        }
    }

    let mut remaining_active = active.len() as i32;
    if let Some(target) = &target {
        remaining_active = 0;
        out.delete = active.clone();
        let nothing_left = active.is_empty()
            && terminating == 0
            && uncounted_succeeded.is_empty()
            && uncounted_failed.is_empty();
        if nothing_left {
            let reason = target.reason.as_deref().unwrap_or("");
            let message = target.message.as_deref().unwrap_or("");
            if target.type_ == SUCCESS_CRITERIA_MET {
                status
                    .conditions
                    .get_or_insert_with(Vec::new)
                    .push(new_condition(COMPLETE, "True", reason, message, now));
                status.completion_time = Some(Time(now));
                out.events
                    .push(("Normal", "Completed".into(), "Job completed".into()));
            } else {
                status
                    .conditions
                    .get_or_insert_with(Vec::new)
                    .push(new_condition(FAILED, "True", reason, message, now));
                out.events.push(("Warning", reason.into(), message.into()));
            }
        }
    } else if suspended {
        remaining_active = 0;
        out.delete = active.clone();
        if ensure_condition(
            status,
            SUSPENDED,
            "True",
            "JobSuspended",
            "Job suspended",
            now,
        ) {
            out.events
                .push(("Normal", "Suspended".into(), "Job suspended".into()));
        }
    } else {
        if ensure_condition(status, SUSPENDED, "False", "JobResumed", "Job resumed", now) {
            status.start_time = Some(Time(now));
            out.events
                .push(("Normal", "Resumed".into(), "Job resumed".into()));
        }
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let want = match completions {
            Some(c) => (c - succeeded).min(parallelism),
            None if succeeded > 0 => active.len() as i32,
            None => parallelism,
        }
        .max(0);
        let blocked_by = if replace_only_failed { terminating } else { 0 };
        if indexed {
            let (extra, missing) = indexed_changes(
                &active,
                &completed,
                completions.unwrap_or(0),
                want - blocked_by,
            );
            out.delete = extra;
            out.create = missing.into_iter().map(Some).collect();
        } else if remaining_active > want {
            out.delete = pick_deletions(&active, (remaining_active - want) as usize);
        } else {
            let missing = (want - remaining_active - blocked_by).max(0) as usize;
            out.create = vec![None; missing];
        }
        if !out.create.is_empty()
            && let Some(wait) = out.backoff.remaining(now)
        {
            out.create.clear();
            out.requeue_after = Some(out.requeue_after.map_or(wait, |r| r.min(wait)));
        }
        out.create.truncate(BURST);
        remaining_active -= out.delete.len() as i32;
    }

    status.active = Some(remaining_active).filter(|n| *n > 0);
    status.ready = Some(
        active
            .iter()
            .filter(|p| is_ready(p) && !out.delete.iter().any(|d| Arc::ptr_eq(d, p)))
            .count() as i32,
    );
    status.terminating = Some(terminating);
    status.failed = Some(failed - uncounted_failed.len() as i32).filter(|n| *n > 0);
    if indexed {
        let text = indexes::format(&completed);
        status.completed_indexes = Some(text).filter(|t| !t.is_empty());
        status.succeeded = Some(succeeded).filter(|n| *n > 0);
    } else {
        status.succeeded = Some(succeeded - uncounted_succeeded.len() as i32).filter(|n| *n > 0);
    }
    let list =
        |set: BTreeSet<String>| Some(set.into_iter().collect::<Vec<_>>()).filter(|v| !v.is_empty());
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: list(uncounted_succeeded),
        failed: list(uncounted_failed),
    });
    out
}

/// For an Indexed Job: active pods to delete (invalid, completed or duplicate indexes) and
/// the lowest missing indexes to create, up to `want` active pods.
fn indexed_changes(
    active: &[Arc<Pod>],
    completed: &BTreeSet<i32>,
    completions: i32,
    want: i32,
) -> (Vec<Arc<Pod>>, Vec<i32>) {
    let mut running: BTreeSet<i32> = BTreeSet::new();
    let mut extra = Vec::new();
    for pod in active {
        match indexes::of_pod(pod, completions) {
            Some(index) if !completed.contains(&index) && running.insert(index) => {}
            _ => extra.push(pod.clone()),
        }
    }
    let room = (want - running.len() as i32).max(0) as usize;
    let missing = (0..completions)
        .filter(|i| !completed.contains(i) && !running.contains(i))
        .take(room)
        .collect();
    (extra, missing)
}

/// The `count` active pods least worth keeping: unscheduled, then not ready, then newest.
fn pick_deletions(active: &[Arc<Pod>], count: usize) -> Vec<Arc<Pod>> {
    let mut ranked: Vec<Arc<Pod>> = active.to_vec();
    ranked.sort_by_key(|p| {
        let scheduled = p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (scheduled, is_ready(p), std::cmp::Reverse(created))
    });
    ranked.truncate(count);
    ranked
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
