//! Node IPAM (upstream's nodeipam controller with the RangeAllocator): every node without a
//! pod CIDR gets the next free `/node_cidr_mask_size` block of the cluster CIDR in
//! `spec.podCIDR`/`spec.podCIDRs`; blocks of deleted nodes become free again.
//!
//! The default cluster CIDR is 10.64.0.0/10 with /24 per node: 16,384 nodes of 254 pod
//! addresses each (upstream has no default; kubeadm-style 10.244.0.0/16 would hold only 256
//! nodes). Single-stack IPv4.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::{Recorder, reference_to};
use crate::informers::Informers;

/// How long an allocation waits to show up in the node cache before it is given up.
const PENDING_EXPIRY: Duration = Duration::from_secs(300);
/// How often the free blocks are recomputed from the nodes that exist, in case a deletion was
/// missed (a relist); deleted nodes release their block at once otherwise.
const REBUILD_PERIOD: Duration = Duration::from_secs(60);

/// An IPv4 CIDR such as 10.64.0.0/10.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = s.split_once('/').ok_or(format!("{s:?} is not a CIDR"))?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or(format!("{prefix:?} is not a prefix length"))?;
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Ok(Cidr {
            base: Ipv4Addr::from(u32::from(address) & mask),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// kube-controller-manager's --cluster-cidr and --node-cidr-mask-size.
#[derive(Clone, Debug)]
pub struct Options {
    pub cluster_cidr: Cidr,
    pub node_cidr_mask_size: u8,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cluster_cidr: Cidr {
                base: Ipv4Addr::new(10, 64, 0, 0),
                prefix: 10,
            },
            node_cidr_mask_size: 24,
        }
    }
}

struct Allocator {
    cluster: Cidr,
    node_prefix: u8,
    used: Vec<bool>,
    /// Where the search for a free block resumes, so released blocks are reused last.
    next: usize,
    /// Allocations not yet seen in the cache, by node uid.
    pending: HashMap<String, (usize, Instant)>,
}

impl Allocator {
    fn new(options: &Options) -> Option<Self> {
        let bits = options
            .node_cidr_mask_size
            .checked_sub(options.cluster_cidr.prefix)
            .filter(|b| *b <= 24 && options.node_cidr_mask_size <= 32)?;
        Some(Self {
            cluster: options.cluster_cidr,
            node_prefix: options.node_cidr_mask_size,
            used: vec![false; 1 << bits],
            next: 0,
            pending: HashMap::new(),
        })
    }

    fn block(&self, index: usize) -> String {
        let size = 1u64 << (32 - self.node_prefix);
        let base = u64::from(u32::from(self.cluster.base)) + index as u64 * size;
        format!("{}/{}", Ipv4Addr::from(base as u32), self.node_prefix)
    }

    fn index_of(&self, cidr: &str) -> Option<usize> {
        let parsed: Cidr = cidr.parse().ok()?;
        if parsed.prefix != self.node_prefix {
            return None;
        }
        let offset = u32::from(parsed.base).checked_sub(u32::from(self.cluster.base))?;
        let index = (offset >> (32 - u32::from(self.node_prefix))) as usize;
        (index < self.used.len()).then_some(index)
    }

    fn occupy(&mut self, cidr: &str) {
        if let Some(index) = self.index_of(cidr) {
            self.used[index] = true;
        }
    }

    fn release(&mut self, cidr: &str) {
        if let Some(index) = self.index_of(cidr) {
            self.used[index] = false;
        }
    }

    fn allocate(&mut self) -> Option<usize> {
        let total = self.used.len();
        let found = (0..total)
            .map(|step| (self.next + step) % total)
            .find(|i| !self.used[*i])?;
        self.used[found] = true;
        self.next = (found + 1) % total;
        Some(found)
    }

    /// Recompute the used blocks from the nodes that exist and the pending allocations.
    fn rebuild(&mut self, nodes: &Store<Node>) {
        self.used.iter_mut().for_each(|u| *u = false);
        self.pending
            .retain(|_, (_, since)| since.elapsed() < PENDING_EXPIRY);
        let pending: Vec<usize> = self.pending.values().map(|(i, _)| *i).collect();
        for index in pending {
            self.used[index] = true;
        }
        for node in nodes.state() {
            for cidr in pod_cidrs(&node) {
                self.occupy(&cidr);
            }
        }
    }
}

fn pod_cidrs(node: &Node) -> Vec<String> {
    let Some(spec) = node.spec.as_ref() else {
        return Vec::new();
    };
    let mut cidrs = spec.pod_cidrs.clone().unwrap_or_default();
    if let Some(cidr) = spec.pod_cidr.clone().filter(|c| !c.is_empty()) {
        cidrs.push(cidr);
    }
    cidrs
}

struct Context {
    client: kube::Client,
    nodes: Store<Node>,
    allocator: Mutex<Allocator>,
    events: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    options: Options,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let nodes = informers.shared::<Node>();
    async move {
        let Some(allocator) = Allocator::new(&options) else {
            tracing::error!(
                cluster_cidr = %options.cluster_cidr,
                mask = options.node_cidr_mask_size,
                "node CIDR mask does not fit the cluster CIDR; node IPAM is off"
            );
            return;
        };
        let context = Arc::new(Context {
            events: Recorder::new(client.clone(), "cidrAllocator"),
            client,
            nodes: nodes.cache.clone(),
            allocator: Mutex::new(allocator),
        });
        context
            .allocator
            .lock()
            .expect("allocator lock")
            .rebuild(&nodes.cache);
        let rebuilder = {
            let context = context.clone();
            let shutdown = shutdown.clone();
            async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(REBUILD_PERIOD) => {}
                    }
                    let mut allocator = context.allocator.lock().expect("allocator lock");
                    allocator.rebuild(&context.nodes);
                }
            }
        };
        // A node that is no longer cached when its change arrives was deleted: its block is free.
        let releasing = context.clone();
        let node_changes = nodes.changes.inspect(move |node| {
            if releasing.nodes.get(&ObjectRef::from_obj(&**node)).is_none() {
                let mut allocator = releasing.allocator.lock().expect("allocator lock");
                for cidr in pod_cidrs(node) {
                    allocator.release(&cidr);
                }
            }
        });
        let controller = Controller::for_shared_stream(node_changes, nodes.cache)
            .with_config(Config::default().concurrency(10))
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {});
        futures::future::join(controller, rebuilder).await;
    }
}

fn error_policy(node: Arc<Node>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, node = ?node.metadata.name, "allocating a pod CIDR failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, ControllerError> {
    let (Some(name), Some(uid)) = (&node.metadata.name, &node.metadata.uid) else {
        return Ok(Action::await_change());
    };
    let allocated = {
        let mut allocator = context.allocator.lock().expect("allocator lock");
        let cidrs = pod_cidrs(&node);
        if !cidrs.is_empty() {
            for cidr in &cidrs {
                allocator.occupy(cidr);
            }
            allocator.pending.remove(uid);
            return Ok(Action::await_change());
        }
        if node.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        if allocator.pending.contains_key(uid) {
            // Our patch is not in the cache yet.
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let index = allocator.allocate().or_else(|| {
            allocator.rebuild(&context.nodes);
            allocator.allocate()
        });
        index.map(|i| {
            allocator.pending.insert(uid.clone(), (i, Instant::now()));
            (i, allocator.block(i))
        })
    };
    let Some((index, cidr)) = allocated else {
        context
            .events
            .warning(
                &reference_to(&*node),
                "CIDRNotAvailable",
                &format!("Node {name} status is now: CIDRNotAvailable"),
            )
            .await;
        return Ok(Action::requeue(Duration::from_secs(30)));
    };
    let api: Api<Node> = Api::all(context.client.clone());
    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::debug!(node = name, cidr, "allocated pod CIDR");
            Ok(Action::await_change())
        }
        Err(err) => {
            let mut allocator = context.allocator.lock().expect("allocator lock");
            allocator.pending.remove(uid);
            allocator.used[index] = false;
            match err {
                kube::Error::Api(status) if status.code == 404 => Ok(Action::await_change()),
                err => Err(err.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_range_holds_5000_nodes_and_hands_out_distinct_blocks() {
        let mut allocator = Allocator::new(&Options::default()).unwrap();
        assert!(allocator.used.len() >= 5000);
        let first = allocator.allocate().unwrap();
        let second = allocator.allocate().unwrap();
        assert_eq!(allocator.block(first), "10.64.0.0/24");
        assert_eq!(allocator.block(second), "10.64.1.0/24");
        assert_eq!(allocator.index_of("10.64.1.0/24"), Some(second));
        assert_eq!(allocator.index_of("10.128.0.0/24"), None);
        assert_eq!(allocator.block(allocator.used.len() - 1), "10.127.255.0/24");
    }

    #[test]
    fn exhausted_range_wraps_to_released_blocks() {
        let options = Options {
            cluster_cidr: "10.0.0.0/23".parse().unwrap(),
            node_cidr_mask_size: 24,
        };
        let mut allocator = Allocator::new(&options).unwrap();
        assert_eq!(allocator.allocate(), Some(0));
        assert_eq!(allocator.allocate(), Some(1));
        assert_eq!(allocator.allocate(), None);
        allocator.used[0] = false;
        assert_eq!(allocator.allocate(), Some(0));
    }

    #[test]
    fn parses_and_normalizes_cidrs() {
        let cidr: Cidr = "10.65.3.7/10".parse().unwrap();
        assert_eq!(cidr.to_string(), "10.64.0.0/10");
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!(
            Allocator::new(&Options {
                cluster_cidr: "10.0.0.0/24".parse().unwrap(),
                node_cidr_mask_size: 16,
            })
            .is_none()
        );
    }
}
