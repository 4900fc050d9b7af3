//! The catalogue of served resources.

mod builtin;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl GroupVersionKind {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// A subresource such as `status`, `scale`, `log` or `binding`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubresourceInfo {
    pub name: String,
    /// The kind the subresource accepts and returns (e.g. `autoscaling/v1 Scale` for `scale`).
    pub kind: GroupVersionKind,
    pub verbs: Vec<String>,
}

/// One served resource (a group, version and plural name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    /// Plural lower-case name used in URLs, e.g. `deployments`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub scope: Scope,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub subresources: Vec<SubresourceInfo>,
    /// Virtual resources (reviews, TokenRequest-like) accept `create` and store nothing.
    pub stored: bool,
}

impl ResourceInfo {
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::new(&self.group, &self.version, &self.kind)
    }

    pub fn api_version(&self) -> String {
        self.gvk().api_version()
    }

    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn subresource(&self, name: &str) -> Option<&SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// Verbs of an ordinary stored resource.
pub const STANDARD_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Every built-in resource of every served group-version, in a stable order (core first, then
/// groups in upstream's discovery order). Preferred versions come first within a group.
pub fn builtin_resources() -> Vec<ResourceInfo> {
    builtin::resources()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_version_resource_is_unique() {
        let resources = builtin_resources();
        let mut seen = std::collections::HashSet::new();
        for r in &resources {
            assert!(
                seen.insert((r.group.clone(), r.version.clone(), r.plural.clone())),
                "{} twice",
                r.plural
            );
        }
        assert_eq!(resources.len(), 50, "the served built-in resources");
    }

    #[test]
    fn pods_are_namespaced_with_their_subresources() {
        let pods = builtin_resources()
            .into_iter()
            .find(|r| r.group.is_empty() && r.plural == "pods")
            .unwrap();
        assert!(pods.namespaced() && pods.stored && pods.has_verb("watch"));
        assert_eq!(
            pods.subresource("eviction").unwrap().kind,
            GroupVersionKind::new("policy", "v1", "Eviction")
        );
        assert_eq!(
            pods.subresource("status").unwrap().kind,
            GroupVersionKind::new("", "v1", "Pod")
        );
        assert_eq!(pods.short_names, ["po"]);
    }

    #[test]
    fn reviews_are_virtual_and_namespaces_lack_deletecollection() {
        let all = builtin_resources();
        let review = all
            .iter()
            .find(|r| r.plural == "selfsubjectaccessreviews")
            .unwrap();
        assert!(!review.stored && review.verbs == ["create"]);
        let namespaces = all.iter().find(|r| r.plural == "namespaces").unwrap();
        assert!(namespaces.stored && !namespaces.has_verb("deletecollection"));
    }
}
