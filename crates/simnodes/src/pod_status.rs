//! Pod statuses a kubelet would post, built from the pod alone: running with an address,
//! finished (Succeeded or Failed), restarted after a failure (restartPolicy OnFailure), or
//! stopped for a deletion.

use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::{ids, qos};

/// Where a pod runs: its node's address and its own.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    pub host_ip: Ipv4Addr,
    pub pod_ip: Ipv4Addr,
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn current(pod: &Pod) -> PodStatus {
    pod.status.clone().unwrap_or_default()
}

/// Init containers with `restartPolicy: Always` are sidecars: they keep running.
fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn running_container(
    pod_uid: &str,
    c: &Container,
    restart_count: i32,
    last_state: Option<ContainerState>,
    now: Timestamp,
) -> ContainerStatus {
    let image = c.image.clone().unwrap_or_default();
    ContainerStatus {
        name: c.name.clone(),
        image_id: ids::image_id(&image),
        image,
        container_id: Some(ids::container_id(pod_uid, &c.name, restart_count)),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(now)),
            }),
            ..Default::default()
        }),
        last_state: Some(last_state.unwrap_or_default()),
        ready: true,
        started: Some(true),
        restart_count,
        ..Default::default()
    }
}

fn completed_init_container(pod_uid: &str, c: &Container, now: Timestamp) -> ContainerStatus {
    let image = c.image.clone().unwrap_or_default();
    let container_id = ids::container_id(pod_uid, &c.name, 0);
    ContainerStatus {
        name: c.name.clone(),
        image_id: ids::image_id(&image),
        image,
        container_id: Some(container_id.clone()),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 0,
                reason: Some("Completed".into()),
                started_at: Some(Time(now)),
                finished_at: Some(Time(now)),
                container_id: Some(container_id),
                ..Default::default()
            }),
            ..Default::default()
        }),
        last_state: Some(ContainerState::default()),
        ready: true,
        started: Some(false),
        restart_count: 0,
        ..Default::default()
    }
}

/// A running container status turned into its terminated form.
fn stopped(status: &ContainerStatus, exit_code: i32, now: Timestamp) -> ContainerState {
    let started_at = status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.clone());
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            started_at,
            finished_at: Some(Time(now)),
            container_id: status.container_id.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn is_running(status: &ContainerStatus) -> bool {
    status.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// Set a condition, keeping its transition time when its status does not change.
fn set_condition(
    conditions: &mut Vec<PodCondition>,
    type_: &str,
    status: bool,
    reason: Option<&str>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    let previous = conditions.iter().position(|c| c.type_ == type_);
    let transition = previous
        .map(|i| &conditions[i])
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = PodCondition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        last_transition_time: Some(transition),
        last_probe_time: None,
        ..Default::default()
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// Ready needs every readiness gate's condition to be True as well as the containers.
fn readiness_gates_ready(pod: &Pod, conditions: &[PodCondition]) -> bool {
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    gates.iter().all(|gate| {
        conditions
            .iter()
            .any(|c| c.type_ == gate.condition_type && c.status == "True")
    })
}

fn set_pod_conditions(
    pod: &Pod,
    status: &mut PodStatus,
    sandbox: bool,
    containers_ready: bool,
    not_ready_reason: Option<&str>,
    now: Timestamp,
) {
    let mut conditions = status.conditions.take().unwrap_or_default();
    set_condition(
        &mut conditions,
        "PodReadyToStartContainers",
        sandbox,
        None,
        now,
    );
    set_condition(&mut conditions, "Initialized", true, None, now);
    let gates_ready = readiness_gates_ready(pod, &conditions);
    let ready_reason = match (containers_ready, gates_ready) {
        (false, _) => not_ready_reason,
        (true, false) => Some("ReadinessGatesNotReady"),
        (true, true) => None,
    };
    set_condition(
        &mut conditions,
        "Ready",
        containers_ready && gates_ready,
        ready_reason,
        now,
    );
    set_condition(
        &mut conditions,
        "ContainersReady",
        containers_ready,
        not_ready_reason,
        now,
    );
    set_condition(&mut conditions, "PodScheduled", true, None, now);
    status.conditions = Some(conditions);
}

/// Running with every container started and ready, init containers completed.
pub fn running(pod: &Pod, placement: Placement, now: Timestamp) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let pod_uid = uid(pod);
    let mut status = current(pod);
    status.phase = Some("Running".into());
    status.host_ip = Some(placement.host_ip.to_string());
    status.host_ips = Some(vec![HostIP {
        ip: placement.host_ip.to_string(),
    }]);
    status.pod_ip = Some(placement.pod_ip.to_string());
    status.pod_ips = Some(vec![PodIP {
        ip: placement.pod_ip.to_string(),
    }]);
    status.start_time.get_or_insert(Time(now));
    status
        .qos_class
        .get_or_insert_with(|| qos::class(&spec).into());
    let init = spec.init_containers.as_deref().unwrap_or_default();
    status.init_container_statuses = (!init.is_empty()).then(|| {
        init.iter()
            .map(|c| match is_sidecar(c) {
                true => running_container(pod_uid, c, 0, None, now),
                false => completed_init_container(pod_uid, c, now),
            })
            .collect()
    });
    status.container_statuses = Some(
        spec.containers
            .iter()
            .map(|c| running_container(pod_uid, c, 0, None, now))
            .collect(),
    );
    set_pod_conditions(pod, &mut status, true, true, None, now);
    status
}

/// Every running container exited with `exit_code` and the pod reached its terminal phase:
/// Succeeded when the exit code is 0, else Failed.
pub fn finished(pod: &Pod, exit_code: i32, now: Timestamp) -> PodStatus {
    let mut status = current(pod);
    let succeeded = exit_code == 0;
    let stop_all = |statuses: &mut Option<Vec<ContainerStatus>>| {
        for s in statuses.iter_mut().flatten().filter(|s| is_running(s)) {
            s.state = Some(stopped(s, exit_code, now));
            s.ready = false;
            s.started = Some(false);
        }
    };
    stop_all(&mut status.container_statuses);
    stop_all(&mut status.init_container_statuses);
    status.phase = Some(if succeeded { "Succeeded" } else { "Failed" }.into());
    let reason = if succeeded {
        "PodCompleted"
    } else {
        "PodFailed"
    };
    set_pod_conditions(pod, &mut status, false, false, Some(reason), now);
    status
}

/// restartPolicy OnFailure: the failed containers run again, the failure kept as lastState.
pub fn restarted(pod: &Pod, exit_code: i32, now: Timestamp) -> PodStatus {
    let pod_uid = uid(pod);
    let spec = pod.spec.clone().unwrap_or_default();
    let mut status = current(pod);
    let statuses = status.container_statuses.take().unwrap_or_default();
    status.container_statuses = Some(
        spec.containers
            .iter()
            .map(|c| {
                let previous = statuses.iter().find(|s| s.name == c.name);
                let restarts = previous.map_or(0, |s| s.restart_count + 1);
                let last = previous.map(|s| stopped(s, exit_code, now));
                running_container(pod_uid, c, restarts, last, now)
            })
            .collect(),
    );
    set_pod_conditions(pod, &mut status, true, true, None, now);
    status
}

/// When the containers started last; a run duration counts from there.
pub fn last_started(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|s| s.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0)
        .max()
}

#[cfg(test)]
#[path = "pod_status_tests.rs"]
mod tests;
