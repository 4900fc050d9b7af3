//! The pod loop: one watcher over bound pods (`spec.nodeName!=`), filtered locally to this
//! simulator's nodes. Each event is decided at once ([`pod_decision`]) into at most one pending
//! write per pod; writes run with bounded concurrency and never two for the same pod at once.
//! Per pod only its uid, node and address are kept, so 150,000 pods stay cheap.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::SIMULATED_LABEL;
use crate::ipam::{self, Cidr, PodIpam};
use crate::nodeset::NodeSet;
use crate::options::SimOptions;
use crate::pod_bookkeeping::{Stats, Timers};
use crate::pod_decision::{self, Decision};
use crate::pod_status::{self, Placement};
use crate::pod_writes::{Outcome, PodKey, Work, perform};

/// Pending writes beyond which the watch is not read, so a burst cannot grow memory unbounded.
const MAX_BACKLOG: usize = 50_000;
const LIST_PAGE: u32 = 2_000;
const RETRY_AFTER: Duration = Duration::from_secs(1);
const NO_ADDRESS_RETRY: Duration = Duration::from_secs(30);
const REPORT_EVERY: Duration = Duration::from_secs(10);

struct Tracked {
    uid: String,
    node: u32,
    /// The address this simulator holds for the pod (released when the pod finishes).
    ip: Option<Ipv4Addr>,
}

struct PodLoop {
    client: kube::Client,
    nodes: NodeSet,
    options: SimOptions,
    status_requests: mpsc::Sender<u32>,
    ipam: PodIpam,
    tracked: HashMap<PodKey, Tracked>,
    pending: HashMap<PodKey, Work>,
    ready: VecDeque<PodKey>,
    in_flight: HashSet<PodKey>,
    timers: Timers,
    /// Keys seen since the watcher began a (re)list; the rest are gone at its end.
    relisted: Option<HashSet<PodKey>>,
    stats: Stats,
}

/// What a finished write reports back: its pod, whether it deleted, and how it went.
type Completion = (PodKey, bool, Result<Outcome, kube::Error>);

/// The nodes whose pods (and Node objects) the loop watches.
pub struct Watched {
    pub nodes: NodeSet,
    /// The ranges assigned at registration.
    pub pod_cidrs: Vec<(u32, Option<String>)>,
    /// Where to ask for an immediate status report of a node someone else marked not Ready.
    pub status_requests: mpsc::Sender<u32>,
}

/// Run the pods of the watched nodes until `shutdown`.
pub async fn run(
    client: kube::Client,
    watched: Watched,
    options: SimOptions,
    shutdown: CancellationToken,
) {
    let Watched {
        nodes,
        pod_cidrs,
        status_requests,
    } = watched;
    let mut ipam = PodIpam::default();
    for (node, cidr) in &pod_cidrs {
        ipam.set_node_cidr(*node, cidr.as_deref());
    }
    let permits = Arc::new(Semaphore::new(options.max_in_flight));
    let config = watcher::Config::default()
        .fields("spec.nodeName!=")
        .page_size(LIST_PAGE);
    let pods = watcher(Api::<Pod>::all(client.clone()), config)
        .default_backoff()
        .fuse();
    let mut pods = std::pin::pin!(pods);
    // A node IPAM controller may assign spec.podCIDR after registration.
    let node_config = watcher::Config::default().labels(&format!("{SIMULATED_LABEL}=true"));
    let node_updates = watcher::watcher(Api::<Node>::all(client.clone()), node_config)
        .default_backoff()
        .applied_objects()
        .fuse();
    let mut node_updates = std::pin::pin!(node_updates);
    let mut state = PodLoop {
        client,
        nodes,
        options,
        status_requests,
        ipam,
        tracked: HashMap::new(),
        pending: HashMap::new(),
        ready: VecDeque::new(),
        in_flight: HashSet::new(),
        timers: Timers::default(),
        relisted: None,
        stats: Stats::default(),
    };
    let mut writes: JoinSet<Completion> = JoinSet::new();
    let mut report = tokio::time::interval(REPORT_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(done) = writes.join_next() => match done {
                Ok(completion) => state.completed(completion),
                Err(err) => tracing::error!(%err, "pod write task failed"),
            },
            permit = permits.clone().acquire_owned(), if !state.ready.is_empty() => {
                state.dispatch(permit.expect("semaphore never closed"), &mut writes);
            }
            Some(expired) = state.timers.queue.next() => {
                let key = expired.into_inner();
                state.timers.fired(&key);
                state.queue(key, Work::Refresh, false);
            }
            event = pods.next(), if state.pending.len() < MAX_BACKLOG => match event {
                Some(Ok(event)) => state.on_event(event),
                Some(Err(err)) => tracing::warn!(%err, "pod watch failed; retrying"),
                None => break,
            },
            Some(node) = node_updates.next() => match node {
                Ok(node) => state.on_node(&node),
                Err(err) => tracing::warn!(%err, "node watch failed; retrying"),
            },
            _ = report.tick() => {
                state.stats.report(state.tracked.len(), state.pending.len(), writes.len());
            }
        }
    }
    writes.abort_all();
}

fn watcher(
    api: Api<Pod>,
    config: watcher::Config,
) -> impl futures::Stream<Item = Result<Event<Pod>, watcher::Error>> + Send {
    watcher::watcher(api, config)
}

fn key_of(pod: &Pod) -> PodKey {
    PodKey {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
    }
}

fn body(status: k8s_openapi::api::core::v1::PodStatus) -> serde_json::Value {
    serde_json::json!({ "status": status })
}

impl PodLoop {
    fn node_of(&self, pod: &Pod) -> Option<u32> {
        let name = pod.spec.as_ref()?.node_name.as_deref()?;
        self.nodes.index_of(name)
    }

    fn on_event(&mut self, event: Event<Pod>) {
        match event {
            Event::Init => self.relisted = Some(HashSet::new()),
            Event::InitApply(pod) | Event::Apply(pod) => self.observe(pod),
            Event::InitDone => {
                let seen = self.relisted.take().unwrap_or_default();
                let gone: Vec<PodKey> = self
                    .tracked
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    self.forget(&key);
                }
                tracing::info!(pods = self.tracked.len(), "pods on simulated nodes listed");
            }
            Event::Delete(pod) => {
                let key = key_of(&pod);
                if self.tracked.get(&key).map(|t| t.uid.as_str()) == pod.metadata.uid.as_deref() {
                    self.forget(&key);
                }
            }
        }
    }

    /// A node not Ready in the API gets its status reported at once; a newly assigned
    /// `spec.podCIDR` is followed: later pods get addresses from it, running pods keep theirs
    /// (a kubelet does not re-address running pods either).
    fn on_node(&mut self, node: &Node) {
        let Some(index) = node
            .metadata
            .name
            .as_deref()
            .and_then(|n| self.nodes.index_of(n))
        else {
            return;
        };
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready {
            // A full channel means reports are already on their way.
            let _ = self.status_requests.try_send(index);
        }
        let assigned = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref());
        let Some(cidr) = assigned.and_then(Cidr::parse) else {
            return;
        };
        if self.ipam.cidr(index) == cidr {
            return;
        }
        self.ipam.set_node_cidr(index, assigned);
        for tracked in self.tracked.values().filter(|t| t.node == index) {
            if let Some(ip) = tracked.ip {
                self.ipam.mark_used(index, ip);
            }
        }
        tracing::debug!(node = index, %cidr, "pod range assigned");
    }

    /// The pod is gone: its address returns to the node's pool and nothing more is written.
    fn forget(&mut self, key: &PodKey) {
        if let Some(Tracked {
            node, ip: Some(ip), ..
        }) = self.tracked.remove(key)
        {
            self.ipam.release(node, ip);
        }
        self.pending.remove(key);
        self.timers.cancel(key);
    }

    fn observe(&mut self, pod: Pod) {
        let Some(node) = self.node_of(&pod) else {
            return;
        };
        let key = key_of(&pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if let Some(seen) = &mut self.relisted {
            seen.insert(key.clone());
        }
        if self.tracked.get(&key).is_some_and(|t| t.uid != uid) {
            self.forget(&key); // Same name, new pod: the old one went while we were not looking.
        }
        let tracked = self.tracked.entry(key.clone()).or_insert(Tracked {
            uid: uid.clone(),
            node,
            ip: None,
        });
        let status = pod.status.as_ref();
        let terminal = matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if terminal {
            if let Some(ip) = tracked.ip.take() {
                self.ipam.release(node, ip);
            }
        } else if tracked.ip.is_none() {
            let current = status.and_then(|s| s.pod_ip.as_deref()?.parse().ok());
            if let Some(ip) = current.filter(|ip| self.ipam.mark_used(node, *ip)) {
                tracked.ip = Some(ip);
            }
        }
        self.timers.cancel(&key);
        let now = Timestamp::now();
        let work = match pod_decision::decide(&pod, now, self.options.job_duration) {
            Decision::Nothing => None,
            Decision::WakeAt(at) => {
                let after = now.duration_until(at).unsigned_abs();
                self.timers.schedule(key.clone(), after);
                None
            }
            Decision::Start => {
                let ip = match tracked.ip {
                    Some(ip) => Some(ip),
                    None => self
                        .ipam
                        .allocate(node)
                        .inspect(|ip| tracked.ip = Some(*ip)),
                };
                match ip {
                    Some(pod_ip) => {
                        let host_ip = ipam::node_internal_ip(node);
                        let placement = Placement { host_ip, pod_ip };
                        Some(Work::Status(body(pod_status::running(
                            &pod, placement, now,
                        ))))
                    }
                    None => {
                        // Like a kubelet whose CNI range is full: the pod waits.
                        self.stats.no_address += 1;
                        self.timers.schedule(key.clone(), NO_ADDRESS_RETRY);
                        None
                    }
                }
            }
            Decision::Exit { exit_code } => {
                let restarts = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref())
                    == Some("OnFailure");
                Some(Work::Status(body(if exit_code != 0 && restarts {
                    pod_status::restarted(&pod, exit_code, now)
                } else {
                    pod_status::finished(&pod, exit_code, now)
                })))
            }
            Decision::Terminate => Some(Work::Terminate {
                status: body(pod_status::finished(
                    &pod,
                    pod_decision::TERMINATED_EXIT_CODE,
                    now,
                )),
                uid,
            }),
            Decision::Delete => Some(Work::Delete { uid }),
        };
        match work {
            Some(work) => self.queue(key, work, true),
            None => {
                self.pending.remove(&key);
            }
        }
    }

    /// Make `work` the pod's next write; a newer decision replaces an older one, but a
    /// refresh never replaces a real write.
    fn queue(&mut self, key: PodKey, work: Work, replace: bool) {
        if !replace && self.pending.contains_key(&key) {
            return;
        }
        self.pending.insert(key.clone(), work);
        self.ready.push_back(key);
    }

    fn dispatch(&mut self, permit: OwnedSemaphorePermit, writes: &mut JoinSet<Completion>) {
        while let Some(key) = self.ready.pop_front() {
            if self.in_flight.contains(&key) {
                continue; // Queued again when the write in flight completes.
            }
            let Some(work) = self.pending.remove(&key) else {
                continue;
            };
            let deletes = matches!(work, Work::Terminate { .. } | Work::Delete { .. });
            match &work {
                Work::Status(_) => self.stats.status_writes += 1,
                Work::Terminate { .. } | Work::Delete { .. } => self.stats.deleted += 1,
                Work::Refresh => {}
            }
            self.in_flight.insert(key.clone());
            let client = self.client.clone();
            writes.spawn(async move {
                let result = perform(client, &key, work).await;
                drop(permit);
                (key, deletes, result)
            });
            return;
        }
    }

    fn completed(&mut self, (key, deleted, result): Completion) {
        self.in_flight.remove(&key);
        match result {
            Ok(Outcome::Done) if deleted => {
                // The status posted before the delete shows up as one more event asking for
                // the same delete; it is already done.
                if matches!(self.pending.get(&key), Some(Work::Delete { .. })) {
                    self.pending.remove(&key);
                }
            }
            Ok(Outcome::Done) => {}
            Ok(Outcome::Fetched(pod)) => self.observe(*pod),
            Ok(Outcome::Gone) => self.forget(&key),
            Err(err) => {
                self.stats.failures += 1;
                self.stats.last_error = Some(format!("{key}: {err}"));
                self.timers.schedule(key.clone(), RETRY_AFTER);
            }
        }
        if self.pending.contains_key(&key) {
            self.ready.push_back(key);
        }
    }
}
