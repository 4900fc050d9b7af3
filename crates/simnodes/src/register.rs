//! Registration: create each Node, or re-adopt it when it exists (a restarted simulator), then
//! post its full status, as a kubelet does on start.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::nodeset::NodeSet;
use crate::options::SimOptions;
use crate::{SIMULATED_LABEL, SimError, node_object};

const ATTEMPTS: u32 = 6;

/// A node this simulator now runs.
#[derive(Clone, Debug)]
pub struct RegisteredNode {
    pub index: u32,
    pub name: String,
    pub uid: String,
    /// `spec.podCIDR` when a controller assigned one.
    pub pod_cidr: Option<String>,
    /// The Ready condition's transition time, kept across simulator restarts.
    pub healthy_since: Timestamp,
    /// It existed already (a restarted simulator took it over).
    pub adopted: bool,
}

pub async fn register_all(
    client: &kube::Client,
    options: &SimOptions,
    nodes: &NodeSet,
    kubelet_version: &str,
) -> Result<Vec<RegisteredNode>, SimError> {
    let started = Instant::now();
    let api: Api<Node> = Api::all(client.clone());
    let progress_every = (options.count / 10).max(500) as usize;
    let registered: Vec<RegisteredNode> = futures::stream::iter(nodes.indexes())
        .map(|index| register_with_retries(&api, options, nodes, index, kubelet_version))
        .buffer_unordered(options.max_in_flight)
        .enumerate()
        .map(|(done, result)| {
            if (done + 1) % progress_every == 0 {
                tracing::info!(
                    registered = done + 1,
                    of = options.count,
                    "registering nodes"
                );
            }
            result
        })
        .try_collect()
        .await?;
    let adopted = registered.iter().filter(|n| n.adopted).count();
    tracing::info!(
        nodes = registered.len(),
        adopted,
        ms = started.elapsed().as_millis() as u64,
        "nodes registered"
    );
    Ok(registered)
}

/// Transient failures (an overloaded or restarting server) are retried with back-off; a node
/// that cannot be registered at all stops the simulator with its error.
async fn register_with_retries(
    api: &Api<Node>,
    options: &SimOptions,
    nodes: &NodeSet,
    index: u32,
    kubelet_version: &str,
) -> Result<RegisteredNode, SimError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match register_one(api, options, nodes, index, kubelet_version).await {
            Err(SimError::Kube(err)) if attempt < ATTEMPTS && retryable(&err) => {
                tracing::debug!(node = %nodes.name(index), %err, "registration failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn retryable(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500 || status.code == 409,
        _ => true,
    }
}

async fn register_one(
    api: &Api<Node>,
    options: &SimOptions,
    nodes: &NodeSet,
    index: u32,
    kubelet_version: &str,
) -> Result<RegisteredNode, SimError> {
    let name = nodes.name(index);
    let desired = node_object::desired_node(options, &name, index);
    let (node, adopted) = match api.create(&PostParams::default(), &desired).await {
        Ok(node) => (node, false),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            (adopt(api, &name, &desired).await?, true)
        }
        Err(err) => return Err(err.into()),
    };
    let now = Timestamp::now();
    let healthy_since = node_object::ready_since(&node).unwrap_or(now);
    let status =
        node_object::node_status(options, &name, index, kubelet_version, healthy_since, now);
    let node = api
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    Ok(RegisteredNode {
        index,
        name,
        uid: node.metadata.uid.unwrap_or_default(),
        pod_cidr: node.spec.and_then(|s| s.pod_cidr),
        healthy_since,
        adopted,
    })
}

/// Take over an existing node of ours: bring its labels and annotations up to date. A node
/// without the simulated label belongs to something else and is never taken over.
async fn adopt(api: &Api<Node>, name: &str, desired: &Node) -> Result<Node, SimError> {
    let existing = api.get(name).await?;
    let simulated = existing
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SIMULATED_LABEL))
        .is_some_and(|v| v == "true");
    if !simulated {
        return Err(SimError::NotSimulated(name.to_string()));
    }
    let patch = json!({"metadata": {
        "labels": desired.metadata.labels,
        "annotations": desired.metadata.annotations,
    }});
    Ok(api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}
