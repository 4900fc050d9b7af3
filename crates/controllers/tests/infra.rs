//! The service-networking and node-health controllers in a real control plane, driven with
//! kube-rs: endpoints and EndpointSlices, node lifecycle (with taint-based eviction), node
//! IPAM, PodDisruptionBudget status against the eviction API, and ResourceQuota usage.
//!
//! The test plays the kubelets: it creates Node objects and their Leases, binds pods by
//! naming the node, and reports pod status through pods/status.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Node, Pod, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use keelson_controllers::informers::Informers;
use keelson_controllers::nodelifecycle;
use keelson_e2e::ControlPlane;
use kube::Client;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Generous: the control plane starts many controllers at once.
const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

async fn connect(plane: &ControlPlane) -> anyhow::Result<Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

/// Poll `check` until it yields a value, failing with its last complaint after `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => {
                anyhow::bail!("timed out waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn now() -> String {
    Timestamp::now().to_string()
}

/// A node reporting Ready, with a zone label.
async fn create_node(client: &Client, name: &str, zone: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = json!({"metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}}});
    nodes
        .create(&PostParams::default(), &serde_json::from_value(node)?)
        .await?;
    post_ready(client, name).await
}

/// Act as the node's kubelet posting a Ready status.
async fn post_ready(client: &Client, name: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let capacity = json!({"cpu": "4", "memory": "8Gi", "pods": "110"});
    let status = json!({"status": {
        "capacity": capacity, "allocatable": capacity,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now(), "lastTransitionTime": now()}]
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// Create or renew the node's Lease in kube-node-lease.
async fn renew_lease(client: &Client, node: &str) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now()}});
    leases
        .patch(
            node,
            &PatchParams::apply("kubelet").force(),
            &Patch::Apply(&lease),
        )
        .await?;
    Ok(())
}

async fn create_pod(client: &Client, pod: Value) -> anyhow::Result<()> {
    // Admission wants the namespace's default service account; the service account
    // controller makes it, but this test does not depend on how soon.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
    let account = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(err) => return Err(err.into()),
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.create(&PostParams::default(), &serde_json::from_value(pod)?)
        .await?;
    Ok(())
}

/// A pod bound to `node` whose one container serves port `http` (8080).
fn web_pod(name: &str, node: &str, extra_spec: Value) -> Value {
    let mut pod = json!({"metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 8080}]}]}});
    if let (Some(spec), Some(extra)) = (pod["spec"].as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    pod
}

/// Act as the kubelet: the pod runs at `ip`, ready or not.
async fn report_pod(client: &Client, name: &str, ip: &str, ready: bool) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let ready = if ready { "True" } else { "False" };
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "hostIP": "192.168.0.1", "startTime": now(),
        "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": now()},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": now()}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn addresses(subset: &Value, field: &str) -> Vec<String> {
    subset[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["ip"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn endpoints_and_slices_follow_ready_and_not_ready_pods() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    create_node(&client, "node-a", "zone-a").await?;
    create_pod(
        &client,
        web_pod(
            "web-0",
            "node-a",
            json!({"hostname": "web-0", "subdomain": "web"}),
        ),
    )
    .await?;
    create_pod(&client, web_pod("web-1", "node-a", json!({}))).await?;
    report_pod(&client, "web-0", "10.64.0.10", true).await?;
    report_pod(&client, "web-1", "10.64.0.11", false).await?;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let service = json!({"metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
    services
        .create(&PostParams::default(), &serde_json::from_value(service)?)
        .await?;
    // A service without a selector: its Endpoints belong to the user.
    let manual = json!({"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 81}]}});
    services
        .create(&PostParams::default(), &serde_json::from_value(manual)?)
        .await?;
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), NS);
    let own = json!({"metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": "192.168.9.9"}], "ports": [{"port": 81}]}]});
    endpoints
        .create(&PostParams::default(), &serde_json::from_value(own)?)
        .await?;

    let found = wait_for("endpoints of web", WAIT, || async {
        let got = endpoints.get_opt("web").await.map_err(|e| e.to_string())?;
        let value = serde_json::to_value(got.ok_or("no endpoints yet")?).unwrap();
        let subset = &value["subsets"][0];
        let complete = addresses(subset, "addresses") == ["10.64.0.10"]
            && addresses(subset, "notReadyAddresses") == ["10.64.0.11"];
        if complete {
            Ok(value)
        } else {
            Err(format!("{value}"))
        }
    })
    .await?;
    let subset = &found["subsets"][0];
    assert_eq!(
        subset["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let ready = &subset["addresses"][0];
    assert_eq!(ready["hostname"], "web-0");
    assert_eq!(ready["nodeName"], "node-a");
    assert_eq!(ready["targetRef"]["kind"], "Pod");
    assert_eq!(ready["targetRef"]["name"], "web-0");
    assert!(subset["notReadyAddresses"][0].get("hostname").is_none());
    assert_eq!(found["metadata"]["labels"]["team"], "a");
    assert!(
        found["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string()
    );

    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    let by_service = ListParams::default().labels("kubernetes.io/service-name=web");
    let slice = wait_for("the slice of web", WAIT, || async {
        let list = slices.list(&by_service).await.map_err(|e| e.to_string())?;
        match list.items.as_slice() {
            [one] if one.endpoints.len() == 2 => Ok(serde_json::to_value(one).unwrap()),
            other => Err(format!("{} slices", other.len())),
        }
    })
    .await?;
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["metadata"]["generateName"], "web-");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["team"], "a");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["name"], "web");
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let endpoint = |ip: &str| {
        slice["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["addresses"][0] == ip)
            .cloned()
            .unwrap()
    };
    let ready = endpoint("10.64.0.10");
    assert_eq!(
        ready["conditions"],
        json!({"ready": true, "serving": true, "terminating": false})
    );
    assert_eq!(ready["nodeName"], "node-a");
    assert_eq!(ready["zone"], "zone-a");
    assert_eq!(ready["hostname"], "web-0");
    assert_eq!(ready["targetRef"]["name"], "web-0");
    let not_ready = endpoint("10.64.0.11");
    assert_eq!(
        not_ready["conditions"],
        json!({"ready": false, "serving": false, "terminating": false})
    );

    // The second pod becomes ready; then the first is force-deleted.
    report_pod(&client, "web-1", "10.64.0.11", true).await?;
    wait_for("both addresses ready", WAIT, || async {
        let got =
            serde_json::to_value(endpoints.get("web").await.map_err(|e| e.to_string())?).unwrap();
        let mut ready = addresses(&got["subsets"][0], "addresses");
        ready.sort();
        if ready == ["10.64.0.10", "10.64.0.11"] {
            Ok(())
        } else {
            Err(got.to_string())
        }
    })
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.delete("web-0", &DeleteParams::default().grace_period(0))
        .await?;
    wait_for(
        "the deleted pod to leave endpoints and slices",
        WAIT,
        || async {
            let got = serde_json::to_value(endpoints.get("web").await.map_err(|e| e.to_string())?)
                .unwrap();
            let list = slices.list(&by_service).await.map_err(|e| e.to_string())?;
            let slice_ips: Vec<String> = list
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.clone()))
                .collect();
            let ready = addresses(&got["subsets"][0], "addresses");
            if ready == ["10.64.0.11"] && slice_ips == ["10.64.0.11"] {
                Ok(())
            } else {
                Err(format!("{ready:?} {slice_ips:?}"))
            }
        },
    )
    .await?;

    // The selectorless service's Endpoints are untouched, and it gets no slices.
    let manual = endpoints.get("manual").await?;
    assert_eq!(
        addresses(&serde_json::to_value(&manual)?["subsets"][0], "addresses"),
        ["192.168.9.9"]
    );
    let manual_slices = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=manual"))
        .await?;
    assert!(manual_slices.items.is_empty());

    // Deleting the service deletes its Endpoints (and the collector its slices).
    services.delete("web", &DeleteParams::default()).await?;
    wait_for(
        "the endpoints of the deleted service to go",
        WAIT,
        || async {
            match endpoints.get_opt("web").await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".into()),
            }
        },
    )
    .await?;
    Ok(())
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> &'a Value {
    conditions
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

fn has_taint(node: &Value, key: &str, effect: &str) -> bool {
    node["spec"]["taints"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["key"] == key && t["effect"] == effect))
}

#[tokio::test]
async fn silent_node_goes_unknown_is_tainted_and_its_pods_evicted() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    // Two nodes in one zone, so losing one is not a full disruption (which stops evictions).
    for node in ["steady", "failing"] {
        create_node(&client, node, "zone-a").await?;
        renew_lease(&client, node).await?;
    }
    let unreachable_for = |seconds: Option<i64>| {
        let mut toleration = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
        if let Some(seconds) = seconds {
            toleration["tolerationSeconds"] = json!(seconds);
        }
        json!({"tolerations": [toleration]})
    };
    create_pod(
        &client,
        web_pod("brief", "failing", unreachable_for(Some(2))),
    )
    .await?;
    create_pod(
        &client,
        web_pod("patient", "failing", unreachable_for(None)),
    )
    .await?;
    report_pod(&client, "brief", "10.64.1.10", true).await?;
    report_pod(&client, "patient", "10.64.1.11", true).await?;

    // The control plane's own copy waits upstream's 40 s; this one is quicker.
    let options = nodelifecycle::Options {
        node_monitor_grace_period: Duration::from_secs(3),
        node_monitor_period: Duration::from_millis(300),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut informers = Informers::new(client.clone());
    let controller = nodelifecycle::run(&mut informers, client.clone(), options, shutdown.clone());
    let synced = informers.start(&mut tasks, shutdown.clone());
    tasks.spawn(async move {
        synced.await;
        controller.await;
    });
    let renewer = {
        let client = client.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                let _ = renew_lease(&client, "steady").await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let nodes: Api<Node> = Api::all(client.clone());
    let silent_since = Instant::now();
    let tainted = wait_for(
        "the failing node to be unknown and tainted",
        WAIT,
        || async {
            let node = serde_json::to_value(nodes.get("failing").await.map_err(|e| e.to_string())?)
                .unwrap();
            let ready = condition(&node["status"]["conditions"], "Ready");
            let done = ready["status"] == "Unknown"
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule");
            if done {
                Ok(node)
            } else {
                Err(node["status"].to_string())
            }
        },
    )
    .await?;
    let seen_tainted = Instant::now();
    assert!(
        silent_since.elapsed() >= Duration::from_secs(3),
        "marked before the grace period"
    );
    let conditions = &tainted["status"]["conditions"];
    let ready = condition(conditions, "Ready");
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    for other in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(condition(conditions, other)["status"], "Unknown", "{other}");
    }
    let steady = serde_json::to_value(nodes.get("steady").await?)?;
    assert_eq!(
        condition(&steady["status"]["conditions"], "Ready")["status"],
        "True"
    );
    assert!(
        steady["spec"]["taints"]
            .as_array()
            .is_none_or(|t| t.is_empty())
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    wait_for("the pods to be marked not ready", WAIT, || async {
        for name in ["patient"] {
            let pod =
                serde_json::to_value(pods.get(name).await.map_err(|e| e.to_string())?).unwrap();
            if condition(&pod["status"]["conditions"], "Ready")["status"] != "False" {
                return Err(format!("{name} still ready"));
            }
        }
        Ok(())
    })
    .await?;
    wait_for("the briefly tolerating pod to be evicted", WAIT, || async {
        match pods.get_opt("brief").await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                let status = serde_json::to_value(&pod.status).unwrap();
                assert_eq!(
                    condition(&status["conditions"], "DisruptionTarget")["reason"],
                    "DeletionByTaintManager"
                );
                Ok(())
            }
            Some(_) => Err("not deleted".into()),
        }
    })
    .await?;
    assert!(
        seen_tainted.elapsed() >= Duration::from_millis(1500),
        "evicted before its tolerationSeconds: {:?}",
        seen_tainted.elapsed()
    );
    let patient = pods.get("patient").await?;
    assert!(
        patient.metadata.deletion_timestamp.is_none(),
        "a pod tolerating forever stays"
    );

    // The kubelet comes back: the taints go.
    renew_lease(&client, "failing").await?;
    post_ready(&client, "failing").await?;
    wait_for("the taints to be removed", WAIT, || async {
        let node =
            serde_json::to_value(nodes.get("failing").await.map_err(|e| e.to_string())?).unwrap();
        let clean = !has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
            && !has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule");
        if clean {
            Ok(())
        } else {
            Err(node["spec"].to_string())
        }
    })
    .await?;

    shutdown.cancel();
    renewer.await?;
    while tasks.join_next().await.is_some() {}
    Ok(())
}

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let mut cidrs = Vec::new();
    for name in ["ipam-a", "ipam-b"] {
        create_node(&client, name, "zone-a").await?;
        let cidr = wait_for("a pod CIDR", WAIT, || async {
            let node = nodes.get(name).await.map_err(|e| e.to_string())?;
            let spec = node.spec.clone().unwrap_or_default();
            match (spec.pod_cidr, spec.pod_cidrs) {
                (Some(cidr), Some(list)) if list == [cidr.clone()] => Ok(cidr),
                other => Err(format!("{other:?}")),
            }
        })
        .await
        .inspect_err(|_| eprintln!("{}", plane.log_tail()))?;
        let (address, prefix) = cidr.split_once('/').unwrap();
        assert_eq!(prefix, "24");
        let octets: Vec<u8> = address.split('.').map(|o| o.parse().unwrap()).collect();
        assert!(
            octets[0] == 10 && (64..128).contains(&octets[1]),
            "{cidr} is outside 10.64.0.0/10"
        );
        cidrs.push(cidr);
    }
    assert_ne!(cidrs[0], cidrs[1]);
    Ok(())
}

fn db_pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"app": "db"}},
        "spec": {"nodeName": "node-p", "containers": [{"name": "c", "image": "postgres"}]}})
}

#[tokio::test]
async fn disruption_budget_status_gates_evictions() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    create_node(&client, "node-p", "zone-a").await?;
    for (i, name) in ["db-0", "db-1", "db-2"].iter().enumerate() {
        create_pod(&client, db_pod(name)).await?;
        report_pod(&client, name, &format!("10.64.2.{}", 10 + i), true).await?;
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NS);
    let budget = json!({"metadata": {"name": "db"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}});
    budgets
        .create(&PostParams::default(), &serde_json::from_value(budget)?)
        .await?;
    let status = |want_allowed: i64, want_healthy: i64| {
        let budgets = budgets.clone();
        move || {
            let budgets = budgets.clone();
            async move {
                let got = serde_json::to_value(budgets.get("db").await.map_err(|e| e.to_string())?)
                    .unwrap();
                let status = &got["status"];
                let matches = status["disruptionsAllowed"] == want_allowed
                    && status["currentHealthy"] == want_healthy
                    && status["observedGeneration"] == got["metadata"]["generation"];
                if matches {
                    Ok(got)
                } else {
                    Err(status.to_string())
                }
            }
        }
    };
    let got = wait_for("the budget to allow one disruption", WAIT, status(1, 3)).await?;
    let status_now = &got["status"];
    assert_eq!(status_now["expectedPods"], 3);
    assert_eq!(status_now["desiredHealthy"], 2);
    let allowed = condition(&status_now["conditions"], "DisruptionAllowed");
    assert_eq!(allowed["status"], "True");
    assert_eq!(allowed["reason"], "SufficientPods");

    // kube-rs retries 429s by default; the refusal is what is under test here.
    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    config.default_retry = false;
    let pods: Api<Pod> = Api::namespaced(Client::try_from(config)?, NS);
    pods.evict("db-0", &EvictParams::default()).await?;
    let got = wait_for("the budget to allow none", WAIT, status(0, 2)).await?;
    let refused = condition(&got["status"]["conditions"], "DisruptionAllowed");
    assert_eq!(refused["status"], "False");
    assert_eq!(refused["reason"], "InsufficientPods");
    match pods.evict("db-1", &EvictParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 429, "{status:?}"),
        other => anyhow::bail!("expected 429, got {other:?}"),
    }
    assert!(
        pods.get("db-1")
            .await?
            .metadata
            .deletion_timestamp
            .is_none()
    );

    // A replacement becomes ready: one disruption is allowed again.
    create_pod(&client, db_pod("db-3")).await?;
    report_pod(&client, "db-3", "10.64.2.13", true).await?;
    wait_for("the budget to allow one again", WAIT, status(1, 3)).await?;
    pods.evict("db-1", &EvictParams::default()).await?;
    assert!(
        pods.get("db-1")
            .await?
            .metadata
            .deletion_timestamp
            .is_some()
    );
    Ok(())
}

#[tokio::test]
async fn resource_quota_status_tracks_usage() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    create_node(&client, "node-q", "zone-a").await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    for name in ["one", "two"] {
        let map = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        configmaps.create(&PostParams::default(), &map).await?;
    }
    let sized = |name: &str, cpu: &str, memory: &str| {
        json!({"metadata": {"name": name}, "spec": {"nodeName": "node-q", "containers": [
            {"name": "c", "image": "nginx", "resources": {
                "requests": {"cpu": cpu, "memory": memory},
                "limits": {"cpu": cpu, "memory": memory}}}]}})
    };
    create_pod(&client, sized("small", "100m", "128Mi")).await?;
    create_pod(&client, sized("large", "400m", "256Mi")).await?;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), NS);
    let quota = json!({"metadata": {"name": "compute"}, "spec": {"hard": {
        "pods": "10", "requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8",
        "configmaps": "20", "count/configmaps": "20", "services": "5", "secrets": "10"}}});
    quotas
        .create(&PostParams::default(), &serde_json::from_value(quota)?)
        .await?;
    let used_when = |want: Value| {
        let quotas = quotas.clone();
        move || {
            let quotas = quotas.clone();
            let want = want.clone();
            async move {
                let got =
                    serde_json::to_value(quotas.get("compute").await.map_err(|e| e.to_string())?)
                        .unwrap();
                let used = &got["status"]["used"];
                let all = want.as_object().unwrap().iter().all(|(k, v)| &used[k] == v);
                if all {
                    Ok(got)
                } else {
                    Err(got["status"].to_string())
                }
            }
        }
    };
    // The "kubernetes" service lives in default; configmaps include kube-root-ca.crt if the
    // root CA publisher has run, so only the two made here are asserted as a lower bound below.
    let got = wait_for(
        "usage of the two pods",
        WAIT,
        used_when(json!({"pods": "2", "requests.cpu": "500m", "requests.memory": "384Mi", "limits.cpu": "500m", "services": "1"})),
    )
    .await?;
    assert_eq!(got["status"]["hard"], got["spec"]["hard"]);
    let configmaps_used: i64 = got["status"]["used"]["configmaps"]
        .as_str()
        .unwrap()
        .parse()?;
    assert!(configmaps_used >= 2, "{}", got["status"]);
    assert_eq!(
        got["status"]["used"]["configmaps"],
        got["status"]["used"]["count/configmaps"]
    );

    // A pod going away is given back.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.delete("large", &DeleteParams::default().grace_period(0))
        .await?;
    create_pod(&client, sized("tiny", "50m", "64Mi")).await?;
    wait_for(
        "usage after the change",
        WAIT,
        used_when(json!({"pods": "2", "requests.cpu": "150m", "requests.memory": "192Mi"})),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn percentage_budgets_count_replicas_through_the_scale_subresource() -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject};
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            "subresources": {"scale": {"specReplicasPath": ".spec.replicas",
                                       "statusReplicasPath": ".status.replicas"}}}]}});
    crds.create(&PostParams::default(), &serde_json::from_value(crd)?)
        .await?;
    let resource = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &resource);
    let widget: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1",
        "kind": "Widget", "metadata": {"name": "w"}, "spec": {"replicas": 4}}))?;
    let widget = wait_for("the widget type to be served", WAIT, || async {
        widgets
            .create(&PostParams::default(), &widget)
            .await
            .map_err(|e| e.to_string())
    })
    .await?;
    create_node(&client, "node-w", "zone-a").await?;
    for (i, name) in ["w-0", "w-1", "w-2"].iter().enumerate() {
        let pod = json!({"metadata": {"name": name, "labels": {"app": "w"},
            "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                "uid": widget.metadata.uid.clone().unwrap(), "controller": true}]},
            "spec": {"nodeName": "node-w", "containers": [{"name": "c", "image": "busybox"}]}});
        create_pod(&client, pod).await?;
        report_pod(&client, name, &format!("10.64.3.{}", 10 + i), true).await?;
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NS);
    let budget = json!({"metadata": {"name": "w"},
        "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "w"}}}});
    budgets
        .create(&PostParams::default(), &serde_json::from_value(budget)?)
        .await?;
    // Four replicas expected (not the three pods), two may be unavailable: two must be healthy.
    wait_for("the budget from the widget's scale", WAIT, || async {
        let got = serde_json::to_value(budgets.get("w").await.map_err(|e| e.to_string())?).unwrap();
        let status = &got["status"];
        let right = status["expectedPods"] == 4
            && status["desiredHealthy"] == 2
            && status["currentHealthy"] == 3
            && status["disruptionsAllowed"] == 1;
        if right {
            Ok(())
        } else {
            Err(status.to_string())
        }
    })
    .await?;
    Ok(())
}

/// Evictions of pods that are not Ready follow the budget's unhealthyPodEvictionPolicy: under
/// IfHealthyBudget (the default) they need no allowed disruption while the application is
/// healthy, under AlwaysAllow never; a Ready pod always needs one.
#[tokio::test]
async fn unhealthy_pods_are_evicted_as_the_budget_policy_says() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    create_node(&client, "node-u", "zone-a").await?;
    for (i, (name, ready)) in [("u-0", true), ("u-1", false)].into_iter().enumerate() {
        let pod = json!({"metadata": {"name": name, "labels": {"app": "u"}},
            "spec": {"nodeName": "node-u", "containers": [{"name": "c", "image": "busybox"}]}});
        create_pod(&client, pod).await?;
        report_pod(&client, name, &format!("10.64.4.{}", 10 + i), ready).await?;
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NS);
    let budget = json!({"metadata": {"name": "u"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "u"}}}});
    budgets
        .create(&PostParams::default(), &serde_json::from_value(budget)?)
        .await?;
    let status = |want_healthy: i64| {
        let budgets = budgets.clone();
        move || {
            let budgets = budgets.clone();
            async move {
                let got = serde_json::to_value(budgets.get("u").await.map_err(|e| e.to_string())?)
                    .unwrap();
                let status = &got["status"];
                let settled = status["currentHealthy"] == want_healthy
                    && status["desiredHealthy"] == 1
                    && status["observedGeneration"] == got["metadata"]["generation"];
                if settled {
                    Ok(got)
                } else {
                    Err(status.to_string())
                }
            }
        }
    };
    let got = wait_for("one of two pods healthy", WAIT, status(1)).await?;
    assert_eq!(got["status"]["disruptionsAllowed"], 0);

    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    config.default_retry = false;
    let pods: Api<Pod> = Api::namespaced(Client::try_from(config)?, NS);
    let refused = |result: kube::Result<_>| match result {
        Err(kube::Error::Api(status)) if status.code == 429 => Ok(()),
        other => Err(anyhow::anyhow!("expected 429, got {other:?}")),
    };
    // The Ready pod is guarded; the unready one goes without consuming a disruption.
    refused(pods.evict("u-0", &EvictParams::default()).await)?;
    pods.evict("u-1", &EvictParams::default()).await?;
    assert!(pods.get("u-1").await?.metadata.deletion_timestamp.is_some());
    let after = budgets.get("u").await?.status.unwrap_or_default();
    assert_eq!(after.disrupted_pods, None, "no disruption was recorded");

    // The last pod stops being Ready: the application is disrupted, so IfHealthyBudget
    // refuses...
    report_pod(&client, "u-0", "10.64.4.10", false).await?;
    wait_for("no pod healthy", WAIT, status(0)).await?;
    refused(pods.evict("u-0", &EvictParams::default()).await)?;
    // ...and AlwaysAllow lets it go.
    let always = json!({"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}});
    budgets
        .patch("u", &PatchParams::default(), &Patch::Merge(&always))
        .await?;
    wait_for("the policy change observed", WAIT, status(0)).await?;
    pods.evict("u-0", &EvictParams::default()).await?;
    assert!(pods.get("u-0").await?.metadata.deletion_timestamp.is_some());
    Ok(())
}
