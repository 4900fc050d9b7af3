//! The endpoints controller: one core/v1 Endpoints object per Service with a selector, named
//! after it, listing the selected pods' addresses (ready and not ready) and the ports the
//! service's targetPorts resolve to on each pod. Services without a selector are left alone.
//!
//! A deleted Service's Endpoints are deleted with it. A periodic sweep is the safety net for
//! what a change stream cannot say (a relist that missed a deletion, a pod relabelled away
//! from a service): it deletes Endpoints whose Service is gone and resyncs services listing
//! pods that are gone or no longer selected.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::endpointslice::index::Index;
use crate::endpointslice::pods;
use crate::informers::Informers;

/// Upstream's maxCapacity: addresses beyond it are truncated.
const MAX_CAPACITY: usize = 1000;
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
const HEADLESS: &str = "service.kubernetes.io/headless";
const LEADER: &str = "control-plane.alpha.kubernetes.io/leader";
/// A port as (name, number, protocol); a subset's ports, sorted, identify it.
type PortKey = Vec<(String, i32, String)>;

const SWEEP_PERIOD: Duration = Duration::from_secs(10);

struct Context {
    client: kube::Client,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    pods_by_namespace: Arc<Index<Pod>>,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let services = informers.shared::<Service>();
    let pod_feed = informers.shared::<Pod>();
    let endpoint_feed = informers.shared::<Endpoints>();
    async move {
        let pods_by_namespace = Index::new(|pod: &Pod| pod.metadata.namespace.clone());
        pods_by_namespace.prime(&pod_feed.cache);
        let context = Arc::new(Context {
            client,
            services: services.cache.clone(),
            pods: pod_feed.cache.clone(),
            endpoints: endpoint_feed.cache.clone(),
            pods_by_namespace: pods_by_namespace.clone(),
        });
        let (resync_tx, resync_rx) = mpsc::channel(1024);
        let sweeper = sweep(context.clone(), resync_tx, shutdown.clone());
        let service_cache = services.cache.clone();
        // A service that is no longer cached when its change arrives was deleted.
        let (deleted_tx, deleted_rx) = mpsc::channel::<Arc<Service>>(1024);
        let deleter = delete_with_services(context.clone(), deleted_rx);
        let cache = services.cache.clone();
        let service_changes = services.changes.inspect(move |service| {
            if cache.get(&ObjectRef::from_obj(&**service)).is_none() {
                let _ = deleted_tx.try_send(service.clone());
            }
        });
        let controller = Controller::for_shared_stream(service_changes, services.cache)
            .with_config(Config::default().concurrency(5))
            .watches_shared_stream(pod_feed.changes, move |pod| {
                pods_by_namespace.observe(&pod);
                services_selecting(&service_cache, &pod)
            })
            .watches_shared_stream(endpoint_feed.changes, |endpoints| {
                let name = endpoints.metadata.name.clone()?;
                let namespace = endpoints.metadata.namespace.clone()?;
                Some(ObjectRef::<Service>::new(&name).within(&namespace))
            })
            .reconcile_on(receiver_stream(resync_rx))
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {});
        futures::future::join3(controller, sweeper, deleter).await;
    }
}

/// Delete the Endpoints of deleted services (upstream does so on the Service's delete event).
async fn delete_with_services(context: Arc<Context>, mut deleted: mpsc::Receiver<Arc<Service>>) {
    while let Some(service) = deleted.recv().await {
        let (Some(name), Some(namespace)) = (&service.metadata.name, &service.metadata.namespace)
        else {
            continue;
        };
        let cached = context
            .endpoints
            .get(&ObjectRef::<Endpoints>::new(name).within(namespace));
        if let Some(uid) = cached.and_then(|e| e.metadata.uid.clone()) {
            delete_orphan(&context.client, namespace, name, uid).await;
        }
    }
}

/// The services (with selectors) in the pod's namespace that select it.
pub(crate) fn services_selecting(services: &Store<Service>, pod: &Pod) -> Vec<ObjectRef<Service>> {
    let namespace = pod.metadata.namespace.as_deref();
    services
        .state()
        .into_iter()
        .filter(|s| s.metadata.namespace.as_deref() == namespace)
        .filter(|s| pods::selector(s).is_some_and(|sel| pods::selects(sel, pod)))
        .map(|s| ObjectRef::from_obj(&*s))
        .collect()
}

fn error_policy(service: Arc<Service>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, service = ?service.metadata.name, "syncing endpoints failed; retrying");
    Action::requeue(Duration::from_secs(1))
}

async fn reconcile(
    service: Arc<Service>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let Some(selector) = pods::selector(&service) else {
        return Ok(Action::await_change());
    };
    let (Some(name), Some(namespace)) = (&service.metadata.name, &service.metadata.namespace)
    else {
        return Ok(Action::await_change());
    };
    let selected: Vec<Arc<Pod>> = context
        .pods_by_namespace
        .get(&context.pods, namespace)
        .into_iter()
        .filter(|pod| pods::selects(selector, pod))
        .collect();
    let mut subsets = subsets_for(&service, &selected);
    let truncated = truncate(&mut subsets);

    let current = context
        .endpoints
        .get(&ObjectRef::<Endpoints>::new(name).within(namespace));
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS);
    if pods::is_headless(&service) {
        labels.insert(HEADLESS.into(), String::new());
    }
    if let Some(current) = &current {
        let unchanged = current.subsets.clone().unwrap_or_default() == subsets
            && current.metadata.labels.clone().unwrap_or_default() == labels
            && current
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(OVER_CAPACITY))
                == truncated;
        if unchanged {
            return Ok(Action::await_change());
        }
    }
    let mut desired = current.as_deref().cloned().unwrap_or_default();
    desired.metadata.name = Some(name.clone());
    desired.metadata.namespace = Some(namespace.clone());
    desired.metadata.labels = Some(labels);
    let annotations = desired
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let pod_refs: Vec<&Pod> = selected.iter().map(|p| &**p).collect();
    match pods::last_change(&service, &pod_refs) {
        Some(time) => annotations.insert(TRIGGER_TIME.into(), pods::format_time(time)),
        None => annotations.remove(TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    desired.subsets = Some(subsets);
    let api: Api<Endpoints> = Api::namespaced(context.client.clone(), namespace);
    let written = if current.is_some() {
        api.replace(name, &PostParams::default(), &desired).await
    } else {
        api.create(&PostParams::default(), &desired).await
    };
    match written {
        Ok(_) => Ok(Action::await_change()),
        // The cache was behind (a concurrent write, or our own create not seen yet).
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
            Ok(Action::requeue(Duration::from_millis(500)))
        }
        // The namespace is being deleted; the namespace controller removes everything.
        Err(kube::Error::Api(status)) if status.code == 403 && current.is_none() => {
            Ok(Action::await_change())
        }
        Err(err) => Err(err.into()),
    }
}

/// The subsets of a service's endpoints: addresses grouped by the set of ports they serve,
/// sorted so that an unchanged state compares equal.
fn subsets_for(service: &Service, selected: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let publish_not_ready = pods::publishes_not_ready(service);
    let service_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    // Key: the ports (sorted); value: (ready, not ready) addresses.
    let mut groups: BTreeMap<PortKey, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    let mut port_objects: BTreeMap<(String, i32, String), EndpointPort> = BTreeMap::new();
    for pod in selected {
        if !pods::belongs_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(ip) = pods::ipv4(pod) else { continue };
        let mut ports = Vec::new();
        for service_port in &service_ports {
            let Some(number) = pods::find_port(pod, service_port) else {
                continue;
            };
            let key = (
                service_port.name.clone().unwrap_or_default(),
                number,
                service_port
                    .protocol
                    .clone()
                    .unwrap_or_else(|| "TCP".into()),
            );
            port_objects
                .entry(key.clone())
                .or_insert_with(|| EndpointPort {
                    name: service_port.name.clone(),
                    port: number,
                    protocol: Some(key.2.clone()),
                    app_protocol: service_port.app_protocol.clone(),
                });
            ports.push(key);
        }
        // A pod serving none of the ports is left out, except behind a portless headless
        // service, whose endpoints are bare addresses.
        if ports.is_empty() && !(service_ports.is_empty() && pods::is_headless(service)) {
            continue;
        }
        ports.sort();
        ports.dedup();
        let address = EndpointAddress {
            ip,
            hostname: pods::hostname(pod, service),
            node_name: pods::node_name(pod),
            target_ref: Some(pods::target_ref(pod)),
        };
        let group = groups.entry(ports).or_default();
        if publish_not_ready || pods::is_ready(pod) {
            group.0.push(address);
        } else {
            group.1.push(address);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            let by_ip_and_uid = |a: &EndpointAddress| {
                let uid = a.target_ref.as_ref().and_then(|r| r.uid.clone());
                (a.ip.clone(), uid)
            };
            ready.sort_by_key(by_ip_and_uid);
            not_ready.sort_by_key(by_ip_and_uid);
            let ports: Vec<EndpointPort> = ports.iter().map(|k| port_objects[k].clone()).collect();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// Upstream's truncation at [`MAX_CAPACITY`]: ready addresses are kept before not-ready ones,
/// and each subset keeps its share of what remains. Returns whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let cut_ready = total_ready > MAX_CAPACITY;
    let (budget, total) = if cut_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut remaining = budget;
    let last = subsets.len() - 1;
    for (i, subset) in subsets.iter_mut().enumerate() {
        let here = if cut_ready {
            count(&subset.addresses)
        } else {
            count(&subset.not_ready_addresses)
        };
        let share = if i == last {
            remaining
        } else {
            ((here as f64 / total as f64) * budget as f64) as usize
        }
        .min(remaining);
        remaining -= share;
        let keep = |v: &mut Option<Vec<EndpointAddress>>| {
            if let Some(list) = v.as_mut() {
                list.truncate(share);
            }
        };
        if cut_ready {
            keep(&mut subset.addresses);
            subset.not_ready_addresses = None;
        } else {
            keep(&mut subset.not_ready_addresses);
        }
    }
    true
}

/// Periodically: delete Endpoints whose Service is gone (seen orphaned twice in a row, so a
/// Service created just after its Endpoints is not raced), and resync services listing pods
/// that are gone or changed.
async fn sweep(
    context: Arc<Context>,
    resync: mpsc::Sender<ObjectRef<Service>>,
    shutdown: CancellationToken,
) {
    let orphans_before: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        let mut orphans_now = HashSet::new();
        for endpoints in context.endpoints.state() {
            let (Some(name), Some(namespace)) =
                (&endpoints.metadata.name, &endpoints.metadata.namespace)
            else {
                continue;
            };
            let service_ref = ObjectRef::<Service>::new(name).within(namespace);
            let Some(service) = context.services.get(&service_ref) else {
                let leader = endpoints
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(LEADER));
                if leader {
                    continue;
                }
                let uid = endpoints.metadata.uid.clone().unwrap_or_default();
                if orphans_before.lock().expect("sweep lock").contains(&uid) {
                    delete_orphan(&context.client, namespace, name, uid.clone()).await;
                }
                orphans_now.insert(uid);
                continue;
            };
            let Some(selector) = pods::selector(&service) else {
                continue;
            };
            if lists_stale_pod(&endpoints, selector, &context.pods)
                && resync.send(service_ref).await.is_err()
            {
                return;
            }
        }
        *orphans_before.lock().expect("sweep lock") = orphans_now;
    }
}

fn lists_stale_pod(
    endpoints: &Endpoints,
    selector: &BTreeMap<String, String>,
    pod_cache: &Store<Pod>,
) -> bool {
    let addresses = endpoints.subsets.iter().flatten().flat_map(|s| {
        s.addresses
            .iter()
            .flatten()
            .chain(s.not_ready_addresses.iter().flatten())
    });
    for address in addresses {
        let Some(target) = &address.target_ref else {
            continue;
        };
        let (Some(name), Some(namespace)) = (&target.name, &target.namespace) else {
            continue;
        };
        match pod_cache.get(&ObjectRef::<Pod>::new(name).within(namespace)) {
            Some(pod) if pod.metadata.uid == target.uid && pods::selects(selector, &pod) => {}
            _ => return true,
        }
    }
    false
}

async fn delete_orphan(client: &kube::Client, namespace: &str, name: &str, uid: String) {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => tracing::debug!(namespace, name, "deleted endpoints of a deleted service"),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
        Err(err) => tracing::warn!(%err, namespace, name, "deleting orphaned endpoints failed"),
    }
}

/// An mpsc receiver as a stream (tokio-stream is not a dependency of this crate).
pub(crate) fn receiver_stream<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(count: usize, prefix: &str) -> Option<Vec<EndpointAddress>> {
        Some(
            (0..count)
                .map(|i| EndpointAddress {
                    ip: format!("{prefix}.{i}"),
                    ..Default::default()
                })
                .collect(),
        )
    }

    fn len(list: &Option<Vec<EndpointAddress>>) -> usize {
        list.as_ref().map_or(0, Vec::len)
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let mut subsets = vec![
            EndpointSubset {
                addresses: addresses(600, "10.0.0"),
                not_ready_addresses: addresses(300, "10.0.1"),
                ports: None,
            },
            EndpointSubset {
                addresses: None,
                not_ready_addresses: addresses(300, "10.0.2"),
                ports: None,
            },
        ];
        assert!(truncate(&mut subsets));
        assert_eq!(len(&subsets[0].addresses), 600);
        assert_eq!(len(&subsets[0].not_ready_addresses), 200);
        assert_eq!(len(&subsets[1].not_ready_addresses), 200);
    }

    #[test]
    fn truncation_of_ready_addresses_drops_not_ready_ones() {
        let mut subsets = vec![
            EndpointSubset {
                addresses: addresses(900, "10.0.0"),
                not_ready_addresses: addresses(10, "10.0.1"),
                ports: None,
            },
            EndpointSubset {
                addresses: addresses(300, "10.0.2"),
                not_ready_addresses: None,
                ports: None,
            },
        ];
        assert!(truncate(&mut subsets));
        assert_eq!(len(&subsets[0].addresses), 750);
        assert_eq!(len(&subsets[0].not_ready_addresses), 0);
        assert_eq!(len(&subsets[1].addresses), 250);
        let mut small = vec![EndpointSubset {
            addresses: addresses(1000, "10.0.0"),
            ..Default::default()
        }];
        assert!(!truncate(&mut small));
    }
}
