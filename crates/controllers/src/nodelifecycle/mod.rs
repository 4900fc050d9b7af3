//! The node lifecycle controller (upstream's node-lifecycle-controller and
//! taint-eviction-controller): watches Nodes and their Leases in kube-node-lease, marks nodes
//! whose kubelet fell silent as Unknown and their pods as not ready, keeps the condition
//! taints (not-ready, unreachable, pressure, unschedulable) on nodes, and evicts pods from
//! NoExecute-tainted nodes according to their tolerations.

mod eviction;
mod health;
mod monitor;
mod taints;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::Store;
use tokio_util::sync::CancellationToken;

use crate::endpointslice::index::Index;
use crate::events::Recorder;
use crate::informers::Informers;

/// kube-controller-manager's node lifecycle flags, with upstream's defaults (1.33).
#[derive(Clone, Debug)]
pub struct Options {
    /// --node-monitor-grace-period: how long a node may go without renewing its lease (or
    /// posting status) before it is marked Unknown.
    pub node_monitor_grace_period: Duration,
    /// --node-startup-grace-period: the same for a node that never posted a Ready condition.
    pub node_startup_grace_period: Duration,
    /// --node-monitor-period: how often node health is checked.
    pub node_monitor_period: Duration,
    /// --node-eviction-rate: nodes per second that may get a NoExecute taint in a healthy zone.
    pub node_eviction_rate: f64,
    /// --secondary-node-eviction-rate: the same in a partially disrupted large zone.
    pub secondary_node_eviction_rate: f64,
    /// --large-cluster-size-threshold: zones above this size use the secondary rate.
    pub large_cluster_size_threshold: usize,
    /// --unhealthy-zone-threshold: share of not-ready nodes making a zone partially disrupted.
    pub unhealthy_zone_threshold: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            node_monitor_period: Duration::from_secs(5),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
        }
    }
}

struct Context {
    client: kube::Client,
    options: Options,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    pods_by_node: Arc<Index<Pod>>,
    node_events: Recorder,
    eviction_events: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    options: Options,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let nodes = informers.shared::<Node>();
    let leases = informers.shared::<Lease>().cache;
    let pods = informers.shared::<Pod>();
    async move {
        let pods_by_node = Index::new(|pod: &Pod| {
            pod.spec
                .as_ref()?
                .node_name
                .clone()
                .filter(|n| !n.is_empty())
        });
        pods_by_node.prime(&pods.cache);
        let context = Arc::new(Context {
            node_events: Recorder::new(client.clone(), "node-controller"),
            eviction_events: Recorder::new(client.clone(), "taint-eviction-controller"),
            client,
            options,
            nodes: nodes.cache,
            leases,
            pods: pods.cache,
            pods_by_node,
        });
        futures::future::join(
            monitor::run(context.clone(), shutdown.clone()),
            eviction::run(context, nodes.changes, pods.changes, shutdown),
        )
        .await;
    }
}
