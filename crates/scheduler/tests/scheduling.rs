//! The scheduler against a real control plane: it runs in-process with the admin client while
//! the tests create Nodes (allocatable through the status subresource) and pods, then assert
//! where the pods land, the events and conditions of those that cannot, and preemption.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use keelson_e2e::{ControlPlane, wait_for_default_service_account};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Cluster {
    _plane: ControlPlane,
    client: Client,
    /// Set when the test's scheduler runs as a second profile under its own name.
    profile: Option<&'static str>,
    stop: CancellationToken,
    scheduler: tokio::task::JoinHandle<()>,
}

impl Cluster {
    /// A control plane and `keelson_scheduler::run` in this process with the admin client. When
    /// the control plane runs its own scheduler, the two share the leader Lease and either
    /// one schedules.
    async fn start() -> anyhow::Result<Cluster> {
        Self::start_profile(None).await
    }

    /// With `profile`, the test's scheduler serves only pods with that schedulerName, so it
    /// alone schedules them whatever else runs.
    async fn start_profile(profile: Option<&'static str>) -> anyhow::Result<Cluster> {
        let plane = ControlPlane::start("1.33")?;
        let client = plane.client().await?;
        wait_for_default_service_account(&client, "default", Duration::from_secs(30)).await?;
        let stop = CancellationToken::new();
        let scheduler = match profile {
            None => tokio::spawn(keelson_scheduler::run(
                client.clone(),
                "test-scheduler".into(),
                stop.clone(),
            )),
            Some(name) => tokio::spawn(keelson_scheduler::run_named(
                client.clone(),
                "test-scheduler".into(),
                name.into(),
                stop.clone(),
            )),
        };
        Ok(Cluster {
            _plane: plane,
            client,
            profile,
            stop,
            scheduler,
        })
    }

    async fn shutdown(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.scheduler).await;
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn node(
        &self,
        name: &str,
        cpu: &str,
        labels: Value,
        taints: Value,
    ) -> anyhow::Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let mut all_labels = json!({"kubernetes.io/hostname": name});
        for (k, v) in labels.as_object().into_iter().flatten() {
            all_labels[k] = v.clone();
        }
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": all_labels},
            "spec": {"taints": taints},
        }))?;
        nodes.create(&PostParams::default(), &node).await?;
        let status = json!({"status": {"allocatable": {"cpu": cpu, "memory": "32Gi", "pods": "110"},
                                       "capacity": {"cpu": cpu, "memory": "32Gi", "pods": "110"}}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    }

    async fn pod(&self, mut spec: Value) -> anyhow::Result<()> {
        if let Some(name) = self.profile {
            spec["spec"]["schedulerName"] = json!(name);
        }
        let pod: Pod = serde_json::from_value(spec)?;
        self.pods().create(&PostParams::default(), &pod).await?;
        Ok(())
    }

    /// Wait until `name` is bound; its node.
    async fn placed(&self, name: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pod = self.pods().get(name).await?;
            if let Some(node) = pod.spec.and_then(|s| s.node_name).filter(|n| !n.is_empty()) {
                return Ok(node);
            }
            anyhow::ensure!(Instant::now() < deadline, "pod {name} was not scheduled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The PodScheduled condition once it is False: (reason, message).
    async fn unscheduled_condition(&self, name: &str) -> anyhow::Result<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pod = self.pods().get(name).await?;
            let condition = pod
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False");
            if let Some(c) = condition {
                return Ok((c.reason.unwrap_or_default(), c.message.unwrap_or_default()));
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "pod {name} has no PodScheduled=False"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Events about pod `name`, as `kubectl describe` finds them.
    async fn events(&self, name: &str, reason: &str) -> anyhow::Result<Vec<Event>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let selector = format!(
            "involvedObject.name={name},involvedObject.namespace=default,involvedObject.kind=Pod"
        );
        loop {
            let found: Vec<Event> = api
                .list(&ListParams::default().fields(&selector))
                .await?
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .collect();
            if !found.is_empty() {
                return Ok(found);
            }
            anyhow::ensure!(Instant::now() < deadline, "no {reason} event for {name}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A pod; like a DaemonSet's, it tolerates the taints the node lifecycle controller puts on
/// these kubelet-less nodes, so only the taints a test sets matter.
fn pod(name: &str, cpu: &str, labels: Value, extra_spec: Value) -> Value {
    let mut spec = json!({
        "terminationGracePeriodSeconds": 0,
        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
                        {"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
        "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
    });
    for (k, v) in extra_spec.as_object().into_iter().flatten() {
        if k == "tolerations" {
            let mut all = spec[k].as_array().cloned().unwrap_or_default();
            all.extend(v.as_array().cloned().unwrap_or_default());
            spec[k] = json!(all);
        } else {
            spec[k] = v.clone();
        }
    }
    json!({"metadata": {"name": name, "labels": labels}, "spec": spec})
}

#[tokio::test]
async fn places_pods_by_resources_taints_affinity_and_anti_affinity() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    cluster
        .node("small", "1", json!({"disk": "ssd"}), json!([]))
        .await?;
    cluster
        .node(
            "tainted",
            "8",
            json!({}),
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        )
        .await?;
    cluster.node("large", "4", json!({}), json!([])).await?;

    cluster.pod(pod("big", "3", json!({}), json!({}))).await?;
    assert_eq!(cluster.placed("big").await?, "large");

    cluster
        .pod(pod(
            "on-ssd",
            "100m",
            json!({}),
            json!({"nodeSelector": {"disk": "ssd"}}),
        ))
        .await?;
    assert_eq!(cluster.placed("on-ssd").await?, "small");

    let affinity = json!({
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["tainted"]}]}]}}},
    });
    cluster
        .pod(pod("tolerant", "100m", json!({}), affinity))
        .await?;
    assert_eq!(cluster.placed("tolerant").await?, "tainted");

    // Two replicas that repel each other per host, with a toleration so all three nodes count.
    let anti = json!({
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}},
    });
    let mut hosts = std::collections::BTreeSet::new();
    for i in 0..3 {
        let name = format!("web-{i}");
        cluster
            .pod(pod(&name, "10m", json!({"app": "web"}), anti.clone()))
            .await?;
        hosts.insert(cluster.placed(&name).await?);
    }
    assert_eq!(
        hosts.len(),
        3,
        "anti-affinity must spread web over hosts: {hosts:?}"
    );
    cluster
        .pod(pod("web-3", "10m", json!({"app": "web"}), anti))
        .await?;
    let (reason, message) = cluster.unscheduled_condition("web-3").await?;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
    );
    cluster.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failed_scheduling_event_then_placement_when_a_node_arrives() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    cluster.node("n1", "2", json!({}), json!([])).await?;
    cluster.node("n2", "2", json!({}), json!([])).await?;
    cluster
        .node(
            "n3",
            "64",
            json!({}),
            json!([{"key": "key", "value": "value", "effect": "NoSchedule"}]),
        )
        .await?;
    cluster
        .pod(pod("pending", "16", json!({}), json!({})))
        .await?;
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, \
                    2 Insufficient cpu. preemption: 0/3 nodes are available: \
                    1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..";
    let events = cluster.events("pending", "FailedScheduling").await?;
    assert_eq!(events[0].message.as_deref(), Some(expected));
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    assert_eq!(
        events[0]
            .source
            .as_ref()
            .and_then(|s| s.component.as_deref()),
        Some("default-scheduler")
    );
    let (reason, message) = cluster.unscheduled_condition("pending").await?;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Unschedulable", expected)
    );

    cluster.node("n4", "32", json!({}), json!([])).await?;
    assert_eq!(cluster.placed("pending").await?, "n4");
    let scheduled = cluster.events("pending", "Scheduled").await?;
    assert_eq!(
        scheduled[0].message.as_deref(),
        Some("Successfully assigned default/pending to n4")
    );
    cluster.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn topology_spread_across_zones() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    for (name, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")] {
        cluster
            .node(
                name,
                "8",
                json!({"topology.kubernetes.io/zone": zone}),
                json!([]),
            )
            .await?;
    }
    let spread = json!({"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}}}]});
    let mut per_zone = BTreeMap::<String, usize>::new();
    for i in 0..6 {
        let name = format!("spread-{i}");
        cluster
            .pod(pod(&name, "100m", json!({"app": "spread"}), spread.clone()))
            .await?;
        let node = cluster.placed(&name).await?;
        *per_zone.entry(node[..1].to_string()).or_default() += 1;
    }
    assert_eq!(per_zone, BTreeMap::from([("a".into(), 3), ("b".into(), 3)]));
    cluster.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn preempts_a_lower_priority_pod_and_honours_scheduling_gates() -> anyhow::Result<()> {
    // Its own profile: priorityClassName is resolved by the scheduler's PriorityClass informer,
    // which needs read access the admin client has.
    let cluster = Cluster::start_profile(Some("keelson-test-scheduler")).await?;
    cluster.node("only", "1", json!({}), json!([])).await?;
    let classes: Api<PriorityClass> = Api::all(cluster.client.clone());
    let high: PriorityClass =
        serde_json::from_value(json!({"metadata": {"name": "high"}, "value": 1000}))?;
    classes.create(&PostParams::default(), &high).await?;

    cluster
        .pod(pod("low", "800m", json!({}), json!({})))
        .await?;
    assert_eq!(cluster.placed("low").await?, "only");
    // Priority comes from the class: nothing on the server resolves it yet.
    cluster
        .pod(pod(
            "important",
            "800m",
            json!({}),
            json!({"priorityClassName": "high"}),
        ))
        .await?;
    assert_eq!(cluster.placed("important").await?, "only");
    assert!(
        cluster.pods().get_opt("low").await?.is_none(),
        "the victim is evicted"
    );
    cluster.events("low", "Preempted").await?;

    // A gated pod waits with reason SchedulingGated until its gates are removed.
    cluster
        .pod(pod(
            "gated",
            "10m",
            json!({}),
            json!({"schedulingGates": [{"name": "example.com/wait"}]}),
        ))
        .await?;
    let (reason, _) = cluster.unscheduled_condition("gated").await?;
    assert_eq!(reason, "SchedulingGated");
    let ungate = json!({"spec": {"schedulingGates": null}});
    cluster
        .pods()
        .patch("gated", &PatchParams::default(), &Patch::Merge(&ungate))
        .await?;
    assert_eq!(cluster.placed("gated").await?, "only");
    cluster.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let options = keelson_scheduler::bench::BenchOptions {
        nodes: 20,
        basic_pods: 100,
        constrained_pods: 20,
        case_timeout: Duration::from_secs(60),
    };
    let report = keelson_scheduler::bench::bench(client, options).await?;
    assert_eq!(report.cases.len(), 4);
    assert!(report.cases.iter().all(|c| c.pods_per_second > 0.0));
    println!("{report}");
    Ok(())
}

/// The full benchmark (5,000 nodes, 10,000 basic pods): `cargo test -p keelson-scheduler
/// --test scheduling full_scale -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "minutes long; run by hand"]
async fn full_scale_benchmark() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let report = keelson_scheduler::bench::bench(client, Default::default()).await?;
    println!("{report}");
    Ok(())
}
