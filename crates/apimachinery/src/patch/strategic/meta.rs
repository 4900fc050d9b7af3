//! Patch metadata of the built-in kinds: which lists merge, by which key, and which
//! maps are replaced whole (upstream's `patchStrategy` / `patchMergeKey` Go struct tags
//! of k8s.io/api).
//!
//! There is one table of list semantics: server-side apply's [`BuiltinListMeta`]. A
//! list-map there merges by its first key here, a set merges as primitives, and an
//! atomic list is replaced. The tags and the `+listType` markers agree almost
//! everywhere; the few fields where they do not are listed in [`tag_override`] (SSA's
//! table is right for SSA, so they cannot be "fixed" there).

use crate::apply::{BuiltinListMeta, GroupKind, ListMeta, ListType};

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStrategy {
    /// No `patchStrategy`: the patch's list replaces the live one.
    Replace,
    /// `patchStrategy:"merge"` without a merge key: a list of primitives, unioned.
    MergePrimitives,
    /// `patchStrategy:"merge" patchMergeKey:"<key>"`: items merged by that field.
    MergeByKey(String),
}

/// What strategic merge patch needs to know about a type. Paths are field names from
/// the object root; list items add no step (as in [`ListMeta`]).
pub trait PatchSchema {
    /// How the list at `path` merges.
    fn list_strategy(&self, path: &[&str]) -> ListStrategy;

    /// Whether the object at `path` has `patchStrategy:"replace"` (the patch's map
    /// replaces the live one instead of merging into it).
    fn replaces_map(&self, path: &[&str]) -> bool {
        let _ = path;
        false
    }
}

/// Groups served by the API server itself (not custom resources). Strategic merge
/// patch is defined for their kinds only.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// Strategic merge patch metadata of one built-in kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinPatchMeta {
    group: String,
    kind: String,
}

impl BuiltinPatchMeta {
    pub fn new(group: &str, kind: &str) -> BuiltinPatchMeta {
        BuiltinPatchMeta {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }

    /// Whether the kind belongs to a built-in group. Upstream rejects strategic merge
    /// patch of anything else (custom resources) with 415 Unsupported Media Type, and
    /// [`super::strategic_merge_patch`] fails with
    /// [`crate::patch::PatchError::StrategicMergePatchUnsupported`].
    pub fn is_known(&self) -> bool {
        !self.kind.is_empty() && BUILTIN_GROUPS.contains(&self.group.as_str())
    }

    fn gk(&self) -> GroupKind<'_> {
        GroupKind {
            group: &self.group,
            kind: &self.kind,
        }
    }
}

impl PatchSchema for BuiltinPatchMeta {
    fn list_strategy(&self, path: &[&str]) -> ListStrategy {
        if let Some(strategy) = tag_override(&self.group, &self.kind, path) {
            return strategy;
        }
        match BuiltinListMeta.list_type(self.gk(), path) {
            ListType::Map(keys) => match keys.first() {
                Some(key) => ListStrategy::MergeByKey(key.name.clone()),
                None => ListStrategy::Replace,
            },
            ListType::Set => ListStrategy::MergePrimitives,
            ListType::Atomic => ListStrategy::Replace,
        }
    }

    fn replaces_map(&self, path: &[&str]) -> bool {
        matches!(
            (self.group.as_str(), self.kind.as_str(), path),
            ("policy", "PodDisruptionBudget", ["spec", "selector"])
        )
    }
}

/// Fields whose Go tags disagree with SSA's list type (checked against k8s.io/api's
/// stable versions, apiextensions-apiserver and kube-aggregator).
fn tag_override(group: &str, kind: &str, path: &[&str]) -> Option<ListStrategy> {
    use ListStrategy::{MergeByKey, Replace};
    let by = |key: &str| Some(MergeByKey(key.to_string()));
    // Container fields: keyed/set for SSA, untagged for SMP.
    if matches!(
        path,
        [.., "resources", "claims"] | [.., "volumeMounts", "bindMountOptions"]
    ) {
        return Some(Replace);
    }
    match (group, kind, path) {
        // `+listType=map` / `set` without a patchStrategy tag.
        ("certificates.k8s.io", "CertificateSigningRequest", ["status", "conditions"])
        | ("apiextensions.k8s.io", "CustomResourceDefinition", ["status", "conditions"])
        | (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy",
            ["status", "conditions"],
        )
        | ("admissionregistration.k8s.io", "MutatingAdmissionPolicy", ["spec", "variables"])
        | ("storage.k8s.io", "CSIDriver", ["spec", "volumeLifecycleModes"])
        | ("batch", "Job", ["status", "uncountedTerminatedPods", _]) => Some(Replace),
        // patchStrategy tags on lists SSA treats as atomic (or does not list).
        ("batch", "Job", ["status", "conditions"]) => by("type"),
        ("batch", "Job", ["spec", "scheduling", "resourceClaims"])
        | (
            "batch",
            "CronJob",
            [
                "spec",
                "jobTemplate",
                "spec",
                "scheduling",
                "resourceClaims",
            ],
        ) => by("name"),
        ("", "Pod", ["status", "hostIPs"]) => by("ip"),
        ("", "Pod", ["status", "nodeAllocatableResourceClaimStatuses"]) => by("resourceClaimName"),
        (
            "",
            "Pod",
            [
                "status",
                "nodeAllocatableResourceClaimStatuses",
                "mapping" | "overhead",
            ],
        ) => by("name"),
        ("", "PersistentVolumeClaim", ["status", "healthStatus", "healthConditions"]) => {
            by("status")
        }
        ("certificates.k8s.io", "PodCertificateRequest", ["status", "conditions"])
        | ("resource.k8s.io", "DeviceTaintRule", ["status", "conditions"])
        | ("storagemigration.k8s.io", "StorageVersionMigration", ["status", "conditions"]) => {
            by("type")
        }
        ("resource.k8s.io", "ResourceClaim", ["status", "reservedFor"]) => by("uid"),
        ("storage.k8s.io", "CSINode", ["status", "storageHealth"]) => by("name"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_from_the_shared_table() {
        use super::PatchSchema as _;
        let deploy = BuiltinPatchMeta::new("apps", "Deployment");
        let spec = |rest: &[&'static str]| -> Vec<&'static str> {
            ["spec", "template", "spec"]
                .iter()
                .chain(rest)
                .copied()
                .collect()
        };
        assert_eq!(
            deploy.list_strategy(&spec(&["containers"])),
            ListStrategy::MergeByKey("name".into())
        );
        assert_eq!(
            deploy.list_strategy(&spec(&["containers", "ports"])),
            ListStrategy::MergeByKey("containerPort".into())
        );
        assert_eq!(
            deploy.list_strategy(&spec(&["volumes"])),
            ListStrategy::MergeByKey("name".into())
        );
        assert_eq!(
            deploy.list_strategy(&spec(&["tolerations"])),
            ListStrategy::Replace
        );
        assert_eq!(
            deploy.list_strategy(&spec(&["containers", "resources", "claims"])),
            ListStrategy::Replace
        );
        assert_eq!(
            deploy.list_strategy(&["metadata", "finalizers"]),
            ListStrategy::MergePrimitives
        );
        let svc = BuiltinPatchMeta::new("", "Service");
        assert_eq!(
            svc.list_strategy(&["spec", "ports"]),
            ListStrategy::MergeByKey("port".into())
        );
        let job = BuiltinPatchMeta::new("batch", "Job");
        assert_eq!(
            job.list_strategy(&["status", "conditions"]),
            ListStrategy::MergeByKey("type".into())
        );
        let csr = BuiltinPatchMeta::new("certificates.k8s.io", "CertificateSigningRequest");
        assert_eq!(
            csr.list_strategy(&["status", "conditions"]),
            ListStrategy::Replace
        );
        assert!(
            BuiltinPatchMeta::new("policy", "PodDisruptionBudget")
                .replaces_map(&["spec", "selector"])
        );
        assert!(svc.is_known());
        assert!(!BuiltinPatchMeta::new("example.com", "Widget").is_known());
    }
}
