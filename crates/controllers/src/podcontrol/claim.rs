//! Upstream's ControllerRefManager: an owner claims the children its selector matches,
//! adopting matching orphans and releasing owned children that stopped matching. Both are
//! strategic merge patches of `metadata.ownerReferences` that carry the child's uid, so they
//! fail instead of touching a different object that reused the name.

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use kube::api::{Api, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::selector::Selector;
use super::{Owner, controller_of};
use crate::ControllerError;

/// The children `owner` controls after adoption and release, from the candidates (its
/// indexed children and its namespace's orphans; each is judged by its current controller
/// reference, so an index lagging behind the cache does no harm). `can_adopt` (upstream's
/// RecheckDeletionTimestamp: a fresh read of the owner) is awaited only if there is an orphan
/// to adopt.
pub async fn claim<K, F>(
    client: &kube::Client,
    owner: &Owner,
    selector: &Selector,
    candidates: impl IntoIterator<Item = Arc<K>>,
    can_adopt: F,
) -> Result<Vec<Arc<K>>, ControllerError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    F: Future<Output = Result<bool, ControllerError>>,
{
    let api: Api<K> = Api::namespaced(client.clone(), &owner.namespace);
    let mut claimed = Vec::new();
    let mut orphans = Vec::new();
    let mut seen = HashSet::new();
    for child in candidates {
        if !seen.insert(child.meta().uid.clone()) {
            continue;
        }
        let matches = selector.matches(child.meta().labels.as_ref());
        match controller_of(child.meta()) {
            Some(r) if r.uid == owner.uid => {
                if matches {
                    claimed.push(child);
                } else if !owner.deleting {
                    release(&api, owner, &child).await?;
                }
            }
            Some(_) => {}
            None => {
                if matches
                    && child.meta().deletion_timestamp.is_none()
                    && child.meta().namespace.as_deref() == Some(owner.namespace.as_str())
                {
                    orphans.push(child);
                }
            }
        }
    }
    if orphans.is_empty() || owner.deleting || !can_adopt.await? {
        return Ok(claimed);
    }
    for child in orphans {
        if let Some(adopted) = adopt(&api, owner, &child).await? {
            claimed.push(Arc::new(adopted));
        }
    }
    Ok(claimed)
}

fn name_and_uid<K: kube::Resource>(child: &K) -> (String, String) {
    let meta = child.meta();
    (
        meta.name.clone().unwrap_or_default(),
        meta.uid.clone().unwrap_or_default(),
    )
}

/// Make `owner` the controller of an orphan; `None` when the orphan is gone.
pub async fn adopt<K>(api: &Api<K>, owner: &Owner, child: &K) -> Result<Option<K>, ControllerError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let (name, uid) = name_and_uid(child);
    let patch = json!({"metadata": {"ownerReferences": [owner.controller_ref()], "uid": uid}});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(adopted) => {
            tracing::debug!(owner = %owner.name, child = %name, "adopted");
            Ok(Some(adopted))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Remove `owner`'s reference from a child that no longer matches its selector.
pub async fn release<K>(api: &Api<K>, owner: &Owner, child: &K) -> Result<(), ControllerError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let (name, uid) = name_and_uid(child);
    let patch = json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner.uid}],
        "uid": uid,
    }});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => {
            tracing::debug!(owner = %owner.name, child = %name, "released");
            Ok(())
        }
        // Gone, or no longer carrying the reference: nothing to release.
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 422 => Ok(()),
        Err(err) => Err(err.into()),
    }
}
