//! The vocabulary of Job status: conditions as upstream 1.33 writes them, what counts as a
//! finished, failed or active pod, and the back-off between pod recreations.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

/// Keeps a finished pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUSPENDED: &str = "Suspended";

pub const REASON_BACKOFF_LIMIT: &str = "BackoffLimitExceeded";
pub const REASON_DEADLINE: &str = "DeadlineExceeded";
pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";

pub const MESSAGE_BACKOFF_LIMIT: &str = "Job has reached the specified backoff limit";
pub const MESSAGE_DEADLINE: &str = "Job was active longer than specified deadline";
pub const MESSAGE_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";

const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(6 * 60);

pub fn condition(status: &JobStatus, type_: &str) -> Option<JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
        .cloned()
}

/// Whether the Job carries a true Complete or Failed condition.
pub fn is_finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| condition(s, COMPLETE).is_some() || condition(s, FAILED).is_some())
}

pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()).filter(|r: &String| !r.is_empty()),
        message: Some(message.into()).filter(|m: &String| !m.is_empty()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set a condition's status, keeping its transition time when the status does not change;
/// returns whether anything changed.
pub fn ensure_condition(
    status: &mut JobStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let existing = status
        .conditions
        .iter_mut()
        .flatten()
        .find(|c| c.type_ == type_);
    match existing {
        Some(existing) if existing.status == value => false,
        Some(existing) => {
            *existing = new_condition(type_, value, reason, message, now);
            true
        }
        // A condition that would only say "False" is not added until it was once true.
        None if value == "False" => false,
        None => {
            let conditions = status.conditions.get_or_insert_with(Vec::new);
            conditions.push(new_condition(type_, value, reason, message, now));
            true
        }
    }
}

pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether `pod` counts as failed: phase Failed or, unless the Job only replaces pods once
/// they have failed (podReplacementPolicy Failed), deleted before it succeeded.
pub fn is_failed(pod: &Pod, replace_only_failed: bool) -> bool {
    match phase(pod) {
        "Failed" => true,
        "Succeeded" => false,
        _ => !replace_only_failed && pod.metadata.deletion_timestamp.is_some(),
    }
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// When a failed pod finished: its last container termination, else now.
pub fn finish_time(pod: &Pod, now: Timestamp) -> Timestamp {
    pod.status
        .as_ref()
        .into_iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .unwrap_or(now)
}

/// Consecutive failures since the Job's last success and when the latest happened: new pods
/// wait 10 s after the first failure, doubling up to 6 minutes, as upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    pub failures: u32,
    pub last_failure: Option<Timestamp>,
}

impl Backoff {
    pub fn record(&mut self, new_failures: u32, latest: Option<Timestamp>, succeeded: bool) {
        if succeeded && new_failures == 0 {
            *self = Backoff::default();
            return;
        }
        self.failures += new_failures;
        if let Some(latest) = latest {
            self.last_failure = Some(self.last_failure.map_or(latest, |l| l.max(latest)));
        }
    }

    /// How long until new pods may be created.
    pub fn remaining(&self, now: Timestamp) -> Option<Duration> {
        let last = self.last_failure?;
        if self.failures == 0 {
            return None;
        }
        let doublings = (self.failures - 1).min(16);
        let delay = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_MAX);
        let elapsed = now.duration_since(last).unsigned_abs();
        delay.checked_sub(elapsed).filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_six_minutes_and_resets_on_success() {
        let t0: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.remaining(t0), None);
        backoff.record(1, Some(t0), false);
        assert_eq!(backoff.remaining(t0), Some(Duration::from_secs(10)));
        backoff.record(2, Some(t0), false);
        assert_eq!(backoff.remaining(t0), Some(Duration::from_secs(40)));
        backoff.record(10, Some(t0), false);
        assert_eq!(backoff.remaining(t0), Some(BACKOFF_MAX));
        let later = t0 + jiff::SignedDuration::from_secs(400);
        assert_eq!(backoff.remaining(later), None);
        backoff.record(0, None, true);
        assert_eq!(backoff, Backoff::default());
    }
}
