//! The StatefulSet's current and update revisions (upstream's getStatefulSetRevisions): the
//! update revision snapshots today's template, reusing an identical older revision (renumbered
//! as the newest) rather than creating a duplicate; the current revision is the one the status
//! names, or the update revision when there is none yet.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use kube::ResourceExt;
use kube::api::Api;

use crate::ControllerError;
use crate::history::{self, RevisionOwner};

use super::Context;

pub struct Revisions {
    pub current: ControllerRevision,
    pub update: ControllerRevision,
    pub collision_count: i32,
    /// Every revision of the set, oldest first, as seen before this sync.
    pub all: Vec<Arc<ControllerRevision>>,
}

pub async fn resolve(context: &Context, set: &StatefulSet) -> Result<Revisions, ControllerError> {
    let namespace = set.namespace().unwrap_or_default();
    let uid = set.uid().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let status = set.status.clone().unwrap_or_default();
    let all = history::owned_revisions(&context.revisions, &namespace, &uid);
    let api: Api<ControllerRevision> = Api::namespaced(context.client.clone(), &namespace);
    let mut collision_count = status.collision_count.unwrap_or(0);
    let data = history::template_patch(&spec.template);
    let next = history::next_revision(&all);
    let equal = all.iter().rev().find(|rev| history::same_data(rev, &data));
    let update = match equal {
        Some(rev) if Some(rev) == all.last() => (**rev).clone(),
        Some(rev) => history::renumber(&api, rev, next).await?,
        None => {
            let owner = RevisionOwner {
                reference: history::controller_ref(set),
                namespace: &namespace,
                annotations: set.metadata.annotations.clone(),
            };
            let labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref());
            history::create_revision(&api, &mut collision_count, |count| {
                let hash = history::hash_value(&data, Some(count));
                history::new_revision(&owner, labels, &hash, data.clone(), next)
            })
            .await?
        }
    };
    let current = status
        .current_revision
        .as_deref()
        .and_then(|name| {
            all.iter()
                .find(|rev| rev.metadata.name.as_deref() == Some(name))
        })
        .map(|rev| (**rev).clone())
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        current,
        update,
        collision_count,
        all,
    })
}
