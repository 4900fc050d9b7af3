//! Pod states the StatefulSet and DaemonSet controllers act on, beyond podcontrol's readiness.

use k8s_openapi::api::core::v1::Pod;

pub use crate::podcontrol::pods::{is_available, is_ready, until_available};

pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Succeeded or Failed: the pod will not run again.
pub fn is_finished(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// Upstream's isRunningAndReady.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    phase == Some("Running") && is_ready(pod)
}
