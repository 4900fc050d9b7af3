//! One node group's controller: a loop that reads the group's record and the cluster's Nodes
//! and moves one step towards the record each round: launch missing nodes, replace dead ones,
//! drain and remove surplus ones (or all, when deleting), bring labels and taints in line, and
//! set the group's status once the nodes are Ready.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;

use super::ManagerInner;
use super::catalogue::{self, DEFAULT_INSTANCE_TYPE};
use super::choice::{scale_in_victims, zone_for_new_node, zones_of_subnets};
use super::cluster_api::{self, NODEGROUP_LABEL};
use super::launcher::{NodeSpec, RunningNode, name_prefix};
use super::model::{NodeRecord, NodegroupRecord, NodegroupStatus};
use crate::model::{ClusterRecord, HealthIssue};

const ROUND: Duration = Duration::from_secs(1);
/// Launch failures in a row before a new group is CREATE_FAILED (a running one DEGRADED).
const LAUNCH_ATTEMPTS: u32 = 5;
/// Failed rounds in a row (the cluster's API not answering) before an ACTIVE group is DEGRADED.
const DEGRADE_AFTER: u32 = 15;

struct State {
    nodes: HashMap<String, Box<dyn RunningNode>>,
    client: Option<kube::Client>,
    launch_failures: u32,
    failed_rounds: u32,
}

pub(super) async fn run(inner: &ManagerInner, cluster: &str, group: &str) {
    let mut state = State {
        nodes: HashMap::new(),
        client: None,
        launch_failures: 0,
        failed_rounds: 0,
    };
    let stop = inner.shutdown.clone();
    loop {
        if stop.is_cancelled() {
            break;
        }
        match inner.records.get(cluster).await {
            Ok(Some((record, _))) => {
                let Some(ng) = record.nodegroups.iter().find(|g| g.name == group).cloned() else {
                    break;
                };
                match round(inner, &mut state, &record, &ng).await {
                    Ok(()) => state.failed_rounds = 0,
                    Err(error) => {
                        tracing::warn!(cluster, nodegroup = group, %error, "node group round");
                        state.client = None;
                        state.failed_rounds += 1;
                        if state.failed_rounds == DEGRADE_AFTER
                            && ng.status == NodegroupStatus::Active
                        {
                            let message = format!("The cluster's API cannot be reached: {error}");
                            let issue = Some(("ClusterUnreachable", message));
                            let result =
                                set_status(inner, cluster, group, NodegroupStatus::Degraded, issue);
                            if let Err(error) = result.await {
                                tracing::warn!(cluster, nodegroup = group, %error, "degrading");
                            }
                        }
                    }
                }
            }
            Ok(None) => break,
            Err(error) => tracing::warn!(cluster, %error, "reading the cluster record"),
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(ROUND) => {}
        }
    }
    for (_, mut node) in state.nodes.drain() {
        node.stop().await;
    }
}

fn group_dir(inner: &ManagerInner, cluster: &str, group: &str) -> PathBuf {
    inner
        .clusters_dir
        .join(cluster)
        .join("nodegroups")
        .join(group)
}

fn node_labels(inner: &ManagerInner, ng: &NodegroupRecord) -> BTreeMap<String, String> {
    let mut labels = ng.labels.clone();
    labels.insert(NODEGROUP_LABEL.into(), ng.name.clone());
    labels.insert(
        "eks.amazonaws.com/capacityType".into(),
        ng.capacity_type.clone(),
    );
    labels.insert(
        "eks.amazonaws.com/nodegroup-image".into(),
        ng.release_version.clone(),
    );
    labels.insert("topology.kubernetes.io/region".into(), inner.region.clone());
    labels
}

async fn round(
    inner: &ManagerInner,
    state: &mut State,
    record: &ClusterRecord,
    ng: &NodegroupRecord,
) -> Result<(), String> {
    let cluster = record.name.as_str();
    let kubeconfig = inner.clusters_dir.join(cluster).join("admin.kubeconfig");
    if state.client.is_none() {
        state.client = Some(cluster_api::client(&kubeconfig).await?);
    }
    let client = state.client.clone().expect("set above");
    let deleting = ng.status == NodegroupStatus::Deleting;

    // Node auto-repair: a node whose process died is replaced by a new one.
    let dead: Vec<(String, String)> = state
        .nodes
        .iter_mut()
        .filter_map(|(name, node)| node.exited().map(|why| (name.clone(), why)))
        .collect();
    // The record read at the start of this round still lists the dead; the next round
    // launches replacements from a fresh read.
    let replacing = !dead.is_empty();
    for (name, why) in dead {
        state.nodes.remove(&name);
        tracing::warn!(cluster, nodegroup = %ng.name, node = %name, why, "node died; replacing it");
        cluster_api::delete_node(&client, &name)
            .await
            .map_err(|e| e.to_string())?;
        forget_node(inner, cluster, &ng.name, &name).await?;
    }
    if replacing {
        return Ok(());
    }

    // A failed creation is final: the group waits to be deleted.
    if ng.status == NodegroupStatus::CreateFailed {
        return Ok(());
    }
    // Start every recorded node that does not run (new ones, and all after a service restart);
    // a group being deleted only removes them.
    let labels = node_labels(inner, ng);
    let dir = group_dir(inner, cluster, &ng.name);
    for node in ng.nodes.iter().filter(|_| !deleting) {
        if state.nodes.contains_key(&node.name) {
            continue;
        }
        let instance = catalogue::lookup(&node.instance_type).ok_or("unknown instance type")?;
        let spec = NodeSpec {
            kubeconfig: &kubeconfig,
            dir: &dir,
            node,
            instance,
            labels: labels.clone(),
            taints: &ng.taints,
        };
        match inner.launcher.launch(&spec).await {
            Ok(running) => {
                state.launch_failures = 0;
                state.nodes.insert(node.name.clone(), running);
            }
            Err(error) => {
                state.launch_failures += 1;
                tracing::error!(cluster, nodegroup = %ng.name, node = %node.name, %error, "launching a node");
                let next = match ng.status {
                    NodegroupStatus::Creating => Some(NodegroupStatus::CreateFailed),
                    NodegroupStatus::Active | NodegroupStatus::Updating => {
                        Some(NodegroupStatus::Degraded)
                    }
                    _ => None,
                };
                if let Some(next) = next
                    && state.launch_failures >= LAUNCH_ATTEMPTS
                {
                    let message = format!("Nodes could not be launched: {error}");
                    let issue = Some(("NodeCreationFailure", message));
                    set_status(inner, cluster, &ng.name, next, issue).await?;
                }
                return Ok(());
            }
        }
    }

    let target = if deleting {
        0
    } else {
        ng.scaling.desired_size as usize
    };
    if ng.nodes.len() < target {
        add_nodes(inner, cluster, &ng.name, target).await?;
        return Ok(());
    }
    let cluster_nodes = cluster_api::group_nodes(&client, &ng.name)
        .await
        .map_err(|e| e.to_string())?;
    if ng.nodes.len() > target {
        let observed = cluster_api::observe(&client, &cluster_nodes)
            .await
            .map_err(|e| e.to_string())?;
        let count = (ng.nodes.len() - target).min(ng.drain_parallelism());
        let victims = scale_in_victims(&ng.nodes, &observed, count);
        remove_nodes(inner, state, &client, cluster, &ng.name, victims).await?;
        if deleting && ng.nodes.len() <= count {
            finish_delete(inner, cluster, &ng.name).await?;
        }
        return Ok(());
    }
    if deleting {
        return finish_delete(inner, cluster, &ng.name).await;
    }
    let mut in_line = true;
    for node in cluster_nodes
        .iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
    {
        in_line &= cluster_api::sync_config(&client, node, &labels, &ng.taints)
            .await
            .map_err(|e| e.to_string())?;
    }
    let ready = ng
        .nodes
        .iter()
        .filter(|n| is_ready(&cluster_nodes, &n.name))
        .count();
    if ready == target
        && in_line
        && matches!(
            ng.status,
            NodegroupStatus::Creating | NodegroupStatus::Updating | NodegroupStatus::Degraded
        )
    {
        set_status(inner, cluster, &ng.name, NodegroupStatus::Active, None).await?;
        tracing::info!(cluster, nodegroup = %ng.name, nodes = ready, "node group active");
    }
    Ok(())
}

fn is_ready(nodes: &[Node], name: &str) -> bool {
    nodes
        .iter()
        .any(|n| n.metadata.name.as_deref() == Some(name) && cluster_api::is_ready(n))
}

async fn add_nodes(
    inner: &ManagerInner,
    cluster: &str,
    group: &str,
    target: usize,
) -> Result<(), String> {
    let region = inner.region.clone();
    let (added, _) = inner
        .records
        .mutate(cluster, |record| {
            let mut next_index = record.next_node_index;
            let Some(ng) = record.nodegroups.iter_mut().find(|g| g.name == group) else {
                return Ok(Vec::new());
            };
            let zones = zones_of_subnets(&region, &ng.subnets);
            let instance_type = ng
                .instance_types
                .first()
                .cloned()
                .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.into());
            let mut added = Vec::new();
            while ng.nodes.len() < target {
                let node = NodeRecord {
                    name: format!("{}{next_index}", name_prefix(group)),
                    index: next_index,
                    zone: zone_for_new_node(&zones, &ng.nodes),
                    instance_type: instance_type.clone(),
                };
                next_index += 1;
                added.push(node.name.clone());
                ng.nodes.push(node);
            }
            record.next_node_index = next_index;
            Ok(added)
        })
        .await
        .map_err(|e| e.message)?;
    tracing::info!(cluster, nodegroup = group, ?added, "launching nodes");
    Ok(())
}

/// Cordons and drains the victims together (at most maxUnavailable of them), then stops and
/// deletes each one.
async fn remove_nodes(
    inner: &ManagerInner,
    state: &mut State,
    client: &kube::Client,
    cluster: &str,
    group: &str,
    victims: Vec<NodeRecord>,
) -> Result<(), String> {
    for victim in &victims {
        cluster_api::cordon(client, &victim.name)
            .await
            .map_err(|e| e.to_string())?;
    }
    let drains = victims
        .iter()
        .map(|v| cluster_api::drain(client, &v.name, &inner.shutdown));
    for (victim, drained) in victims.iter().zip(futures::future::join_all(drains).await) {
        if !drained.map_err(|e| e.to_string())? {
            return Ok(());
        }
        match state.nodes.remove(&victim.name) {
            Some(mut node) => node.stop().await,
            None => {
                let dir = group_dir(inner, cluster, group);
                inner.launcher.stop_leftover(&dir, victim).await;
            }
        }
        cluster_api::delete_node(client, &victim.name)
            .await
            .map_err(|e| e.to_string())?;
        forget_node(inner, cluster, group, &victim.name).await?;
        tracing::info!(cluster, nodegroup = group, node = %victim.name, "node drained and removed");
    }
    Ok(())
}

async fn forget_node(
    inner: &ManagerInner,
    cluster: &str,
    group: &str,
    node: &str,
) -> Result<(), String> {
    inner
        .records
        .mutate(cluster, |record| {
            if let Some(ng) = record.nodegroups.iter_mut().find(|g| g.name == group) {
                ng.nodes.retain(|n| n.name != node);
            }
            Ok(())
        })
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

async fn finish_delete(inner: &ManagerInner, cluster: &str, group: &str) -> Result<(), String> {
    inner
        .records
        .mutate(cluster, |record| {
            record
                .nodegroups
                .retain(|g| !(g.name == group && g.nodes.is_empty()));
            Ok(())
        })
        .await
        .map_err(|e| e.message)?;
    let _ = std::fs::remove_dir_all(group_dir(inner, cluster, group));
    tracing::info!(cluster, nodegroup = group, "node group deleted");
    Ok(())
}

/// Moves the group to `status` with `issue` (none: every issue is resolved). ACTIVE completes
/// the in-progress updates, CREATE_FAILED fails them; DEGRADED leaves them running.
async fn set_status(
    inner: &ManagerInner,
    cluster: &str,
    group: &str,
    status: NodegroupStatus,
    issue: Option<(&str, String)>,
) -> Result<(), String> {
    inner
        .records
        .mutate(cluster, |record| {
            let Some(ng) = record.nodegroups.iter_mut().find(|g| g.name == group) else {
                return Ok(());
            };
            if ng.status == NodegroupStatus::Deleting {
                return Ok(());
            }
            ng.status = status;
            ng.modified_at = crate::model::now_seconds();
            match &issue {
                Some((code, message)) => {
                    ng.health_issues.retain(|i| i.code != *code);
                    ng.health_issues.push(HealthIssue {
                        code: code.to_string(),
                        message: message.clone(),
                        resource_ids: vec![ng.name.clone()],
                    })
                }
                None => ng.health_issues.clear(),
            }
            let outcome = match status {
                NodegroupStatus::Active => "Successful",
                NodegroupStatus::CreateFailed => "Failed",
                _ => return Ok(()),
            };
            for update in ng.updates.iter_mut().filter(|u| u.status == "InProgress") {
                update.status = outcome.into();
            }
            Ok(())
        })
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}
