//! Node heartbeats, as the kubelet sends them: the node's Lease in kube-node-lease renewed every
//! `lease_renew_interval` (with the kubelet's 4% jitter), and a node status report (the Ready
//! heartbeat) every `node_status_report_frequency`. One task schedules every node; the writes
//! run with bounded concurrency. Nothing is written on shutdown: a stopped simulator looks like
//! failed nodes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::time::{DelayQueue, delay_queue};

use crate::options::SimOptions;
use crate::register::RegisteredNode;
use crate::{NODE_LEASE_NAMESPACE, node_object};

/// Heartbeat writes in flight at once. They have their own budget, as large as the pods'
/// default, so that on a saturated API server a burst of pod writes takes at most half of it
/// and healthy nodes keep their Leases (upstream gets this from API Priority and Fairness,
/// which gives node heartbeats their own priority level).
const MAX_IN_FLIGHT: usize = 64;
const LEASE_JITTER: f64 = 0.04;
const LEASE_RETRY: Duration = Duration::from_millis(500);
const STATUS_RETRY: Duration = Duration::from_secs(10);
const REPORT_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Beat {
    Lease,
    Status,
}

struct NodeBeats {
    node: RegisteredNode,
    /// The last Lease written, so a renewal is one update (the kubelet's behaviour); `None`
    /// after a conflict, so the next renewal reads it first.
    lease: Option<Lease>,
    /// Whether a renewal succeeded yet; the first comes right after registration, as the
    /// kubelet's does, and the second picks the node's place in the renewal cycle.
    renewed: bool,
    /// The pending status report, so a request can bring it forward.
    status_timer: Option<delay_queue::Key>,
}

type Outcome = (usize, Beat, Result<Option<Lease>, kube::Error>);

/// Keep every node's Lease and Ready status fresh until `shutdown`. A node index received on
/// `status_requests` gets its status report at once.
pub async fn run(
    client: kube::Client,
    nodes: Vec<RegisteredNode>,
    options: SimOptions,
    mut status_requests: mpsc::Receiver<u32>,
    shutdown: CancellationToken,
) {
    let positions: HashMap<u32, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.index, i))
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let node_api: Api<Node> = Api::all(client);
    let mut beats: Vec<NodeBeats> = nodes
        .into_iter()
        .map(|node| NodeBeats {
            node,
            lease: None,
            renewed: false,
            status_timer: None,
        })
        .collect();
    let mut due: DelayQueue<(usize, Beat)> = DelayQueue::new();
    let renew = options.lease_renew_interval;
    for (i, beat) in beats.iter_mut().enumerate() {
        let first = renew.min(Duration::from_secs(1));
        due.insert((i, Beat::Lease), first.mul_f64(fastrand::f64()));
        let report_at = options.node_status_report_frequency + renew.mul_f64(fastrand::f64());
        beat.status_timer = Some(due.insert((i, Beat::Status), report_at));
    }
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut writes: JoinSet<Outcome> = JoinSet::new();
    let mut stats = Stats::default();
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(expired) = due.next() => {
                let (i, beat) = expired.into_inner();
                if beat == Beat::Status {
                    beats[i].status_timer = None;
                }
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
                    _ = shutdown.cancelled() => break,
                };
                let node = beats[i].node.clone();
                match beat {
                    Beat::Lease => {
                        let lease = beats[i].lease.take();
                        let first = !beats[i].renewed;
                        let api = leases.clone();
                        let seconds = options.lease_duration_seconds;
                        writes.spawn(async move {
                            let result = renew_lease(&api, &node, lease, first, seconds).await.map(Some);
                            drop(permit);
                            (i, beat, result)
                        });
                    }
                    Beat::Status => {
                        let api = node_api.clone();
                        writes.spawn(async move {
                            let result = report_status(&api, &node).await.map(|()| None);
                            drop(permit);
                            (i, beat, result)
                        });
                    }
                }
            }
            Some(done) = writes.join_next() => {
                let Ok((i, beat, result)) = done else { continue };
                let next = match (&beat, result) {
                    (Beat::Lease, Ok(lease)) => {
                        beats[i].lease = lease;
                        stats.leases += 1;
                        if std::mem::replace(&mut beats[i].renewed, true) {
                            renew.mul_f64(1.0 + LEASE_JITTER * fastrand::f64())
                        } else {
                            // Spread the nodes over the interval so they do not beat in lockstep.
                            renew.mul_f64(fastrand::f64())
                        }
                    }
                    (Beat::Status, Ok(_)) => {
                        stats.statuses += 1;
                        options.node_status_report_frequency
                    }
                    (_, Err(err)) => {
                        stats.failed(&beats[i].node.name, beat, &err);
                        if beat == Beat::Lease { LEASE_RETRY } else { STATUS_RETRY }
                    }
                };
                let timer = due.insert((i, beat), next);
                if beat == Beat::Status {
                    beats[i].status_timer = Some(timer);
                }
            }
            Some(index) = status_requests.recv() => {
                // Someone else changed the node's conditions (a node lifecycle controller
                // marking it Unknown): the kubelet corrects that at its next status check.
                let timer = positions.get(&index).and_then(|&i| beats[i].status_timer.as_ref());
                if let Some(timer) = timer {
                    due.reset(timer, Duration::ZERO);
                }
            }
            _ = report.tick() => stats.report(beats.len()),
        }
    }
    writes.abort_all();
}

fn lease_for(node: &RegisteredNode, seconds: i32) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node.name.clone()),
            namespace: Some(NODE_LEASE_NAMESPACE.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: node.name.clone(),
                uid: node.uid.clone(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.name.clone()),
            lease_duration_seconds: Some(seconds),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..Default::default()
        }),
    }
}

/// One renewal: an update of the lease last written; without one, a create for a node just
/// registered (one request instead of a read that finds nothing), else a read first.
async fn renew_lease(
    api: &Api<Lease>,
    node: &RegisteredNode,
    last: Option<Lease>,
    first: bool,
    seconds: i32,
) -> Result<Lease, kube::Error> {
    if last.is_none() && first && !node.adopted {
        match api
            .create(&PostParams::default(), &lease_for(node, seconds))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            other => return other,
        }
    }
    let current = match last {
        Some(lease) => lease,
        None => match api.get_opt(&node.name).await? {
            Some(lease) => lease,
            None => {
                return api
                    .create(&PostParams::default(), &lease_for(node, seconds))
                    .await;
            }
        },
    };
    let fresh = lease_for(node, seconds);
    let mut lease = current;
    let spec = lease.spec.get_or_insert_with(Default::default);
    spec.holder_identity = fresh.spec.as_ref().and_then(|s| s.holder_identity.clone());
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    if lease.metadata.owner_references.is_none() {
        lease.metadata.owner_references = fresh.metadata.owner_references;
    }
    api.replace(&node.name, &PostParams::default(), &lease)
        .await
}

/// The periodic status report: the conditions with a new heartbeat time.
async fn report_status(api: &Api<Node>, node: &RegisteredNode) -> Result<(), kube::Error> {
    let conditions = node_object::conditions(node.healthy_since, Timestamp::now());
    let patch = json!({"status": {"conditions": conditions}});
    api.patch_status(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

/// Counts logged every `REPORT_EVERY`, so thousands of nodes do not log a line per beat.
#[derive(Default)]
struct Stats {
    leases: u64,
    statuses: u64,
    failures: HashMap<Beat, u64>,
    last_error: Option<String>,
}

impl Stats {
    fn failed(&mut self, node: &str, beat: Beat, err: &kube::Error) {
        *self.failures.entry(beat).or_default() += 1;
        self.last_error = Some(format!("{node} {beat:?}: {err}"));
    }

    fn report(&mut self, nodes: usize) {
        let lease_failures = self.failures.remove(&Beat::Lease).unwrap_or(0);
        let status_failures = self.failures.remove(&Beat::Status).unwrap_or(0);
        let secs = REPORT_EVERY.as_secs_f64();
        tracing::info!(
            nodes,
            lease_renewals_per_s = format!("{:.1}", self.leases as f64 / secs),
            status_reports = self.statuses,
            "node heartbeats"
        );
        if let Some(err) = self.last_error.take() {
            tracing::warn!(lease_failures, status_failures, last = %err, "node heartbeat failures");
        }
        self.leases = 0;
        self.statuses = 0;
    }
}
