//! The EndpointSlice controller: discovery.k8s.io/v1 slices for every Service with a selector,
//! labelled with the service's name and this controller as manager, owned by the Service (the
//! garbage collector removes them with it), at most `max_endpoints_per_slice` endpoints each,
//! with ready/serving/terminating conditions, node, zone and target of every endpoint.
//!
//! Also home of what the endpoints controllers share: pod helpers ([`pods`]) and the cache
//! index ([`index`]).

mod desired;
pub(crate) mod index;
pub(crate) mod pods;
mod reconciler;
mod tracker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::endpoints::{receiver_stream, services_selecting};
use crate::informers::Informers;
use index::Index;
use reconciler::{CONTROLLER_NAME, MANAGED_BY, SERVICE_NAME};
use tracker::Tracker;

const SWEEP_PERIOD: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Options {
    /// Upstream's --max-endpoints-per-slice.
    pub max_endpoints_per_slice: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_endpoints_per_slice: 100,
        }
    }
}

struct Context {
    client: kube::Client,
    options: Options,
    pods: Store<Pod>,
    nodes: Store<Node>,
    slices: Store<EndpointSlice>,
    pods_by_namespace: Arc<Index<Pod>>,
    slices_by_service: Arc<Index<EndpointSlice>>,
    tracker: Tracker,
}

fn service_key(slice: &EndpointSlice) -> Option<String> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
        return None;
    }
    Some(format!(
        "{}/{}",
        slice.metadata.namespace.as_deref()?,
        labels.get(SERVICE_NAME)?
    ))
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    options: Options,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let services = informers.shared::<Service>();
    let pod_feed = informers.shared::<Pod>();
    let slice_feed = informers.shared::<EndpointSlice>();
    let nodes = informers.shared::<Node>().cache;
    async move {
        let pods_by_namespace = Index::new(|pod: &Pod| pod.metadata.namespace.clone());
        pods_by_namespace.prime(&pod_feed.cache);
        let slices_by_service = Index::new(service_key);
        slices_by_service.prime(&slice_feed.cache);
        let context = Arc::new(Context {
            client,
            options,
            pods: pod_feed.cache.clone(),
            nodes,
            slices: slice_feed.cache.clone(),
            pods_by_namespace: pods_by_namespace.clone(),
            slices_by_service: slices_by_service.clone(),
            tracker: Tracker::default(),
        });
        let (resync_tx, resync_rx) = mpsc::channel(1024);
        let sweeper = sweep(
            context.clone(),
            services.cache.clone(),
            resync_tx,
            shutdown.clone(),
        );
        let service_cache = services.cache.clone();
        let controller = Controller::for_shared_stream(services.changes, services.cache)
            .with_config(Config::default().concurrency(5))
            .watches_shared_stream(pod_feed.changes, move |pod| {
                pods_by_namespace.observe(&pod);
                services_selecting(&service_cache, &pod)
            })
            .watches_shared_stream(slice_feed.changes, move |slice| {
                slices_by_service.observe(&slice);
                let key = service_key(&slice)?;
                let (namespace, name) = key.split_once('/')?;
                Some(ObjectRef::<Service>::new(name).within(namespace))
            })
            .reconcile_on(receiver_stream(resync_rx))
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {});
        futures::future::join(controller, sweeper).await;
    }
}

fn error_policy(service: Arc<Service>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, service = ?service.metadata.name, "syncing endpoint slices failed; retrying");
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
    if service.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let key = format!("{namespace}/{name}");
    let existing: Vec<Arc<EndpointSlice>> = context
        .slices_by_service
        .get(&context.slices, &key)
        .into_iter()
        .filter(|s| s.address_type == "IPv4")
        .collect();
    let cached: Vec<&EndpointSlice> = existing.iter().map(|s| &**s).collect();
    if !context.tracker.cache_is_current(&key, &cached) {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    let selected: Vec<Arc<Pod>> = context
        .pods_by_namespace
        .get(&context.pods, namespace)
        .into_iter()
        .filter(|pod| pods::selects(selector, pod))
        .collect();
    let groups = desired::groups(&service, &selected, &context.nodes);
    let pod_refs: Vec<&Pod> = selected.iter().map(|p| &**p).collect();
    let trigger = pods::last_change(&service, &pod_refs).map(pods::format_time);
    let plan = reconciler::plan(
        &service,
        &existing,
        &groups,
        context.options.max_endpoints_per_slice,
        &trigger,
    );
    let api: Api<EndpointSlice> = Api::namespaced(context.client.clone(), namespace);
    for slice in &plan.create {
        match api.create(&PostParams::default(), slice).await {
            Ok(created) => {
                let name = created.metadata.name.unwrap_or_default();
                context.tracker.wrote(&key, &name, None)
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                // A namespace being deleted refuses new objects.
                return Ok(Action::await_change());
            }
            Err(err) => return Err(err.into()),
        }
    }
    for slice in &plan.update {
        let slice_name = slice.metadata.name.clone().unwrap_or_default();
        match api
            .replace(&slice_name, &PostParams::default(), slice)
            .await
        {
            Ok(_) => {
                context
                    .tracker
                    .wrote(&key, &slice_name, slice.metadata.resource_version.clone())
            }
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(err) => return Err(err.into()),
        }
    }
    for slice in &plan.delete {
        let slice_name = slice.metadata.name.clone().unwrap_or_default();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: slice.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&slice_name, &params).await {
            Ok(_) => context.tracker.deleted(&key, &slice_name),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Action::await_change())
}

/// Periodically resync services whose slices list a pod that is gone, replaced or no longer
/// selected (deletions do not reach the change streams).
async fn sweep(
    context: Arc<Context>,
    services: Store<Service>,
    resync: mpsc::Sender<ObjectRef<Service>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        for slice in context.slices.state() {
            let Some(key) = service_key(&slice) else {
                continue;
            };
            let Some((namespace, name)) = key.split_once('/') else {
                continue;
            };
            let service_ref = ObjectRef::<Service>::new(name).within(namespace);
            let Some(service) = services.get(&service_ref) else {
                continue;
            };
            let Some(selector) = pods::selector(&service) else {
                continue;
            };
            let stale = slice
                .endpoints
                .iter()
                .filter_map(|e| e.target_ref.as_ref())
                .any(|target| {
                    let pod = target.name.as_deref().and_then(|n| {
                        context
                            .pods
                            .get(&ObjectRef::<Pod>::new(n).within(namespace))
                    });
                    !pod.is_some_and(|p| {
                        p.metadata.uid == target.uid && pods::selects(selector, &p)
                    })
                });
            if stale && resync.send(service_ref).await.is_err() {
                return;
            }
        }
    }
}
