//! The set of resources this server serves: the built-in catalogue plus the custom resources of
//! every established CustomResourceDefinition. Rebuilt (copy-on-write) when CRDs change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use keelson_api_types::catalogue::{self, GroupVersionKind, ResourceInfo, Scope, SubresourceInfo};
use serde_json::Value;

/// What a custom resource adds to its `ResourceInfo`.
#[derive(Clone, Debug, Default)]
pub struct CustomResource {
    /// The version's `openAPIV3Schema`.
    pub schema: Option<Value>,
    pub printer_columns: Option<Value>,
    /// `.spec.replicas`-style paths of the scale subresource.
    pub scale: Option<ScalePaths>,
    pub has_status: bool,
    pub storage_version: String,
}

#[derive(Clone, Debug, Default)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub info: ResourceInfo,
    pub custom: Option<CustomResource>,
}

impl Resource {
    pub fn has_status(&self) -> bool {
        self.info.subresource("status").is_some()
    }
}

#[derive(Default)]
pub struct Snapshot {
    /// (group, version, plural) -> resource.
    by_path: HashMap<(String, String, String), Arc<Resource>>,
    /// Group -> versions in preference order.
    pub groups: Vec<(String, Vec<String>)>,
    /// Every resource in discovery order.
    pub resources: Vec<Arc<Resource>>,
}

impl Snapshot {
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    pub fn group_versions(&self, group: &str) -> Option<&[String]> {
        self.groups
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, v)| v.as_slice())
    }

    pub fn resources_of(&self, group: &str, version: &str) -> impl Iterator<Item = &Arc<Resource>> {
        self.resources
            .iter()
            .filter(move |r| r.info.group == group && r.info.version == version)
    }

    /// The resource serving `kind` in `group` (any version), e.g. for ownerReference checks.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<Resource>> {
        self.resources
            .iter()
            .find(|r| r.info.group == group && r.info.kind == kind)
            .cloned()
    }
}

pub struct Registry {
    builtin: Vec<ResourceInfo>,
    current: RwLock<Arc<Snapshot>>,
    crds: RwLock<BTreeMap<String, Value>>,
}

impl Registry {
    pub fn new() -> Registry {
        let builtin = catalogue::builtin_resources();
        let registry = Registry {
            builtin,
            current: RwLock::new(Arc::default()),
            crds: RwLock::default(),
        };
        registry.rebuild();
        registry
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().expect("registry lock").clone()
    }

    /// Replace the set of CRDs (keyed by name) and rebuild.
    pub fn set_crds(&self, crds: BTreeMap<String, Value>) {
        *self.crds.write().expect("registry lock") = crds;
        self.rebuild();
    }

    fn rebuild(&self) {
        let mut snapshot = Snapshot::default();
        for info in &self.builtin {
            add(
                &mut snapshot,
                Resource {
                    info: info.clone(),
                    custom: None,
                },
            );
        }
        for crd in self.crds.read().expect("registry lock").values() {
            for resource in custom_resources(crd) {
                add(&mut snapshot, resource);
            }
        }
        *self.current.write().expect("registry lock") = Arc::new(snapshot);
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

fn add(snapshot: &mut Snapshot, resource: Resource) {
    let info = &resource.info;
    let key = (
        info.group.clone(),
        info.version.clone(),
        info.plural.clone(),
    );
    if snapshot.by_path.contains_key(&key) {
        return;
    }
    match snapshot.groups.iter_mut().find(|(g, _)| *g == info.group) {
        Some((_, versions)) if !versions.contains(&info.version) => {
            versions.push(info.version.clone())
        }
        Some(_) => {}
        None => snapshot
            .groups
            .push((info.group.clone(), vec![info.version.clone()])),
    }
    let resource = Arc::new(resource);
    snapshot.by_path.insert(key, resource.clone());
    snapshot.resources.push(resource);
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The resources a CRD serves (one per served version, storage version's preference first as
/// upstream sorts by version priority).
pub fn custom_resources(crd: &Value) -> Vec<Resource> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let scope = if spec["scope"].as_str() == Some("Cluster") {
        Scope::Cluster
    } else {
        Scope::Namespaced
    };
    let mut versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|v| v["served"].as_bool() == Some(true))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by(|a, b| {
        compare_versions(
            a["name"].as_str().unwrap_or_default(),
            b["name"].as_str().unwrap_or_default(),
        )
    });
    let storage_version = spec["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["storage"].as_bool() == Some(true)))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    versions
        .into_iter()
        .map(|version| {
            let name = version["name"].as_str().unwrap_or_default();
            let gvk = GroupVersionKind::new(group, name, kind);
            let sub = &version["subresources"];
            let mut subresources = Vec::new();
            let has_status = sub.get("status").is_some();
            if has_status {
                subresources.push(SubresourceInfo {
                    name: "status".into(),
                    kind: gvk.clone(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            let scale = sub.get("scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"]
                    .as_str()
                    .unwrap_or(".spec.replicas")
                    .to_string(),
                status_replicas: s["statusReplicasPath"]
                    .as_str()
                    .unwrap_or(".status.replicas")
                    .to_string(),
                label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
            });
            if scale.is_some() {
                subresources.push(SubresourceInfo {
                    name: "scale".into(),
                    kind: GroupVersionKind::new("autoscaling", "v1", "Scale"),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            Resource {
                info: ResourceInfo {
                    group: group.into(),
                    version: name.into(),
                    plural: plural.into(),
                    singular: singular.clone(),
                    kind: kind.into(),
                    scope,
                    verbs: catalogue::STANDARD_VERBS
                        .iter()
                        .map(|v| v.to_string())
                        .collect(),
                    short_names: strings(names.get("shortNames")),
                    categories: strings(names.get("categories")),
                    subresources,
                    stored: true,
                },
                custom: Some(CustomResource {
                    schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                    printer_columns: version.get("additionalPrinterColumns").cloned(),
                    scale,
                    has_status,
                    storage_version: storage_version.clone(),
                }),
            }
        })
        .collect()
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first, then non-conforming
/// names alphabetically.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn rank(v: &str) -> (u8, i64, i64, String) {
        let Some(rest) = v.strip_prefix('v') else {
            return (3, 0, 0, v.to_string());
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(major) = digits.parse::<i64>() else {
            return (3, 0, 0, v.to_string());
        };
        let tail = &rest[digits.len()..];
        let (class, minor) = if tail.is_empty() {
            (0, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            match n.parse::<i64>() {
                Ok(n) => (1, n),
                Err(_) => return (3, 0, 0, v.to_string()),
            }
        } else if let Some(n) = tail.strip_prefix("alpha") {
            match n.parse::<i64>() {
                Ok(n) => (2, n),
                Err(_) => return (3, 0, 0, v.to_string()),
            }
        } else {
            return (3, 0, 0, v.to_string());
        };
        (class, -major, -minor, String::new())
    }
    rank(a).cmp(&rank(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_priority_matches_upstream() {
        let mut v = vec!["v1alpha1", "foo1", "v2", "v1beta2", "v1", "v1beta1", "v10"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo1"]
        );
    }

    #[test]
    fn crd_becomes_resources() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
        let resources = custom_resources(&crd);
        assert_eq!(resources.len(), 1);
        let r = &resources[0];
        assert_eq!(
            (r.info.singular.as_str(), r.info.short_names.clone()),
            ("widget", vec!["wd".to_string()])
        );
        assert!(r.has_status());
        assert_eq!(
            r.custom
                .as_ref()
                .unwrap()
                .scale
                .as_ref()
                .unwrap()
                .spec_replicas,
            ".spec.size"
        );
    }
}
