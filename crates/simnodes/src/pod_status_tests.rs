use super::*;
use serde_json::json;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
        "spec": spec,
    }))
    .unwrap()
}

fn placement() -> Placement {
    Placement {
        host_ip: Ipv4Addr::new(198, 18, 0, 1),
        pod_ip: Ipv4Addr::new(100, 64, 0, 2),
    }
}

fn condition<'a>(status: &'a PodStatus, type_: &str) -> &'a PodCondition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition"))
}

#[test]
fn running_pods_have_addresses_conditions_and_ready_containers() {
    let now = ts("2026-01-01T00:00:00Z");
    let p = pod(
        json!({"containers": [{"name": "app", "image": "nginx:1.27"},
                                      {"name": "side", "image": "envoy"}],
                      "initContainers": [{"name": "init", "image": "busybox"},
                                         {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]}),
    );
    let s = running(&p, placement(), now);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.pod_ip.as_deref(), Some("100.64.0.2"));
    assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "100.64.0.2");
    assert_eq!(s.host_ip.as_deref(), Some("198.18.0.1"));
    assert_eq!(s.host_ips.as_ref().unwrap()[0].ip, "198.18.0.1");
    assert_eq!(s.start_time.as_ref().unwrap().0, now);
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        let c = condition(&s, type_);
        assert_eq!(c.status, "True", "{type_}");
        assert_eq!(c.last_transition_time.as_ref().unwrap().0, now);
    }
    let containers = s.container_statuses.as_ref().unwrap();
    assert_eq!(containers.len(), 2);
    let app = &containers[0];
    assert_eq!(app.name, "app");
    assert_eq!(app.image, "nginx:1.27");
    assert_eq!(app.image_id, "sim://nginx:1.27");
    assert!(app.container_id.as_ref().unwrap().starts_with("sim://"));
    assert!(app.ready);
    assert_eq!(app.started, Some(true));
    assert_eq!(app.restart_count, 0);
    let started = app.state.as_ref().unwrap().running.as_ref().unwrap();
    assert_eq!(started.started_at.as_ref().unwrap().0, now);

    let init = s.init_container_statuses.as_ref().unwrap();
    let done = init[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(done.exit_code, 0);
    assert_eq!(done.reason.as_deref(), Some("Completed"));
    assert!(
        init[1].state.as_ref().unwrap().running.is_some(),
        "sidecars keep running"
    );
}

#[test]
fn transition_times_survive_unchanged_conditions() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let t1 = ts("2026-01-01T00:01:00Z");
    let mut p = pod(json!({"containers": [{"name": "c", "image": "i"}]}));
    p.status = Some(PodStatus {
        conditions: Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            last_transition_time: Some(Time(t0)),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let s = running(&p, placement(), t1);
    assert_eq!(
        condition(&s, "PodScheduled")
            .last_transition_time
            .as_ref()
            .unwrap()
            .0,
        t0
    );
    assert_eq!(
        condition(&s, "Ready")
            .last_transition_time
            .as_ref()
            .unwrap()
            .0,
        t1
    );
}

#[test]
fn readiness_gates_hold_back_ready() {
    let now = ts("2026-01-01T00:00:00Z");
    let p = pod(json!({"containers": [{"name": "c", "image": "i"}],
                      "readinessGates": [{"conditionType": "example.com/lb"}]}));
    let s = running(&p, placement(), now);
    assert_eq!(condition(&s, "ContainersReady").status, "True");
    let ready = condition(&s, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
}

#[test]
fn finished_pods_succeed_or_fail_by_exit_code() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let t1 = ts("2026-01-01T00:00:02Z");
    let mut p = pod(json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}));
    p.status = Some(running(&p, placement(), t0));
    assert_eq!(last_started(&p), Some(t0));

    let ok = finished(&p, 0, t1);
    assert_eq!(ok.phase.as_deref(), Some("Succeeded"));
    let c = &ok.container_statuses.as_ref().unwrap()[0];
    assert!(!c.ready);
    let term = c.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert_eq!(term.started_at.as_ref().unwrap().0, t0);
    assert_eq!(term.finished_at.as_ref().unwrap().0, t1);
    assert!(c.state.as_ref().unwrap().running.is_none());
    assert_eq!(condition(&ok, "Ready").status, "False");
    assert_eq!(
        condition(&ok, "Ready").reason.as_deref(),
        Some("PodCompleted")
    );
    assert_eq!(condition(&ok, "PodReadyToStartContainers").status, "False");
    assert_eq!(ok.pod_ip.as_deref(), Some("100.64.0.2"));

    let failed = finished(&p, 1, t1);
    assert_eq!(failed.phase.as_deref(), Some("Failed"));
    let term = failed.container_statuses.as_ref().unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    assert_eq!((term.exit_code, term.reason.as_deref()), (1, Some("Error")));
}

#[test]
fn on_failure_restarts_count_and_keep_the_failure() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let t1 = ts("2026-01-01T00:00:02Z");
    let mut p =
        pod(json!({"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}));
    p.status = Some(running(&p, placement(), t0));
    let s = restarted(&p, 1, t1);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(c.restart_count, 1);
    assert!(c.ready);
    let last = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(
        c.state
            .as_ref()
            .unwrap()
            .running
            .as_ref()
            .unwrap()
            .started_at
            .as_ref()
            .unwrap()
            .0,
        t1
    );
    assert_ne!(
        c.container_id,
        p.status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .container_id
    );
    assert_eq!(
        last_started(&Pod {
            status: Some(s),
            ..p
        }),
        Some(t1)
    );
}
