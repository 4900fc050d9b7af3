//! The catalogue of served resources.

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
    Vec::new()
}
