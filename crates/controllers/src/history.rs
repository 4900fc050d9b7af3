//! ControllerRevision helpers shared by the DaemonSet and StatefulSet controllers, as upstream's
//! `controller/history` package: revisions are snapshots of an owner's pod template named
//! `<owner>-<hash>`, labelled `controller-revision-hash`, numbered in order of use, and pruned
//! down to the owner's `revisionHistoryLimit` (never a revision a live pod still uses).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;
use serde_json::{Value, json};

use crate::ControllerError;

/// The label carrying a revision's hash, on the revision and on the pods made from it.
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";

/// Upstream limits the prefix so that `<prefix>-<hash>` stays a valid object name.
const MAX_PREFIX: usize = 223;

/// Upstream's `rand.SafeEncodeString` alphabet: no vowels (no words) and no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a (32 bit), the hash upstream uses for pod-template and revision hashes.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The short hash of `value`, salted by `collision_count` when set, in upstream's form (the
/// decimal FNV-32a digest mapped onto the safe alphabet, e.g. `5d4f7c9b8`).
pub fn hash_value(value: &Value, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    if let Some(count) = collision_count {
        bytes.extend_from_slice(count.to_string().as_bytes());
    }
    fnv32a(&bytes)
        .to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// `<prefix>-<hash>`, the name of a revision (and the StatefulSet pods' revision label).
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let prefix = match prefix.char_indices().nth(MAX_PREFIX) {
        Some((cut, _)) => &prefix[..cut],
        None => prefix,
    };
    format!("{prefix}-{hash}")
}

/// The data both controllers store in a revision: a strategic-merge patch that replaces the
/// owner's pod template.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The pod template a revision stores (inverse of [`template_patch`]).
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// Everything a new revision needs from its owner.
pub struct RevisionOwner<'a> {
    pub reference: OwnerReference,
    pub namespace: &'a str,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A revision of `owner` named `<owner>-<hash>` holding `data`, with the template's labels
/// plus the hash label.
pub fn new_revision(
    owner: &RevisionOwner<'_>,
    template_labels: Option<&BTreeMap<String, String>>,
    hash: &str,
    data: Value,
    number: i64,
) -> ControllerRevision {
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH.into(), hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&owner.reference.name, hash)),
            namespace: Some(owner.namespace.into()),
            labels: Some(labels),
            annotations: owner.annotations.clone(),
            owner_references: Some(vec![owner.reference.clone()]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// The owner reference a controller puts on what it creates (upstream's NewControllerRef).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The revisions `owner_uid` controls, oldest first (by revision number, then name).
pub fn owned_revisions(
    cache: &Store<ControllerRevision>,
    namespace: &str,
    owner_uid: &str,
) -> Vec<Arc<ControllerRevision>> {
    let mut revisions: Vec<_> = cache
        .state()
        .into_iter()
        .filter(|rev| rev.metadata.namespace.as_deref() == Some(namespace))
        .filter(|rev| controller_uid(&rev.metadata) == Some(owner_uid))
        .collect();
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    revisions
}

/// The uid of the object's controlling owner, if any.
pub fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.as_str())
}

/// One more than the highest revision number in use (1 for the first).
pub fn next_revision(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Whether two revisions snapshot the same template.
pub fn same_data(revision: &ControllerRevision, data: &Value) -> bool {
    revision.data.as_ref().is_some_and(|d| &d.0 == data)
}

/// Create the revision `build(collision_count)` makes. A name already taken by a revision with
/// other data is a hash collision: like upstream, bump `collision_count` and try the next name.
/// Returns the revision that now holds the data (ours, or an identical one that already existed).
pub async fn create_revision(
    api: &Api<ControllerRevision>,
    collision_count: &mut i32,
    build: impl Fn(i32) -> ControllerRevision,
) -> Result<ControllerRevision, ControllerError> {
    loop {
        let revision = build(*collision_count);
        match api.create(&PostParams::default(), &revision).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let name = revision.metadata.name.clone().unwrap_or_default();
                let existing = api.get(&name).await?;
                let data = revision.data.as_ref().map(|d| &d.0);
                let same_owner =
                    controller_uid(&existing.metadata) == controller_uid(&revision.metadata);
                if same_owner && data.is_some_and(|d| same_data(&existing, d)) {
                    return Ok(existing);
                }
                *collision_count = collision_count.saturating_add(1);
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Give an existing revision a new number (a rollback to an earlier template reuses it).
pub async fn renumber(
    api: &Api<ControllerRevision>,
    revision: &ControllerRevision,
    number: i64,
) -> Result<ControllerRevision, ControllerError> {
    let mut updated = revision.clone();
    updated.revision = number;
    let name = updated.metadata.name.clone().unwrap_or_default();
    Ok(api.replace(&name, &PostParams::default(), &updated).await?)
}

/// Delete the oldest revisions not in `live` until at most `limit` non-live ones remain.
/// `revisions` must be sorted oldest first.
pub async fn truncate(
    api: &Api<ControllerRevision>,
    revisions: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Result<(), ControllerError> {
    let historic: Vec<_> = revisions
        .iter()
        .filter(|rev| !live.contains(rev.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let excess = historic
        .len()
        .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    for revision in historic.into_iter().take(excess) {
        let name = revision.metadata.name.as_deref().unwrap_or_default();
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// Whether `labels` satisfy a label selector (matchLabels and matchExpressions). Like
/// upstream, an empty selector matches everything.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|expr| {
        let values = expr.values.as_deref().unwrap_or_default();
        let value = labels.get(&expr.key);
        match expr.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_use_the_safe_alphabet_and_change_with_collisions() {
        let data = json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}});
        let plain = hash_value(&data, None);
        assert!(!plain.is_empty());
        assert!(plain.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert_eq!(plain, hash_value(&data, None));
        assert_ne!(plain, hash_value(&data, Some(1)));
        assert_ne!(hash_value(&data, Some(1)), hash_value(&data, Some(2)));
    }

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn long_prefixes_are_cut() {
        let name = revision_name(&"a".repeat(300), "abc");
        assert_eq!(name.len(), MAX_PREFIX + 4);
        assert_eq!(revision_name("web", "abc"), "web-abc");
    }

    #[test]
    fn template_round_trips_through_the_patch() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        let patch = template_patch(&template);
        assert_eq!(patch["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision {
            data: Some(RawExtension(patch)),
            ..Default::default()
        };
        assert_eq!(template_of(&revision), Some(template));
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selector_matches(
            &selector,
            Some(&labels(&[("app", "web"), ("tier", "a")]))
        ));
        assert!(!selector_matches(
            &selector,
            Some(&labels(&[("app", "web"), ("tier", "c")]))
        ));
        assert!(!selector_matches(
            &selector,
            Some(&labels(&[("app", "web"), ("tier", "a"), ("canary", "1")]))
        ));
        assert!(selector_matches(&LabelSelector::default(), None));
    }
}
