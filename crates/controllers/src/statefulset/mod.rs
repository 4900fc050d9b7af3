//! The StatefulSet controller (upstream's statefulset-controller): ordinal pods `<set>-<i>` with
//! stable hostnames and claims, OrderedReady or Parallel pod management, RollingUpdate with a
//! partition or OnDelete, ControllerRevisions for the current and update templates, and the
//! status `kubectl rollout status sts/x` reads.

mod control;
pub(crate) mod health;
mod identity;
mod revisions;
mod writes;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::events::Recorder;
use crate::history;
use crate::informers::Informers;
use crate::podcontrol::claim::claim;
use crate::podcontrol::index::OwnerIndex;
use crate::podcontrol::selector::Selector;
use crate::podcontrol::{Owner, controller_of};

const COMPONENT: &str = "statefulset-controller";

/// A safety net like upstream's informer resync: every object is synced this often even when
/// nothing it watches changed.
const RESYNC: Duration = Duration::from_secs(300);

pub(crate) struct Context {
    client: kube::Client,
    pods: OwnerIndex<Pod>,
    revisions: Store<ControllerRevision>,
    events: Recorder,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let sets = informers.shared::<StatefulSet>();
    let pods = informers.shared::<Pod>();
    let revisions = informers.shared::<ControllerRevision>();
    let context = Arc::new(Context {
        events: Recorder::new(client.clone(), COMPONENT),
        client,
        pods: OwnerIndex::new(pods.cache.clone()),
        revisions: revisions.cache,
    });
    async move {
        // Controllers start with synced caches; the change stream replays the initial list
        // too, but possibly after the first sync.
        for pod in context.pods.cache().state() {
            context.pods.observe(&pod);
        }
        let index = context.pods.clone();
        let sets_cache = sets.cache.clone();
        Controller::for_shared_stream(sets.changes, sets.cache)
            .watches_shared_stream(pods.changes, move |pod| {
                owners_of(&index, &sets_cache, |set: &StatefulSet| selector(set), &pod)
            })
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

/// The owners of kind `K` a changed pod concerns, recording the pod in the owner index on the
/// way: its controller and former controller, or for an orphan every owner in its namespace
/// whose selector matches it (which may adopt it).
pub(crate) fn owners_of<K>(
    index: &OwnerIndex<Pod>,
    owners: &Store<K>,
    selector_of: fn(&K) -> Option<&LabelSelector>,
    pod: &Pod,
) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    let previous = index
        .observe(pod)
        .map(|owner| (owner.reference, owner.namespace));
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let Some(current) = controller_of(&pod.metadata) else {
        let matching = owners.state().into_iter().filter(|owner| {
            owner.meta().namespace.as_deref() == Some(namespace.as_str())
                && selector_of(owner).is_some_and(|s| {
                    Selector::from_label_selector(Some(s)).matches(pod.metadata.labels.as_ref())
                })
        });
        return matching.map(|owner| ObjectRef::from_obj(&*owner)).collect();
    };
    Some((current.clone(), namespace))
        .into_iter()
        .chain(previous)
        .filter(|(reference, _)| {
            reference.kind == K::kind(&()) && reference.api_version == K::api_version(&())
        })
        .map(|(reference, namespace)| ObjectRef::new(&reference.name).within(&namespace))
        .collect()
}

/// The pods `owner` controls after upstream's ControllerRefManager: matching orphans adopted
/// (after a fresh read shows the owner is not being deleted), non-matching children released.
pub(crate) async fn claim_pods<K>(
    client: &kube::Client,
    index: &OwnerIndex<Pod>,
    owner: &K,
    selector: &LabelSelector,
) -> Result<Vec<Arc<Pod>>, ControllerError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let claimant = Owner::of(owner);
    let candidates = index
        .owned_by(&claimant.uid)
        .into_iter()
        .chain(index.orphans_in(&claimant.namespace));
    let api: Api<K> = Api::namespaced(client.clone(), &claimant.namespace);
    let can_adopt = async {
        let fresh = api.get(&claimant.name).await?;
        Ok(fresh.meta().uid.as_deref() == Some(claimant.uid.as_str())
            && fresh.meta().deletion_timestamp.is_none())
    };
    let selector = Selector::from_label_selector(Some(selector));
    claim(client, &claimant, &selector, candidates, can_adopt).await
}

fn error_policy(set: Arc<StatefulSet>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, set = %set.name_any(), "statefulset sync failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

fn selector(set: &StatefulSet) -> Option<&LabelSelector> {
    set.spec.as_ref().map(|s| &s.selector)
}

async fn reconcile(
    set: Arc<StatefulSet>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    tracing::debug!(set = %set.name_any(), "syncing statefulset");
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let namespace = set.namespace().unwrap_or_default();
    let pods = claim_pods(&context.client, &context.pods, &*set, &spec.selector).await?;
    let revisions = revisions::resolve(&context, &set).await?;
    let mut live: HashSet<String> = pods
        .iter()
        .filter_map(|pod| identity::revision_of(pod).map(str::to_owned))
        .collect();
    let outcome = control::sync(&context, &set, pods, &revisions).await?;
    write_status(&context, &set, outcome.status).await?;
    live.insert(revisions.current.name_any());
    live.insert(revisions.update.name_any());
    let api: Api<ControllerRevision> = Api::namespaced(context.client.clone(), &namespace);
    let limit = spec.revision_history_limit.unwrap_or(10);
    history::truncate(&api, &revisions.all, &live, limit).await?;
    Ok(Action::requeue(outcome.recheck.unwrap_or(RESYNC)))
}

/// Write the status through /status when it changed, retrying once on a stale resourceVersion.
async fn write_status(
    context: &Context,
    set: &StatefulSet,
    status: StatefulSetStatus,
) -> Result<(), ControllerError> {
    if set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<StatefulSet> =
        Api::namespaced(context.client.clone(), &set.namespace().unwrap_or_default());
    let mut updated = set.clone();
    for _ in 0..2 {
        updated.status = Some(status.clone());
        match api
            .replace_status(&set.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                updated = api.get(&set.name_any()).await?;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
