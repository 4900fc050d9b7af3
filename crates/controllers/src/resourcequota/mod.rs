//! The resource quota controller: keeps each ResourceQuota's status.hard equal to its
//! spec.hard and status.used equal to what its namespace consumes of those resources: pods and
//! their requests and limits (within the quota's scopes), object counts (`count/<resource>`,
//! `count/<resource>.<group>` and the legacy names such as `services` or `configmaps`),
//! load balancers, node ports and requested storage. Recomputed when a quota or a pod of its
//! namespace changes and every `sync_period` (upstream's --resource-quota-sync-period).
//! Enforcement at admission belongs to the API server.

mod objects;
mod pods;
mod quantity;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::endpointslice::index::Index;
use crate::informers::Informers;
use quantity::Amount;

#[derive(Clone, Debug)]
pub struct Options {
    /// Upstream's --resource-quota-sync-period.
    pub sync_period: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync_period: Duration::from_secs(300),
        }
    }
}

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    pods_by_namespace: Arc<Index<Pod>>,
    objects: objects::Counter,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    options: Options,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let quotas = informers.shared::<ResourceQuota>();
    let pod_feed = informers.shared::<Pod>();
    async move {
        let pods_by_namespace = Index::new(|pod: &Pod| pod.metadata.namespace.clone());
        pods_by_namespace.prime(&pod_feed.cache);
        let context = Arc::new(Context {
            objects: objects::Counter::new(client.clone()),
            client,
            pods: pod_feed.cache.clone(),
            pods_by_namespace: pods_by_namespace.clone(),
        });
        let quota_cache = quotas.cache.clone();
        let period = options.sync_period;
        let resync = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(period).await;
            Some(((), ()))
        });
        Controller::for_shared_stream(quotas.changes, quotas.cache)
            .with_config(
                Config::default()
                    .concurrency(5)
                    .debounce(Duration::from_millis(500)),
            )
            .watches_shared_stream(pod_feed.changes, move |pod| {
                pods_by_namespace.observe(&pod);
                quotas_of_namespace(&quota_cache, pod.metadata.namespace.as_deref())
            })
            .reconcile_all_on(resync)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

fn quotas_of_namespace(
    quotas: &Store<ResourceQuota>,
    namespace: Option<&str>,
) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .state()
        .into_iter()
        .filter(|q| q.metadata.namespace.as_deref() == namespace)
        .map(|q| ObjectRef::from_obj(&*q))
        .collect()
}

fn error_policy(quota: Arc<ResourceQuota>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, quota = ?quota.metadata.name, "syncing a resource quota failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    quota: Arc<ResourceQuota>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let (Some(name), Some(namespace)) = (&quota.metadata.name, &quota.metadata.namespace) else {
        return Ok(Action::await_change());
    };
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    let mut pod_usage: BTreeMap<String, Amount> = BTreeMap::new();
    for pod in context.pods_by_namespace.get(&context.pods, namespace) {
        if pods::counts(&pod, now) && pods::in_scope(&quota, &pod) {
            pods::add(&mut pod_usage, &pods::usage(&pod));
        }
    }
    let mut used = BTreeMap::new();
    for resource in hard.keys() {
        let amount = match pod_usage.get(resource) {
            Some(amount) => *amount,
            None if pods::usage(&Pod::default()).contains_key(resource)
                || resource.starts_with("requests.")
                || resource.starts_with("limits.") =>
            {
                Amount::default()
            }
            None => context.objects.usage(namespace, resource).await?,
        };
        used.insert(resource.clone(), amount.to_quantity());
    }
    let status = ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(used),
    };
    if quota.status.as_ref() == Some(&status) {
        return Ok(Action::await_change());
    }
    let mut updated = (*quota).clone();
    updated.status = Some(status);
    let api: Api<ResourceQuota> = Api::namespaced(context.client.clone(), namespace);
    match api
        .replace_status(name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
            Ok(Action::requeue(Duration::from_millis(500)))
        }
        Err(err) => Err(err.into()),
    }
}
