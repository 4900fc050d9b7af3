//! Simulated nodes, like upstream's kwok: `keelson sim-nodes` registers Nodes that no kubelet
//! backs, keeps their Leases and Ready heartbeats fresh, and moves the pods bound to them
//! through their phases with the status a kubelet would post. Everything goes through the
//! public Kubernetes API (kube-rs); a restarted simulator re-adopts its nodes and resumes its
//! pods from the API alone.
//!
//! Stopping the simulator is a node failure, not a decommission: nothing is deleted or marked,
//! the Leases simply stop being renewed.
//!
//! Module map: [`options`] (settings), [`register`] (create or re-adopt Nodes), [`heartbeat`]
//! (Leases and node status reports), [`pods`] (one pod watcher driving [`pod_decision`] and
//! [`pod_status`]), [`ipam`] (node and pod addresses).
//!
//! # Current limitations
//! - Containers start at once: no image pulls, probes, crash-loop back-off or resource
//!   accounting; readiness and liveness probes always pass.
//! - Pods get IPv4 addresses only; volumes are not mounted or reported.

pub mod heartbeat;
mod ids;
pub mod ipam;
pub mod node_object;
pub mod nodeset;
pub mod options;
mod pod_bookkeeping;
pub mod pod_decision;
pub mod pod_status;
mod pod_writes;
pub mod pods;
mod qos;
pub mod quantity;
pub mod register;

use tokio_util::sync::CancellationToken;

pub use options::SimOptions;

/// The label (value `"true"`) that marks a node as simulated.
pub const SIMULATED_LABEL: &str = "keelson.dev/simulated";
/// Namespace of the nodes' heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("building a request: {0}")]
    Request(#[from] kube::core::request::Error),
    #[error("invalid quantity {0:?}")]
    InvalidQuantity(String),
    #[error("invalid duration {0:?} (expected e.g. 2s, 500ms, 1m30s)")]
    InvalidDuration(String),
    #[error("{0}")]
    InvalidOptions(String),
    #[error("node {0} exists and is not a simulated node (no {SIMULATED_LABEL}=true label)")]
    NotSimulated(String),
}

/// Register the nodes, then heartbeat them and run their pods until `shutdown`.
pub async fn run(
    client: kube::Client,
    options: SimOptions,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    options.validate()?;
    let kubelet_version = client.apiserver_version().await?.git_version;
    let nodes = nodeset::NodeSet::new(&options.name_prefix, options.start_index, options.count);
    let registered = tokio::select! {
        r = register::register_all(&client, &options, &nodes, &kubelet_version) => r?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    let pod_cidrs = registered
        .iter()
        .map(|n| (n.index, n.pod_cidr.clone()))
        .collect();
    // One loop ending (a panic) stops the other: half a node (leases without pods, or pods
    // without leases) would be worse than a failed one.
    let work = shutdown.child_token();
    let (status_requests, requested) = tokio::sync::mpsc::channel(1024);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(heartbeat::run(
        client.clone(),
        registered,
        options.clone(),
        requested,
        work.clone(),
    ));
    let watched = pods::Watched {
        nodes,
        pod_cidrs,
        status_requests,
    };
    tasks.spawn(pods::run(client, watched, options, work.clone()));
    while let Some(done) = tasks.join_next().await {
        if let Err(err) = done {
            tracing::error!(%err, "simulator task failed");
        }
        work.cancel();
    }
    Ok(())
}
