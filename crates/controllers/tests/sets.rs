//! The DaemonSet and StatefulSet controllers in a real control plane, driven with kube-rs. The
//! test plays the nodes: it creates Node objects and, as a fake kubelet, binds daemon pods to
//! the node their affinity names (unless a scheduler got there first), reports pods Running and
//! Ready through pods/status, and finishes graceful deletions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Binding, Event, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use keelson_e2e::{ControlPlane, ensure_default_service_account, eventually};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);
const NS: &str = "default";

/// On failure, add the control plane's log (where the controllers' debug lines are).
fn explained(plane: &ControlPlane, result: anyhow::Result<()>) -> anyhow::Result<()> {
    result.map_err(|err| {
        let log = std::fs::read_to_string(plane.data_dir.path().join("control-plane.log"))
            .unwrap_or_default();
        let ours: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("daemonset") || l.contains("statefulset"))
            .collect();
        err.context(ours[ours.len().saturating_sub(80)..].join("\n"))
    })
}

/// A client of `plane`, once [`NS`] can hold pods.
async fn connect(plane: &ControlPlane) -> anyhow::Result<Client> {
    let client = plane.client().await?;
    ensure_default_service_account(&client, NS).await?;
    Ok(client)
}

async fn create_node(client: &Client, name: &str, taints: Value) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                      "spec": {"taints": taints}});
    nodes
        .create(&PostParams::default(), &serde_json::from_value(node)?)
        .await?;
    let capacity = json!({"cpu": "4", "memory": "8Gi", "pods": "110"});
    let status = json!({"status": {
        "capacity": capacity, "allocatable": capacity,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "lastHeartbeatTime": Timestamp::now().to_string(),
            "lastTransitionTime": Timestamp::now().to_string()}]
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// How the fake kubelet treats pods.
#[derive(Clone, Copy)]
struct Behaviour {
    /// Report every bound pod Running and Ready.
    ready: bool,
    /// Remove terminating pods at once (grace period 0).
    finish_deletions: bool,
    /// Where to bind pods no affinity pins to a node (daemon pods go to their own node).
    default_node: Option<&'static str>,
}

const AUTOMATIC: Behaviour = Behaviour {
    ready: true,
    finish_deletions: true,
    default_node: Some("n1"),
};

/// A fake kubelet for every pod in [`NS`], aborted when dropped.
struct Kubelet(JoinHandle<()>);

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Kubelet {
    fn start(client: &Client, behaviour: Behaviour) -> Kubelet {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        Kubelet(tokio::spawn(async move {
            loop {
                if let Ok(list) = pods.list(&ListParams::default()).await {
                    for pod in list {
                        let _ = tend(&pods, &pod, behaviour).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }))
    }
}

async fn tend(pods: &Api<Pod>, pod: &Pod, behaviour: Behaviour) -> Result<(), kube::Error> {
    let name = pod.name_any();
    if pod.metadata.deletion_timestamp.is_some() {
        if behaviour.finish_deletions {
            finish_deletion(pods, pod).await?;
        }
        return Ok(());
    }
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.node_name.is_none() {
        if let Some(node) = pinned_node(pod).or(behaviour.default_node.map(String::from)) {
            let binding: Binding = serde_json::from_value(json!({
                "metadata": {"name": name},
                "target": {"kind": "Node", "apiVersion": "v1", "name": node}
            }))
            .expect("a binding");
            // A scheduler may have bound it first.
            let _: Result<Value, _> = pods
                .create_subresource("binding", &name, &PostParams::default(), &binding)
                .await;
        }
        return Ok(());
    }
    if behaviour.ready && !is_ready(pod) {
        mark_ready(pods, &name).await?;
    }
    Ok(())
}

/// What the kubelet does once a terminating pod's containers stopped.
async fn finish_deletion(pods: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    pods.delete(&pod.name_any(), &params).await?;
    Ok(())
}

async fn mark_ready(pods: &Api<Pod>, name: &str) -> Result<(), kube::Error> {
    let now = Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
    ]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn is_ready(pod: &Pod) -> bool {
    let status = pod.status.clone().unwrap_or_default();
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The node a daemon pod's required affinity pins it to.
fn pinned_node(pod: &Pod) -> Option<String> {
    let value = serde_json::to_value(pod).ok()?;
    let fields = value.pointer(
        "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0",
    )?;
    (fields["key"] == "metadata.name").then(|| fields["values"][0].as_str().map(String::from))?
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .or_else(|| pinned_node(pod))
        .unwrap_or_default()
}

fn hash_of(pod: &Pod) -> String {
    pod.labels()
        .get("controller-revision-hash")
        .cloned()
        .unwrap_or_default()
}

/// Live pods whose name starts with `prefix`, by name.
async fn pods_named(client: &Client, prefix: &str) -> Result<BTreeMap<String, Pod>, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let list = pods
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .filter(|p| p.name_any().starts_with(prefix) && p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.name_any(), p))
        .collect())
}

fn daemon_set(name: &str, tolerations: Value, strategy: Value) -> anyhow::Result<DaemonSet> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": "busybox:1"}],
                         "tolerations": tolerations}
            }
        }
    }))?)
}

/// Daemon pods by node name (failing if a node has several).
async fn daemon_pods(client: &Client, name: &str) -> Result<BTreeMap<String, Pod>, String> {
    let mut by_node = BTreeMap::new();
    for pod in pods_named(client, &format!("{name}-")).await?.into_values() {
        if let Some(other) = by_node.insert(node_of(&pod), pod) {
            return Err(format!("two pods on {}", node_of(&other)));
        }
    }
    Ok(by_node)
}

fn keys<V>(map: &BTreeMap<String, V>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn daemon_set_runs_one_pod_per_eligible_node() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    explained(
        &plane,
        daemon_set_runs_one_pod_per_eligible_node_body(&plane).await,
    )
}

async fn daemon_set_runs_one_pod_per_eligible_node_body(
    plane: &ControlPlane,
) -> anyhow::Result<()> {
    let client = connect(plane).await?;
    create_node(&client, "n1", json!([])).await?;
    create_node(&client, "n2", json!([])).await?;
    create_node(
        &client,
        "n3",
        json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
    )
    .await?;
    let _kubelet = Kubelet::start(&client, AUTOMATIC);
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), NS);
    let strategy = json!({"type": "RollingUpdate"});
    sets.create(
        &PostParams::default(),
        &daemon_set("agent", json!([]), strategy.clone())?,
    )
    .await?;
    let tolerant =
        json!([{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]);
    sets.create(
        &PostParams::default(),
        &daemon_set("tolerant", tolerant, strategy)?,
    )
    .await?;

    // The tainted node is skipped unless tolerated.
    let placed = eventually("agent pods on n1 and n2", WAIT, || async {
        let pods = daemon_pods(&client, "agent").await?;
        (keys(&pods) == ["n1", "n2"])
            .then_some(pods.clone())
            .ok_or(format!("{:?}", keys(&pods)))
    })
    .await?;
    eventually("tolerant pods everywhere", WAIT, || async {
        let pods = daemon_pods(&client, "tolerant").await?;
        (keys(&pods) == ["n1", "n2", "n3"])
            .then_some(())
            .ok_or(format!("{:?}", keys(&pods)))
    })
    .await?;

    // Pods are pinned through a metadata.name affinity and carry the daemon tolerations.
    let pod = &placed["n1"];
    assert_eq!(pinned_node(pod).as_deref(), Some("n1"));
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/unschedulable",
    ] {
        assert!(
            tolerations.iter().any(|t| t.key.as_deref() == Some(key)),
            "{key}: {tolerations:?}"
        );
    }
    let owner = &pod.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("DaemonSet", Some(true))
    );
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), NS);
    let revision = revisions.get(&format!("agent-{}", hash_of(pod))).await?;
    assert_eq!(revision.revision, 1);

    eventually("agent status", WAIT, || async {
        let status = sets
            .get_status("agent")
            .await
            .map_err(|e| e.to_string())?
            .status
            .unwrap_or_default();
        let done = status.desired_number_scheduled == 2
            && status.current_number_scheduled == 2
            && status.number_ready == 2
            && status.number_available == Some(2)
            && status.updated_number_scheduled == Some(2)
            && status.number_misscheduled == 0;
        done.then_some(()).ok_or(format!("{status:?}"))
    })
    .await?;

    // A node added later gets a pod; a removed node loses its pod.
    create_node(&client, "n4", json!([])).await?;
    eventually("an agent pod on n4", WAIT, || async {
        let pods = daemon_pods(&client, "agent").await?;
        (keys(&pods) == ["n1", "n2", "n4"])
            .then_some(())
            .ok_or(format!("{:?}", keys(&pods)))
    })
    .await?;
    Api::<Node>::all(client.clone())
        .delete("n2", &DeleteParams::default())
        .await?;
    eventually(
        "no agent pod on the removed n2",
        Duration::from_secs(60),
        || async {
            let pods = daemon_pods(&client, "agent").await?;
            (keys(&pods) == ["n1", "n4"])
                .then_some(())
                .ok_or(format!("{:?}", keys(&pods)))
        },
    )
    .await?;

    // An orphan matching the selector is adopted; as a second pod on its node it then goes.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let stray = json!({"metadata": {"name": "stray", "labels": {"app": "agent"}},
        "spec": {"nodeName": "n4", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "agent", "image": "busybox:1"}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(stray)?)
        .await?;
    eventually("the stray pod adopted and removed", WAIT, || async {
        let stray = pods.get_opt("stray").await.map_err(|e| e.to_string())?;
        let adopted = stray.as_ref().map(|p| p.owner_references().len());
        if adopted.is_some() {
            return Err(format!("stray still there, {adopted:?} owners"));
        }
        let placed = daemon_pods(&client, "agent").await?;
        (keys(&placed) == ["n1", "n4"])
            .then_some(())
            .ok_or(format!("{:?}", keys(&placed)))
    })
    .await?;

    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let created: Vec<_> = events
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("agent"))
        .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .collect();
    assert!(created.len() >= 3, "{created:?}");
    assert!(
        created[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("Created pod: agent-")
    );
    assert_eq!(
        created[0]
            .source
            .as_ref()
            .and_then(|s| s.component.as_deref()),
        Some("daemonset-controller")
    );
    Ok(())
}

#[tokio::test]
async fn daemon_set_rolling_update_keeps_within_max_unavailable() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    explained(
        &plane,
        daemon_set_rolling_update_keeps_within_max_unavailable_body(&plane).await,
    )
}

async fn daemon_set_rolling_update_keeps_within_max_unavailable_body(
    plane: &ControlPlane,
) -> anyhow::Result<()> {
    let client = connect(plane).await?;
    for node in ["n1", "n2", "n3", "n4"] {
        create_node(&client, node, json!([])).await?;
    }
    let _kubelet = Kubelet::start(&client, AUTOMATIC);
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), NS);
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
    sets.create(
        &PostParams::default(),
        &daemon_set("agent", json!([]), strategy)?,
    )
    .await?;
    let first = eventually("four ready pods", WAIT, || async {
        let pods = daemon_pods(&client, "agent").await?;
        let ready = pods.values().filter(|p| is_ready(p)).count();
        (ready == 4)
            .then_some(pods.clone())
            .ok_or(format!("{ready} ready"))
    })
    .await?;
    let old_hash = hash_of(&first["n1"]);

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "busybox:2"}]}}}});
    sets.patch("agent", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let generation = sets.get("agent").await?.metadata.generation;
    let lowest_ready = AtomicUsize::new(4);
    eventually(
        "every pod on the new template",
        Duration::from_secs(60),
        || {
            let client = client.clone();
            let sets = sets.clone();
            let old_hash = old_hash.clone();
            let lowest = &lowest_ready;
            async move {
                let pods = daemon_pods(&client, "agent").await?;
                // Pods of either revision count; no more than one node may be without a ready pod.
                let ready = pods.values().filter(|p| is_ready(p)).count();
                lowest.fetch_min(ready, Ordering::SeqCst);
                let updated = pods
                    .values()
                    .filter(|p| hash_of(p) != old_hash && is_ready(p))
                    .count();
                let status = sets
                    .get_status("agent")
                    .await
                    .map_err(|e| e.to_string())?
                    .status
                    .unwrap_or_default();
                let done = updated == 4
                    && status.updated_number_scheduled == Some(4)
                    && status.number_available == Some(4)
                    && status.observed_generation == generation;
                done.then_some(())
                    .ok_or(format!("{updated} updated; {status:?}"))
            }
        },
    )
    .await?;
    let lowest = lowest_ready.into_inner();
    assert!(
        lowest >= 3,
        "at most maxUnavailable=1 pod may be down, saw {lowest} ready"
    );

    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), NS);
    let mut numbers: Vec<i64> = revisions
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|r| r.name_any().starts_with("agent-"))
        .map(|r| r.revision)
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2]);
    Ok(())
}

fn stateful_set(replicas: i32, partition: i32) -> anyhow::Result<StatefulSet> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "web"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    }))?)
}

/// Assert `name` stays absent for a while (the controller had every chance to create it).
async fn stays_absent(client: &Client, name: &str) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    for _ in 0..15 {
        anyhow::ensure!(
            pods.get_opt(name).await?.is_none(),
            "{name} exists too early"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn exists(client: &Client, name: &str) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    eventually(name, WAIT, || async {
        pods.get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("absent".to_string())
    })
    .await
}

#[tokio::test]
async fn stateful_set_creates_in_order_scales_down_in_reverse_and_keeps_claims()
-> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    explained(
        &plane,
        stateful_set_creates_in_order_scales_down_in_reverse_and_keeps_claims_body(&plane).await,
    )
}

async fn stateful_set_creates_in_order_scales_down_in_reverse_and_keeps_claims_body(
    plane: &ControlPlane,
) -> anyhow::Result<()> {
    let client = connect(plane).await?;
    create_node(&client, "n1", json!([])).await?;
    let manual = Behaviour {
        ready: false,
        finish_deletions: false,
        default_node: Some("n1"),
    };
    let _kubelet = Kubelet::start(&client, manual);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    sets.create(&PostParams::default(), &stateful_set(3, 0)?)
        .await?;

    let web0 = exists(&client, "web-0").await?;
    let spec = web0.spec.clone().unwrap_or_default();
    assert_eq!(spec.hostname.as_deref(), Some("web-0"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    assert_eq!(web0.labels()["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(web0.labels()["apps.kubernetes.io/pod-index"], "0");
    assert!(hash_of(&web0).starts_with("web-"));
    let claim = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "www");
    assert_eq!(
        claim
            .and_then(|v| v.persistent_volume_claim)
            .map(|c| c.claim_name)
            .as_deref(),
        Some("www-web-0")
    );
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let www0 = claims.get("www-web-0").await?;
    assert_eq!(www0.labels()["app"], "web");

    // OrderedReady: each ordinal waits for the one before it to be Running and Ready.
    stays_absent(&client, "web-1").await?;
    mark_ready(&pods, "web-0").await?;
    exists(&client, "web-1").await?;
    stays_absent(&client, "web-2").await?;
    mark_ready(&pods, "web-1").await?;
    exists(&client, "web-2").await?;
    mark_ready(&pods, "web-2").await?;
    eventually("three ready replicas", WAIT, || async {
        let status = sets
            .get_status("web")
            .await
            .map_err(|e| e.to_string())?
            .status
            .unwrap_or_default();
        let done = status.ready_replicas == Some(3)
            && status.available_replicas == Some(3)
            && status.current_replicas == Some(3)
            && status.updated_replicas == Some(3)
            && status.current_revision == status.update_revision
            && status.update_revision.as_deref() == Some(hash_of(&web0).as_str());
        done.then_some(()).ok_or(format!("{status:?}"))
    })
    .await?;
    for claim in ["www-web-1", "www-web-2"] {
        claims.get(claim).await?;
    }

    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let messages: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("web"))
        .filter_map(|e| e.message)
        .collect();
    assert!(
        messages.contains(&"create Pod web-0 in StatefulSet web successful".to_string()),
        "{messages:?}"
    );
    assert!(
        messages
            .contains(&"create Claim www-web-0 Pod web-0 in StatefulSet web success".to_string()),
        "{messages:?}"
    );

    // Scaling down removes the highest ordinal first; claims are retained.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 1}})),
    )
    .await?;
    let web2 = eventually("web-2 terminating", WAIT, || async {
        let pod = pods.get("web-2").await.map_err(|e| e.to_string())?;
        pod.metadata
            .deletion_timestamp
            .is_some()
            .then_some(pod)
            .ok_or("running".to_string())
    })
    .await?;
    // OrderedReady: web-1 is left alone until web-2 is completely gone.
    for _ in 0..15 {
        let web1 = pods.get("web-1").await?;
        anyhow::ensure!(
            web1.metadata.deletion_timestamp.is_none(),
            "web-1 deleted while web-2 terminates"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    finish_deletion(&pods, &web2).await?;
    let web1 = eventually("web-1 terminating", WAIT, || async {
        let pod = pods.get("web-1").await.map_err(|e| e.to_string())?;
        pod.metadata
            .deletion_timestamp
            .is_some()
            .then_some(pod)
            .ok_or("running".to_string())
    })
    .await?;
    finish_deletion(&pods, &web1).await?;
    eventually("only web-0 left", WAIT, || async {
        let live = pods_named(&client, "web-").await?;
        (keys(&live) == ["web-0"])
            .then_some(())
            .ok_or(format!("{:?}", keys(&live)))
    })
    .await?;
    for claim in ["www-web-0", "www-web-1", "www-web-2"] {
        claims.get(claim).await?;
    }
    Ok(())
}

#[tokio::test]
async fn stateful_set_rolling_update_honours_the_partition() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    explained(
        &plane,
        stateful_set_rolling_update_honours_the_partition_body(&plane).await,
    )
}

async fn stateful_set_rolling_update_honours_the_partition_body(
    plane: &ControlPlane,
) -> anyhow::Result<()> {
    let client = connect(plane).await?;
    create_node(&client, "n1", json!([])).await?;
    let _kubelet = Kubelet::start(&client, AUTOMATIC);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    sets.create(&PostParams::default(), &stateful_set(3, 1)?)
        .await?;
    let first = eventually("three ready pods", WAIT, || async {
        let live = pods_named(&client, "web-").await?;
        let ready = live.values().filter(|p| is_ready(p)).count();
        (ready == 3)
            .then_some(live.clone())
            .ok_or(format!("{ready} ready"))
    })
    .await?;
    let old = hash_of(&first["web-0"]);

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let status = eventually("ordinals 2 and 1 updated", WAIT, || async {
        let live = pods_named(&client, "web-").await?;
        let on_new = |name: &str| {
            live.get(name)
                .is_some_and(|p| hash_of(p) != old && is_ready(p))
        };
        // Highest ordinal first: web-1 is never updated before web-2.
        if on_new("web-1") && !on_new("web-2") && live.contains_key("web-2") {
            return Err("web-1 updated before web-2".to_string());
        }
        let status = sets
            .get_status("web")
            .await
            .map_err(|e| e.to_string())?
            .status
            .unwrap_or_default();
        let done = on_new("web-2")
            && on_new("web-1")
            && status.updated_replicas == Some(2)
            && status.ready_replicas == Some(3);
        done.then_some(status.clone()).ok_or(format!("{status:?}"))
    })
    .await?;
    // The partition holds web-0 on the old revision, which stays current.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let live = pods_named(&client, "web-")
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(hash_of(&live["web-0"]), old);
    assert_eq!(status.current_revision.as_deref(), Some(old.as_str()));
    assert_ne!(status.update_revision, status.current_revision);

    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})),
    )
    .await?;
    eventually("the rollout to complete", WAIT, || async {
        let status = sets
            .get_status("web")
            .await
            .map_err(|e| e.to_string())?
            .status
            .unwrap_or_default();
        let done = status.current_revision == status.update_revision
            && status.current_replicas == Some(3)
            && status.updated_replicas == Some(3)
            && status.ready_replicas == Some(3);
        done.then_some(()).ok_or(format!("{status:?}"))
    })
    .await?;
    let live = pods_named(&client, "web-")
        .await
        .map_err(anyhow::Error::msg)?;
    assert!(live.values().all(|p| hash_of(p) != old));
    Ok(())
}
