//! The DaemonSet's revision history (upstream's constructHistory and cleanupHistory): the
//! current revision snapshots today's template under the hash its pods are labelled with; an
//! identical older revision is reused and renumbered as the newest.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::Store;

use crate::ControllerError;
use crate::history::{self, CONTROLLER_REVISION_HASH, RevisionOwner};

pub struct History {
    /// The hash of the current template (the pods' controller-revision-hash).
    pub hash: String,
    pub collision_count: i32,
    current: String,
    all: Vec<Arc<ControllerRevision>>,
}

pub async fn construct(
    client: &kube::Client,
    cache: &Store<ControllerRevision>,
    ds: &DaemonSet,
) -> Result<History, ControllerError> {
    let namespace = ds.namespace().unwrap_or_default();
    let all = history::owned_revisions(cache, &namespace, &ds.uid().unwrap_or_default());
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &namespace);
    let spec = ds.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template);
    let mut collision_count = ds
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let next = history::next_revision(&all);
    let current = match all.iter().rev().find(|rev| history::same_data(rev, &data)) {
        Some(rev) if rev.revision + 1 == next => (**rev).clone(),
        Some(rev) => history::renumber(&api, rev, next).await?,
        None => {
            let template = serde_json::to_value(&spec.template).map_err(kube::Error::SerdeError)?;
            let owner = RevisionOwner {
                reference: history::controller_ref(ds),
                namespace: &namespace,
                annotations: ds.metadata.annotations.clone(),
            };
            let labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref());
            history::create_revision(&api, &mut collision_count, |count| {
                let hash = history::hash_value(&template, Some(count));
                history::new_revision(&owner, labels, &hash, data.clone(), next)
            })
            .await?
        }
    };
    let hash = current
        .labels()
        .get(CONTROLLER_REVISION_HASH)
        .cloned()
        .unwrap_or_default();
    Ok(History {
        hash,
        collision_count,
        current: current.name_any(),
        all,
    })
}

impl History {
    /// Delete the oldest revisions no pod uses until at most `revisionHistoryLimit` old ones
    /// remain (live ones count against the limit but are kept, as upstream).
    pub async fn clean_up(
        &self,
        client: &kube::Client,
        ds: &DaemonSet,
        pods: &[Arc<Pod>],
    ) -> Result<(), ControllerError> {
        let limit = ds
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10);
        let live_hashes: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.labels().get(CONTROLLER_REVISION_HASH).map(String::as_str))
            .collect();
        let old: Vec<_> = self
            .all
            .iter()
            .filter(|rev| rev.name_any() != self.current)
            .cloned()
            .collect();
        let mut live: HashSet<String> = old
            .iter()
            .filter(|rev| {
                rev.labels()
                    .get(CONTROLLER_REVISION_HASH)
                    .is_some_and(|h| live_hashes.contains(h.as_str()))
            })
            .map(|rev| rev.name_any())
            .collect();
        let live_old = i32::try_from(live.len()).unwrap_or(i32::MAX);
        live.insert(self.current.clone());
        let api: Api<ControllerRevision> =
            Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
        history::truncate(&api, &old, &live, limit.saturating_sub(live_old)).await
    }
}
