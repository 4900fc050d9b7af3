//! What a simulated kubelet does next with a pod bound to one of its nodes, decided from the
//! pod alone so a restarted simulator picks up where the last one stopped.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::pod_status;

/// Seconds the containers of a pod with restartPolicy Never or OnFailure run before exiting.
pub const RUN_SECONDS_ANNOTATION: &str = "sim.keelson.dev/run-seconds";
/// The exit code those containers exit with (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "sim.keelson.dev/exit-code";
/// Exit code of containers stopped for a deletion (SIGTERM: 128 + 15).
pub const TERMINATED_EXIT_CODE: i32 = 143;

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Nothing,
    /// Post the Running status.
    Start,
    /// Containers still running; look again at this time.
    WakeAt(Timestamp),
    /// Containers exit now with this code.
    Exit {
        exit_code: i32,
    },
    /// Deletion requested while containers run: stop them, then delete the pod.
    Terminate,
    /// Deletion requested and nothing runs: delete the pod.
    Delete,
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn owned_by_job(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Job" && o.api_version.starts_with("batch/"))
}

/// How long the containers run before exiting on their own; `None` for long-running pods.
pub fn run_duration(pod: &Pod, job_duration: Duration) -> Option<Duration> {
    if restart_policy(pod) == "Always" {
        return None;
    }
    let annotated = annotation(pod, RUN_SECONDS_ANNOTATION)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    annotated.or_else(|| owned_by_job(pod).then_some(job_duration))
}

pub fn exit_code(pod: &Pod) -> i32 {
    annotation(pod, EXIT_CODE_ANNOTATION)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

pub fn decide(pod: &Pod, now: Timestamp, job_duration: Duration) -> Decision {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let running = phase == "Running" && status.is_some_and(|s| s.pod_ip.is_some());
    if pod.metadata.deletion_timestamp.is_some() {
        // A pod already deleted with grace 0 waits only for its finalizers.
        let already_deleted = pod.metadata.deletion_grace_period_seconds == Some(0);
        return match (running && !terminal, already_deleted) {
            (true, _) => Decision::Terminate,
            (false, true) => Decision::Nothing,
            (false, false) => Decision::Delete,
        };
    }
    if terminal {
        return Decision::Nothing;
    }
    if !running {
        return Decision::Start;
    }
    let Some(duration) = run_duration(pod, job_duration) else {
        return Decision::Nothing;
    };
    let started = pod_status::last_started(pod).unwrap_or(now);
    let deadline = started
        .checked_add(jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX);
    if now >= deadline {
        Decision::Exit {
            exit_code: exit_code(pod),
        }
    } else {
        Decision::WakeAt(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(extra: serde_json::Value) -> Pod {
        let mut base = json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"nodeName": "sim-0", "containers": [{"name": "c", "image": "busybox"}]},
        });
        merge(&mut base, extra);
        serde_json::from_value(base).unwrap()
    }

    fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
        match (base, extra) {
            (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
                for (k, v) in e {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, e) => *b = e,
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const T0: &str = "2026-01-01T00:00:00Z";

    fn running(extra: serde_json::Value) -> Pod {
        let mut p = pod(json!({"status": {"phase": "Running", "podIP": "100.64.0.2",
            "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": true,
              "restartCount": 0, "state": {"running": {"startedAt": T0}}}]}}));
        let mut value = serde_json::to_value(&p).unwrap();
        merge(&mut value, extra);
        p = serde_json::from_value(value).unwrap();
        p
    }

    #[test]
    fn pending_pods_start() {
        assert_eq!(
            decide(&pod(json!({})), ts(T0), Duration::from_secs(2)),
            Decision::Start
        );
    }

    #[test]
    fn long_running_pods_stay() {
        let p = running(json!({}));
        assert_eq!(
            decide(&p, ts(T0), Duration::from_secs(2)),
            Decision::Nothing
        );
    }

    #[test]
    fn job_pods_exit_after_the_job_duration() {
        let p = running(
            json!({"metadata": {"ownerReferences": [{"apiVersion": "batch/v1",
            "kind": "Job", "name": "j", "uid": "j1"}]}, "spec": {"restartPolicy": "Never"}}),
        );
        let d = Duration::from_secs(2);
        assert_eq!(
            decide(&p, ts("2026-01-01T00:00:01Z"), d),
            Decision::WakeAt(ts("2026-01-01T00:00:02Z"))
        );
        assert_eq!(
            decide(&p, ts("2026-01-01T00:00:02Z"), d),
            Decision::Exit { exit_code: 0 }
        );
    }

    #[test]
    fn annotations_set_run_time_and_exit_code_for_non_restarting_pods() {
        let annotated = json!({"metadata": {"annotations": {RUN_SECONDS_ANNOTATION: "5",
            EXIT_CODE_ANNOTATION: "1"}}, "spec": {"restartPolicy": "OnFailure"}});
        let p = running(annotated.clone());
        assert_eq!(
            decide(&p, ts("2026-01-01T00:00:04Z"), Duration::from_secs(2)),
            Decision::WakeAt(ts("2026-01-01T00:00:05Z"))
        );
        assert_eq!(
            decide(&p, ts("2026-01-01T00:00:05Z"), Duration::from_secs(2)),
            Decision::Exit { exit_code: 1 }
        );
        // restartPolicy Always never exits on its own, whatever the annotation says.
        let mut always = annotated;
        always["spec"]["restartPolicy"] = json!("Always");
        assert_eq!(
            decide(
                &running(always),
                ts("2026-01-02T00:00:00Z"),
                Duration::from_secs(2)
            ),
            Decision::Nothing
        );
    }

    #[test]
    fn deletion_terminates_running_pods_and_deletes_the_rest() {
        let deleting =
            json!({"metadata": {"deletionTimestamp": T0, "deletionGracePeriodSeconds": 30}});
        let now = ts(T0);
        let d = Duration::from_secs(2);
        assert_eq!(
            decide(&running(deleting.clone()), now, d),
            Decision::Terminate
        );
        assert_eq!(decide(&pod(deleting.clone()), now, d), Decision::Delete);
        let mut finished = running(deleting);
        finished.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert_eq!(decide(&finished, now, d), Decision::Delete);
        finished.metadata.deletion_grace_period_seconds = Some(0);
        assert_eq!(
            decide(&finished, now, d),
            Decision::Nothing,
            "finalizers pending"
        );
    }

    #[test]
    fn terminal_pods_are_left_alone() {
        let p = pod(json!({"status": {"phase": "Failed"}}));
        assert_eq!(
            decide(&p, ts(T0), Duration::from_secs(2)),
            Decision::Nothing
        );
    }
}
