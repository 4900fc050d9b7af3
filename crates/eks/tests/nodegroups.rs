//! Managed node groups against a real control plane, with simulated nodes: create → ACTIVE with
//! Ready, labelled nodes; a killed node is replaced; a service restart resumes the nodes; the
//! cluster cannot be deleted while the group exists; deleting the group removes its nodes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Harness, alice, call_as, create_body, kube_client};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

async fn wait_group(harness: &Harness, status: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, body) = harness
            .call("GET", "/clusters/c/node-groups/workers", None)
            .await;
        if code == 200 && body["nodegroup"]["status"] == status {
            return Ok(body["nodegroup"].clone());
        }
        anyhow::ensure!(Instant::now() < deadline, "not {status}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ready_nodes(nodes: &Api<Node>) -> anyhow::Result<BTreeSet<String>> {
    let list = nodes
        .list(&ListParams::default().labels("eks.amazonaws.com/nodegroup=workers"))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| n.metadata.name)
        .collect())
}

async fn wait_nodes<F: Fn(&BTreeSet<String>) -> bool>(
    nodes: &Api<Node>,
    what: &str,
    check: F,
) -> anyhow::Result<BTreeSet<String>> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let names = ready_nodes(nodes).await?;
        if check(&names) {
            return Ok(names);
        }
        anyhow::ensure!(Instant::now() < deadline, "{what}: have {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pid_of(group_dir: &Path, node: &str) -> Option<u32> {
    std::fs::read_to_string(group_dir.join(format!("{node}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_group_launches_repairs_resumes_and_is_deleted() -> anyhow::Result<()> {
    let mut harness = Harness::start().await?;
    let (status, body) = harness
        .call("POST", "/clusters", Some(create_body("c", "1.33")))
        .await;
    assert_eq!(status, 200, "{body}");
    // A node group needs an ACTIVE cluster.
    let group = json!({
        "nodegroupName": "workers",
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
        "subnets": ["subnet-1", "subnet-2"],
        "nodeRole": "arn:aws:iam::111122223333:role/nodes",
        "instanceTypes": ["c5.xlarge"],
        "labels": {"team": "infra"},
        "taints": [{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}],
    });
    let (status, body) = harness
        .call("POST", "/clusters/c/node-groups", Some(group.clone()))
        .await;
    assert_eq!(
        (status, body["__code"].as_str()),
        (400, Some("InvalidRequestException")),
        "{body}"
    );
    assert_eq!(body["message"], "Cluster 'c' is not in ACTIVE status");
    harness.wait_healthy("c", Duration::from_secs(60)).await?;

    let (status, body) = harness
        .call("POST", "/clusters/c/node-groups", Some(group))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nodegroup"]["status"], "CREATING");
    let active = wait_group(&harness, "ACTIVE", Duration::from_secs(60)).await?;
    assert_eq!(active["scalingConfig"]["desiredSize"], 2);
    let nodes: Api<Node> = Api::all(kube_client(&harness.cluster_dir("c")).await?);
    let names = ready_nodes(&nodes).await?;
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        let node = nodes.get(name).await?;
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["team"], "infra");
        assert_eq!(labels["node.kubernetes.io/instance-type"], "c5.xlarge");
        assert_eq!(labels["eks.amazonaws.com/capacityType"], "ON_DEMAND");
        let status = node.status.unwrap();
        assert_eq!(status.capacity.unwrap()["pods"].0, "58");
        let taints = node.spec.unwrap().taints.unwrap();
        assert!(
            taints
                .iter()
                .any(|t| t.key == "dedicated" && t.effect == "NoSchedule")
        );
    }

    let (status, body) = harness.call("DELETE", "/clusters/c", None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("Cluster has nodegroups attached"))
    );

    // Auto-repair: kill one node's process; a new node takes its place and the old one goes.
    let group_dir = harness.cluster_dir("c").join("nodegroups/workers");
    let victim = names.iter().next().unwrap().clone();
    let pid = pid_of(&group_dir, &victim).expect("a pid file per node");
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    let repaired = wait_nodes(&nodes, "a replacement node", |n| {
        n.len() == 2 && !n.contains(&victim)
    })
    .await?;
    assert!(
        nodes.get_opt(&victim).await?.is_none(),
        "the dead node is deleted"
    );

    // A service restart resumes the same nodes with new processes.
    let before: Vec<u32> = repaired
        .iter()
        .filter_map(|n| pid_of(&group_dir, n))
        .collect();
    harness.restart().await?;
    harness.wait_healthy("c", Duration::from_secs(60)).await?;
    let nodes: Api<Node> = Api::all(kube_client(&harness.cluster_dir("c")).await?);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let after: Vec<u32> = repaired
            .iter()
            .filter_map(|n| pid_of(&group_dir, n))
            .collect();
        if after.len() == 2 && after.iter().all(|p| !before.contains(p)) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nodes not resumed: {before:?} {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ready_nodes(&nodes).await?, repaired);

    let (status, body) = harness
        .call("DELETE", "/clusters/c/node-groups/workers", None)
        .await;
    assert_eq!(
        (status, &body["nodegroup"]["status"]),
        (200, &json!("DELETING")),
        "{body}"
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (code, _) = harness
            .call("GET", "/clusters/c/node-groups/workers", None)
            .await;
        if code == 404 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the group was never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = nodes
        .list(&ListParams::default().labels("eks.amazonaws.com/nodegroup=workers"))
        .await?;
    assert!(left.items.is_empty(), "every node is removed");
    assert!(!group_dir.exists());
    let (status, _) = harness.call("DELETE", "/clusters/c", None).await;
    assert_eq!(status, 200);
    harness.wait_gone("c", Duration::from_secs(60)).await?;
    harness.shutdown().await;
    Ok(())
}

/// A launcher that cannot start anything (the simulator binary is missing): a new group ends
/// CREATE_FAILED with a NodeCreationFailure issue, and can still be deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_nodes_cannot_launch_is_create_failed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store: std::sync::Arc<dyn keelson_store::Store> =
        keelson_store::embedded::EmbeddedStore::open(dir.path().join("store"), Default::default())
            .await?;
    let mut config = keelson_eks::EksConfig::new(
        common::REGION,
        common::ACCOUNT,
        dir.path(),
        common::keelson_bin(),
        common::STS,
    );
    config.node_launcher = Some(std::sync::Arc::new(keelson_eks::SimNodesLauncher {
        binary: dir.path().join("no-such-binary"),
    }));
    let policy = common::Policy { deny: Vec::new() };
    let eks = keelson_eks::Eks::open(store, config, std::sync::Arc::new(policy)).await?;
    let call = |method: &'static str, path: &'static str, body: Option<Value>| {
        let eks = eks.clone();
        async move { call_as(&eks, &alice(), method, path, body).await }
    };
    let (status, _) = call("POST", "/clusters", Some(create_body("c", "1.33"))).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while call("GET", "/clusters/c", None).await.1["cluster"]["status"] != "ACTIVE" {
        anyhow::ensure!(Instant::now() < deadline, "cluster never ACTIVE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let group = json!({
        "nodegroupName": "workers",
        "subnets": ["subnet-1"],
        "nodeRole": "arn:aws:iam::111122223333:role/nodes",
    });
    let (status, body) = call("POST", "/clusters/c/node-groups", Some(group)).await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let (_, body) = call("GET", "/clusters/c/node-groups/workers", None).await;
        if body["nodegroup"]["status"] == "CREATE_FAILED" {
            break body["nodegroup"].clone();
        }
        anyhow::ensure!(Instant::now() < deadline, "never CREATE_FAILED: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["health"]["issues"][0]["code"], "NodeCreationFailure");
    let (status, _) = call("DELETE", "/clusters/c/node-groups/workers", None).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while call("GET", "/clusters/c/node-groups/workers", None).await.0 != 404 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the failed group was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eks.shutdown().await;
    Ok(())
}
