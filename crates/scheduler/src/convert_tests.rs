use super::*;
use serde_json::json;

#[test]
fn requests_with_init_containers_sidecars_and_overhead() {
    let p: core::Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m", "nvidia.com/gpu": "1"}}}
            ],
            "initContainers": [
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "1", "memory": "10Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }
    }))
    .unwrap();
    let info = pod(&p);
    // max(300m + 50m sidecar, 1000m init + 50m sidecar) + 10m overhead.
    assert_eq!(info.requests.milli_cpu, 1060);
    assert_eq!(info.requests.memory, 100 * 1024 * 1024);
    assert_eq!(info.requests.scalar("nvidia.com/gpu"), 1);
    // Container b and the sidecar set no memory: 200Mi each is assumed for scoring.
    assert_eq!(
        info.non_zero_memory,
        100 * 1024 * 1024 + 2 * DEFAULT_MEMORY_REQUEST
    );
}

#[test]
fn priority_is_what_admission_resolved() {
    let p: core::Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [], "priorityClassName": "high", "priority": 1000,
                 "preemptionPolicy": "Never"}
    }))
    .unwrap();
    let info = pod(&p);
    assert_eq!((info.priority, info.preempt_never), (1000, true));
    let plain: core::Pod =
        serde_json::from_value(json!({"metadata": {"name": "q"}, "spec": {"containers": []}}))
            .unwrap();
    assert_eq!(pod(&plain).priority, 0);
}
