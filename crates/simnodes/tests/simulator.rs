//! The simulator against a real control plane: nodes register with leases and stop renewing
//! when it stops; pods bound to its nodes run, finish, fail and are deleted; a restarted
//! simulator re-adopts its nodes and resumes its pods.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use keelson_e2e::{ControlPlane, ensure_default_service_account};
use keelson_simnodes::{SimError, SimOptions};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Simulator {
    stop: CancellationToken,
    task: JoinHandle<Result<(), SimError>>,
}

impl Simulator {
    fn start(client: &kube::Client, options: SimOptions) -> Simulator {
        let stop = CancellationToken::new();
        let task = tokio::spawn(keelson_simnodes::run(client.clone(), options, stop.clone()));
        Simulator { stop, task }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        Ok(self.task.await??)
    }
}

fn options(count: u32) -> SimOptions {
    let mut options = SimOptions::new(count);
    options.zones = vec!["zone-a".into(), "zone-b".into()];
    options.lease_renew_interval = Duration::from_millis(500);
    options.job_duration = Duration::from_secs(1);
    options
}

/// Poll `check` until it returns `Ok`; the error keeps its last complaint.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() > deadline => bail!("{what}: {err:#}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn ready(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

async fn renew_time(leases: &Api<Lease>, name: &str) -> anyhow::Result<jiff::Timestamp> {
    let lease = leases.get(name).await?;
    Ok(lease
        .spec
        .and_then(|s| s.renew_time)
        .context("lease without renewTime")?
        .0)
}

#[tokio::test]
async fn nodes_register_with_leases_and_expire_when_stopped() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let simulator = Simulator::start(&client, options(3));

    let registered = eventually("three Ready nodes", || async {
        let mut found = Vec::new();
        for i in 0..3 {
            let node = nodes.get(&format!("sim-{i}")).await?;
            anyhow::ensure!(ready(&node).as_deref() == Some("True"), "sim-{i} not Ready");
            found.push(node);
        }
        Ok(found)
    })
    .await?;
    let labels = registered[1].metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "sim-1");
    assert_eq!(labels["topology.kubernetes.io/zone"], "zone-b");
    assert_eq!(labels["keelson.dev/simulated"], "true");
    let status = registered[1].status.clone().unwrap();
    assert_eq!(status.capacity.unwrap()["memory"].0, "16Gi");
    let info = status.node_info.unwrap();
    assert_eq!(info.container_runtime_version, "sim://keelson");
    assert_eq!(
        info.kubelet_version,
        client.apiserver_version().await?.git_version
    );
    assert_eq!(status.addresses.unwrap()[0].address, "198.18.0.2");

    let first = eventually("sim-0's lease", || renew_time(&leases, "sim-0")).await?;
    let lease = leases.get("sim-0").await?;
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("sim-0"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &lease.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Node", "sim-0")
    );
    assert_eq!(Some(&owner.uid), registered[0].metadata.uid.as_ref());
    eventually("a lease renewal", || async {
        let now = renew_time(&leases, "sim-0").await?;
        anyhow::ensure!(now > first, "renewTime still {now}");
        Ok(())
    })
    .await?;

    // A node lifecycle controller marking a node Unknown is corrected at once, not at the next
    // five-minute report.
    let unknown = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown",
        "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."}]}});
    nodes
        .patch_status("sim-2", &PatchParams::default(), &Patch::Merge(&unknown))
        .await?;
    eventually("sim-2 Ready again", || async {
        let node = nodes.get("sim-2").await?;
        anyhow::ensure!(
            ready(&node).as_deref() == Some("True"),
            "{:?}",
            ready(&node)
        );
        Ok(())
    })
    .await?;

    simulator.stop().await?;
    let last = renew_time(&leases, "sim-0").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        renew_time(&leases, "sim-0").await?,
        last,
        "renewed after stop"
    );
    // Stopping is a failure, not a decommission: the nodes stay, untouched.
    for i in 0..3 {
        let node = nodes.get(&format!("sim-{i}")).await?;
        assert!(node.metadata.deletion_timestamp.is_none());
    }
    Ok(())
}

/// Create `pod` once the namespace can hold pods (its default service account is there), so
/// these tests do not depend on the service-account controller's timing.
async fn create_pod(pods: &Api<Pod>, pod: serde_json::Value) -> anyhow::Result<Pod> {
    ensure_default_service_account(&pods.clone().into_client(), "default").await?;
    let pod: Pod = serde_json::from_value(pod)?;
    eventually("creating a pod", || async {
        Ok(pods.create(&PostParams::default(), &pod).await?)
    })
    .await
}

fn pod_on(node: &str, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example/app:1"}]},
    });
    for (key, value) in extra.as_object().unwrap() {
        for (k, v) in value.as_object().unwrap() {
            pod[key][k] = v.clone();
        }
    }
    pod
}

/// The first three octets pods of `node` get addresses from: its spec.podCIDR when the control
/// plane's node IPAM controller assigns one (waited for briefly), else the derived /24.
async fn pod_range(client: &kube::Client, node: &str) -> anyhow::Result<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let assigned = nodes.get_opt(node).await?.and_then(|n| n.spec?.pod_cidr);
        if let Some(cidr) = assigned {
            // Give the simulator's node watch a moment to see the assignment too.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let network = cidr.split('/').next().unwrap_or_default();
            return Ok(network.rsplit_once('.').unwrap().0.to_string() + ".");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let index: u32 = node.trim_start_matches("sim-").parse()?;
    Ok(format!("100.64.{index}."))
}

async fn phase_of(pods: &Api<Pod>, name: &str, phase: &str) -> anyhow::Result<Pod> {
    let pod = pods.get(name).await?;
    let current = pod.status.as_ref().and_then(|s| s.phase.clone());
    anyhow::ensure!(current.as_deref() == Some(phase), "{name} is {current:?}");
    Ok(pod)
}

fn condition(pod: &Pod, type_: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

fn terminated(pod: &Pod) -> (i32, String) {
    let state = pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    (state.exit_code, state.reason.unwrap_or_default())
}

#[tokio::test]
async fn pods_run_finish_fail_and_are_deleted() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let simulator = Simulator::start(&client, options(2));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let range = pod_range(&client, "sim-1").await?;
    create_pod(&pods, pod_on("sim-1", "web", json!({}))).await?;
    let web = eventually("web Running", || phase_of(&pods, "web", "Running")).await?;
    let status = web.status.clone().unwrap();
    let web_ip = status.pod_ip.clone().unwrap();
    assert!(web_ip.starts_with(&range), "{web_ip} outside {range}");
    assert_eq!(status.host_ip.as_deref(), Some("198.18.0.2"));
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        assert_eq!(condition(&web, type_).as_deref(), Some("True"), "{type_}");
    }
    let container = &status.container_statuses.unwrap()[0];
    assert!(container.ready);
    assert_eq!(container.image, "registry.example/app:1");
    assert!(
        container
            .container_id
            .as_ref()
            .unwrap()
            .starts_with("sim://")
    );

    // A Job's pod: suspended so no Job controller acts on it; the pod names it as owner.
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "batch"},
        "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "work", "image": "busybox"}]}}},
    }))?;
    let job = jobs.create(&PostParams::default(), &job).await?;
    let owner = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "batch",
        "uid": job.metadata.uid.unwrap(), "controller": false}]);
    create_pod(
        &pods,
        pod_on(
            "sim-0",
            "job-pod",
            json!({"metadata": {"ownerReferences": owner},
            "spec": {"restartPolicy": "Never"}}),
        ),
    )
    .await?;
    let done = eventually("job pod Succeeded", || {
        phase_of(&pods, "job-pod", "Succeeded")
    })
    .await?;
    assert_eq!(terminated(&done), (0, "Completed".into()));
    assert_eq!(condition(&done, "Ready").as_deref(), Some("False"));

    create_pod(
        &pods,
        pod_on(
            "sim-0",
            "failing",
            json!({
            "metadata": {"annotations": {"sim.keelson.dev/run-seconds": "1",
                                         "sim.keelson.dev/exit-code": "1"}},
            "spec": {"restartPolicy": "Never"}}),
        ),
    )
    .await?;
    let failed = eventually("failing pod Failed", || {
        phase_of(&pods, "failing", "Failed")
    })
    .await?;
    assert_eq!(terminated(&failed), (1, "Error".into()));

    // A graceful deletion: the simulated kubelet stops the containers and removes the pod.
    pods.delete("web", &DeleteParams::default()).await?;
    eventually("web deleted", || async {
        match pods.get_opt("web").await? {
            None => Ok(()),
            Some(p) => bail!("still there, phase {:?}", p.status.and_then(|s| s.phase)),
        }
    })
    .await?;
    // Its address is free again and goes to the next pod on the node.
    create_pod(&pods, pod_on("sim-1", "next", json!({}))).await?;
    let next = eventually("next Running", || phase_of(&pods, "next", "Running")).await?;
    assert_eq!(next.status.unwrap().pod_ip, Some(web_ip));

    // Pods on nodes of nobody's simulator are left alone.
    create_pod(&pods, pod_on("real-node", "elsewhere", json!({}))).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elsewhere = pods.get("elsewhere").await?;
    assert_ne!(
        elsewhere.status.and_then(|s| s.phase).as_deref(),
        Some("Running")
    );
    simulator.stop().await
}

#[tokio::test]
async fn a_restarted_simulator_readopts_its_nodes_and_pods() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let simulator = Simulator::start(&client, options(1));
    create_pod(&pods, pod_on("sim-0", "kept", json!({}))).await?;
    let kept = eventually("kept Running", || phase_of(&pods, "kept", "Running")).await?;
    let uid = nodes.get("sim-0").await?.metadata.uid;
    simulator.stop().await?;

    let simulator = Simulator::start(&client, options(1));
    create_pod(&pods, pod_on("sim-0", "later", json!({}))).await?;
    let later = eventually("later Running", || phase_of(&pods, "later", "Running")).await?;
    assert_eq!(
        nodes.get("sim-0").await?.metadata.uid,
        uid,
        "the node was re-adopted"
    );
    let ip = |p: &Pod| p.status.as_ref().unwrap().pod_ip.clone();
    assert_ne!(
        ip(&later),
        ip(&kept),
        "the resumed pod's address is not handed out again"
    );
    let kept_now = pods.get("kept").await?;
    assert_eq!(ip(&kept_now), ip(&kept));
    assert_eq!(
        kept_now.status.unwrap().start_time,
        kept.status.unwrap().start_time
    );
    simulator.stop().await
}

#[tokio::test]
async fn a_node_that_is_not_simulated_is_never_taken_over() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let real: Node = serde_json::from_value(json!({"metadata": {"name": "sim-0"}}))?;
    nodes.create(&PostParams::default(), &real).await?;
    let result = keelson_simnodes::run(client, options(1), CancellationToken::new()).await;
    assert!(matches!(result, Err(SimError::NotSimulated(name)) if name == "sim-0"));
    Ok(())
}
