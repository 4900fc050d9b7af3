//! A StatefulSet pod's stable identity: its ordinal name `<set>-<i>`, hostname and subdomain,
//! the labels upstream puts on it, and its claims `<template>-<set>-<i>` from
//! volumeClaimTemplates.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

use crate::history::CONTROLLER_REVISION_HASH;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// The ordinal of a pod named `<set>-<i>`, if the name has that form.
pub fn ordinal_of(set: &StatefulSet, pod: &Pod) -> Option<i32> {
    let name = pod.metadata.name.as_deref()?;
    let suffix = name.strip_prefix(&set.name_any())?.strip_prefix('-')?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    suffix.parse().ok()
}

pub fn claim_name(template: &PersistentVolumeClaim, set: &StatefulSet, ordinal: i32) -> String {
    format!(
        "{}-{}-{ordinal}",
        template.metadata.name.as_deref().unwrap_or_default(),
        set.name_any()
    )
}

pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(CONTROLLER_REVISION_HASH)
        .map(String::as_str)
}

fn controller_ref(set: &StatefulSet) -> Option<OwnerReference> {
    Some(crate::history::controller_ref(set))
}

/// The pod for `ordinal` made from `template` (the template of revision `revision`).
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH.into(), revision.into());
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(set, ordinal)),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.clone()),
            finalizers: template
                .metadata
                .as_ref()
                .and_then(|m| m.finalizers.clone()),
            owner_references: controller_ref(set).map(|r| vec![r]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    update_identity(set, &mut pod, ordinal);
    update_storage(set, &mut pod, ordinal);
    pod
}

/// Whether the pod carries the identity of `ordinal` (name, labels, hostname, subdomain).
pub fn identity_matches(set: &StatefulSet, pod: &Pod, ordinal: i32) -> bool {
    let mut expected = pod.clone();
    update_identity(set, &mut expected, ordinal);
    expected.metadata.labels == pod.metadata.labels
        && expected.spec.as_ref().map(|s| (&s.hostname, &s.subdomain))
            == pod.spec.as_ref().map(|s| (&s.hostname, &s.subdomain))
}

/// Whether every claim template is mounted from the pod's own claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod, ordinal: i32) -> bool {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    claim_templates(set).iter().all(|template| {
        let wanted = claim_name(template, set, ordinal);
        volumes.into_iter().flatten().any(|volume| {
            Some(&volume.name) == template.metadata.name.as_ref()
                && volume
                    .persistent_volume_claim
                    .as_ref()
                    .is_some_and(|claim| claim.claim_name == wanted)
        })
    })
}

pub fn update_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let name = pod_name(set, ordinal);
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = set.namespace();
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
}

/// Mount each claim template's claim for this ordinal, replacing template volumes of the same
/// name, as upstream does.
pub fn update_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let templates = claim_templates(set);
    if templates.is_empty() {
        return;
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    let mut volumes: Vec<Volume> = spec.volumes.take().unwrap_or_default();
    for template in templates {
        let name = template.metadata.name.clone().unwrap_or_default();
        volumes.retain(|v| v.name != name);
        volumes.push(Volume {
            name,
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(template, set, ordinal),
                read_only: None,
            }),
            ..Default::default()
        });
    }
    spec.volumes = Some(volumes);
}

pub fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// The claims of `ordinal`: each template renamed, labelled with the set's matchLabels and, when
/// the retention policy deletes claims with the set, owned by the set.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let match_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone());
    let delete_with_set = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref())
        .and_then(|p| p.when_deleted.as_deref())
        == Some("Delete");
    claim_templates(set)
        .iter()
        .map(|template| {
            let mut claim = template.clone();
            claim.metadata.name = Some(claim_name(template, set, ordinal));
            claim.metadata.namespace = set.namespace();
            claim.metadata.resource_version = None;
            claim.metadata.uid = None;
            claim.status = None;
            if let Some(selector) = &match_labels {
                let labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
                labels.extend(selector.clone());
            }
            if delete_with_set && let Some(mut owner) = controller_ref(set) {
                // Upstream owns the claim without controlling it.
                owner.controller = None;
                owner.block_owner_deletion = Some(true);
                claim.metadata.owner_references = Some(vec![owner]);
            }
            claim
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn web() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}],
                             "volumes": [{"name": "www", "emptyDir": {}}]}
                },
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"]}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn new_pods_carry_identity_storage_and_revision() {
        let set = web();
        let template = set.spec.as_ref().unwrap().template.clone();
        let pod = new_pod(&set, &template, "web-abc", 2);
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[CONTROLLER_REVISION_HASH], "web-abc");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let volumes = spec.volumes.as_ref().unwrap();
        assert_eq!(
            volumes.len(),
            1,
            "the template volume is replaced by the claim"
        );
        assert_eq!(
            volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "www-web-2"
        );
        assert_eq!(ordinal_of(&set, &pod), Some(2));
        assert!(identity_matches(&set, &pod, 2));
        assert!(storage_matches(&set, &pod, 2));
        assert!(!identity_matches(&set, &pod, 3));
    }

    #[test]
    fn ordinals_need_the_exact_form() {
        let set = web();
        let named = |name: &str| Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(ordinal_of(&set, &named("web-10")), Some(10));
        assert_eq!(ordinal_of(&set, &named("web-")), None);
        assert_eq!(ordinal_of(&set, &named("web-x")), None);
        assert_eq!(ordinal_of(&set, &named("webx-1")), None);
    }

    #[test]
    fn claims_are_retained_by_default() {
        let mut set = web();
        let claims = claims_for(&set, 0);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("www-web-0"));
        assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "web");
        assert!(claims[0].metadata.owner_references.is_none());
        set.spec
            .as_mut()
            .unwrap()
            .persistent_volume_claim_retention_policy =
            serde_json::from_value(json!({"whenDeleted": "Delete"})).unwrap();
        let owned = claims_for(&set, 0);
        let owner = &owned[0].metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.uid, "u1");
        assert_eq!(owner.controller, None);
    }
}
