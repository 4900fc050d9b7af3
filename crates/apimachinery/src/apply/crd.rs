//! Schema knowledge read from a CRD version's structural OpenAPI v3 schema
//! (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
//! `x-kubernetes-preserve-unknown-fields`).

use serde_json::Value;

use super::listmeta::{
    GroupKind, ListMapKey, ListMeta, ListType, MapType, object_meta_list_type, object_meta_map_type,
};

/// [`ListMeta`] for one custom resource version, built from its
/// `spec.versions[*].schema.openAPIV3Schema`.
#[derive(Debug, Clone)]
pub struct CrdListMeta {
    schema: Value,
}

impl CrdListMeta {
    /// From the `openAPIV3Schema` object itself.
    pub fn from_schema(open_api_v3_schema: Value) -> Self {
        CrdListMeta {
            schema: open_api_v3_schema,
        }
    }

    /// From a whole CustomResourceDefinition object and a version name; `None` when the
    /// version or its schema is missing.
    pub fn from_crd(crd: &Value, version: &str) -> Option<Self> {
        let versions = crd.pointer("/spec/versions")?.as_array()?;
        let entry = versions
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?;
        let schema = entry
            .pointer("/schema/openAPIV3Schema")
            .or_else(|| crd.pointer("/spec/validation/openAPIV3Schema"))?;
        Some(Self::from_schema(schema.clone()))
    }

    /// The schema node for `path`, stepping through array `items` transparently since
    /// list items do not appear in the path. `None` once outside the declared schema.
    fn resolve(&self, path: &[&str]) -> Option<&Value> {
        let mut node = &self.schema;
        for name in path {
            node = items_of(node);
            node = match node.get("properties").and_then(|p| p.get(*name)) {
                Some(child) => child,
                None => node.get("additionalProperties").filter(|a| a.is_object())?,
            };
        }
        Some(node)
    }
}

fn items_of(mut node: &Value) -> &Value {
    while let Some(items) = node.get("items").filter(|i| i.is_object()) {
        node = items;
    }
    node
}

impl ListMeta for CrdListMeta {
    fn list_type(&self, _gk: GroupKind<'_>, path: &[&str]) -> ListType {
        if let ["metadata", rest @ ..] = path {
            return object_meta_list_type(rest);
        }
        let Some(node) = self.resolve(path) else {
            return ListType::Atomic;
        };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => {
                let item_properties = node.get("items").and_then(|i| i.get("properties"));
                let keys = node
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(|name| ListMapKey {
                                name: name.to_string(),
                                default: item_properties
                                    .and_then(|p| p.get(name))
                                    .and_then(|p| p.get("default"))
                                    .cloned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ListType::Map(keys)
            }
            _ => ListType::Atomic,
        }
    }

    fn map_type(&self, _gk: GroupKind<'_>, path: &[&str]) -> MapType {
        if let ["metadata", rest @ ..] = path {
            return object_meta_map_type(rest);
        }
        let Some(node) = self.resolve(path).map(items_of) else {
            // Unknown territory under x-kubernetes-preserve-unknown-fields: untyped.
            return MapType::Granular;
        };
        if node.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            return MapType::Atomic;
        }
        if node.get("properties").is_some() {
            MapType::Struct
        } else {
            MapType::Granular
        }
    }

    fn is_declared_field(&self, _gk: GroupKind<'_>, map_path: &[&str], field: &str) -> bool {
        if let ["metadata", rest @ ..] = map_path {
            return object_meta_map_type(rest) == MapType::Struct;
        }
        if map_path.is_empty() && matches!(field, "apiVersion" | "kind" | "metadata") {
            return true;
        }
        self.resolve(map_path)
            .map(items_of)
            .and_then(|node| node.get("properties"))
            .is_some_and(|p| p.get(field).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> CrdListMeta {
        CrdListMeta::from_schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name", "proto"],
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string"},
                                "proto": {"type": "string", "default": "TCP"},
                                "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                         "items": {"type": "string"}}
                            }}
                        },
                        "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                     "additionalProperties": {"type": "string"}},
                        "extra": {"type": "object", "additionalProperties": {"type": "object",
                                  "properties": {"x": {"type": "string"}}}},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        }))
    }

    const GK: GroupKind<'static> = GroupKind {
        group: "example.com",
        kind: "Widget",
    };

    #[test]
    fn reads_list_and_map_types() {
        let m = meta();
        assert_eq!(
            m.list_type(GK, &["spec", "items"]),
            ListType::Map(vec![
                ListMapKey::new("name"),
                ListMapKey::with_default("proto", json!("TCP"))
            ])
        );
        assert_eq!(m.list_type(GK, &["spec", "items", "tags"]), ListType::Set);
        assert_eq!(m.list_type(GK, &["spec", "args"]), ListType::Atomic);
        assert_eq!(m.map_type(GK, &["spec", "selector"]), MapType::Atomic);
        assert_eq!(m.map_type(GK, &["spec"]), MapType::Struct);
        assert_eq!(m.map_type(GK, &["spec", "extra"]), MapType::Granular);
        assert_eq!(
            m.map_type(GK, &["spec", "extra", "anything"]),
            MapType::Struct
        );
        assert_eq!(m.map_type(GK, &["spec", "blob"]), MapType::Granular);
        assert_eq!(m.map_type(GK, &["spec", "blob", "deep"]), MapType::Granular);
        assert!(m.is_declared_field(GK, &["spec"], "items"));
        assert!(!m.is_declared_field(GK, &["spec", "extra"], "anything"));
        assert_eq!(m.list_type(GK, &["metadata", "finalizers"]), ListType::Set);
    }

    #[test]
    fn from_crd_picks_the_version() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object"}}}
        ]}});
        assert!(CrdListMeta::from_crd(&crd, "v1").is_some());
        assert!(CrdListMeta::from_crd(&crd, "v2").is_none());
    }
}
