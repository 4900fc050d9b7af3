//! What a node group does through its cluster's Kubernetes API (kube-rs with the admin
//! kubeconfig, never the cluster's store): watch readiness, cordon, drain by eviction (which
//! respects PodDisruptionBudgets), keep labels and taints in step, and delete Nodes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::choice::Observed;
use super::model::TaintRecord;

pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// Which labels and taints the service put on a node, so that a removed one can be taken off.
const APPLIED_ANNOTATION: &str = "eks.keelson.dev/applied-config";
const DRAIN_POLL: Duration = Duration::from_secs(1);
/// How long a drain waits for disruption budgets before the node goes anyway (its pods then
/// go with it), as managed node groups give up on eviction after 15 minutes.
const DRAIN_PATIENCE: Duration = Duration::from_secs(15 * 60);

pub async fn client(kubeconfig: &Path) -> Result<kube::Client, String> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// The group's Nodes as the cluster sees them.
pub async fn group_nodes(client: &kube::Client, group: &str) -> kube::Result<Vec<Node>> {
    let api: Api<Node> = Api::all(client.clone());
    Ok(api
        .list(&ListParams::default().labels(&format!("{NODEGROUP_LABEL}={group}")))
        .await?
        .items)
}

pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Readiness and pod counts of the group's nodes, for choosing scale-in victims.
pub async fn observe(
    client: &kube::Client,
    nodes: &[Node],
) -> kube::Result<BTreeMap<String, Observed>> {
    let mut observed = BTreeMap::new();
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let pods = evictable_pods(client, &name).await?.len();
        observed.insert(
            name,
            Observed {
                ready: is_ready(node),
                pods,
            },
        );
    }
    Ok(observed)
}

async fn pods_on(client: &kube::Client, node: &str) -> kube::Result<Vec<Pod>> {
    let api: Api<Pod> = Api::all(client.clone());
    Ok(api
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items)
}

/// Pods a drain must move: not finished, not DaemonSet-owned (the DaemonSet would put them
/// back), not mirror pods.
async fn evictable_pods(client: &kube::Client, node: &str) -> kube::Result<Vec<Pod>> {
    Ok(pods_on(client, node)
        .await?
        .into_iter()
        .filter(|pod| {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            let finished = matches!(phase, Some("Succeeded" | "Failed"));
            let daemon = pod
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|o| o.kind == "DaemonSet"));
            let mirror = pod
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
            !finished && !daemon && !mirror
        })
        .collect())
}

pub async fn cordon(client: &kube::Client, node: &str) -> kube::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    match api
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Evicts every pod a drain must move and waits until they are gone. An eviction a
/// PodDisruptionBudget forbids (429) is retried until the budget allows it, for at most
/// [`DRAIN_PATIENCE`]. Returns false if stopped first.
pub async fn drain(
    client: &kube::Client,
    node: &str,
    stop: &CancellationToken,
) -> kube::Result<bool> {
    let mut blocked_logged = false;
    let started = std::time::Instant::now();
    loop {
        let pods = evictable_pods(client, node).await?;
        if pods.is_empty() {
            return Ok(true);
        }
        if started.elapsed() > DRAIN_PATIENCE {
            tracing::warn!(
                node,
                pods = pods.len(),
                "pods did not leave within {DRAIN_PATIENCE:?}; removing the node anyway"
            );
            return Ok(true);
        }
        for pod in pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            match api.evict(&name, &EvictParams::default()).await {
                Ok(_) => tracing::info!(node, pod = %format!("{namespace}/{name}"), "evicted"),
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    if !blocked_logged {
                        tracing::info!(node, pod = %format!("{namespace}/{name}"), reason = %s.message, "eviction refused by a disruption budget; retrying");
                        blocked_logged = true;
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(false),
            _ = tokio::time::sleep(DRAIN_POLL) => {}
        }
    }
}

pub async fn delete_node(client: &kube::Client, node: &str) -> kube::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    match api.delete(node, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Brings the node's group labels and taints in line with the group's (an UpdateNodegroupConfig
/// reaches running nodes this way); returns whether it was already in line.
pub async fn sync_config(
    client: &kube::Client,
    node: &Node,
    labels: &BTreeMap<String, String>,
    taints: &[TaintRecord],
) -> kube::Result<bool> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let want_taints: Vec<(String, Option<String>, String)> = taints
        .iter()
        .map(|t| {
            (
                t.key.clone(),
                t.value.clone(),
                t.kubernetes_effect().to_string(),
            )
        })
        .collect();
    let applied: AppliedConfig = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(APPLIED_ANNOTATION))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let current_labels = node.metadata.labels.clone().unwrap_or_default();
    let current_taints: Vec<(String, Option<String>, String)> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value, t.effect))
        .collect();
    let mut label_patch = serde_json::Map::new();
    for key in applied.labels.iter().filter(|k| !labels.contains_key(*k)) {
        if current_labels.contains_key(key) {
            label_patch.insert(key.clone(), serde_json::Value::Null);
        }
    }
    for (key, value) in labels {
        if current_labels.get(key) != Some(value) {
            label_patch.insert(key.clone(), json!(value));
        }
    }
    // Taints the service applied earlier and no longer wants go; wanted ones replace any with
    // the same key and effect; taints others put on (e.g. node lifecycle's) stay.
    let same =
        |a: &(String, Option<String>, String), key: &str, effect: &str| a.0 == key && a.2 == effect;
    let mut next_taints: Vec<(String, Option<String>, String)> = current_taints
        .iter()
        .filter(|t| !applied.taints.iter().any(|(k, e)| same(t, k, e)))
        .filter(|t| !want_taints.iter().any(|w| same(t, &w.0, &w.2)))
        .cloned()
        .collect();
    next_taints.extend(want_taints.iter().cloned());
    let now_applied = AppliedConfig {
        labels: labels.keys().cloned().collect(),
        taints: want_taints
            .iter()
            .map(|t| (t.0.clone(), t.2.clone()))
            .collect(),
    };
    let sorted = |mut v: Vec<(String, Option<String>, String)>| {
        v.sort();
        v
    };
    if label_patch.is_empty()
        && sorted(next_taints.clone()) == sorted(current_taints)
        && applied == now_applied
    {
        return Ok(true);
    }
    let taints_json: Vec<_> = next_taints
        .iter()
        .map(|(key, value, effect)| json!({"key": key, "value": value, "effect": effect}))
        .collect();
    let patch = json!({
        "metadata": {
            "labels": label_patch,
            "annotations": { APPLIED_ANNOTATION: serde_json::to_string(&now_applied).expect("serialises") },
        },
        "spec": { "taints": taints_json },
    });
    let api: Api<Node> = Api::all(client.clone());
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(false)
}

#[derive(serde::Serialize, serde::Deserialize, Default, PartialEq)]
struct AppliedConfig {
    labels: Vec<String>,
    taints: Vec<(String, String)>,
}
