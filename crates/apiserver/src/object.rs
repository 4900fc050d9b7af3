//! Stored objects as the API server keeps them in memory: the JSON bytes clients receive
//! (with `metadata.resourceVersion` filled in from the store revision) plus what selectors need,
//! so lists and watches never re-parse objects.

use bytes::Bytes;
use keelson_store::KeyValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::status::ApiError;

#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub resource_version: i64,
    pub namespace: Option<String>,
    pub name: String,
    /// `apiVersion` the object was stored in.
    pub api_version: String,
    pub labels: BTreeMap<String, String>,
    /// Values of the kind's selectable fields (`spec.nodeName`, `status.phase`, ...).
    pub fields: Vec<(String, String)>,
    /// The object as clients receive it.
    pub json: Bytes,
}

impl CachedObject {
    pub fn value(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.json)
            .map_err(|e| ApiError::Internal(format!("decoding stored object: {e}")))
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Storage keys: `/registry/<group or "core">/<resource>/[<namespace>/]<name>`.
pub fn storage_key(group: &str, resource: &str, namespace: Option<&str>, name: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    match namespace {
        Some(ns) => format!("/registry/{group}/{resource}/{ns}/{name}"),
        None => format!("/registry/{group}/{resource}/{name}"),
    }
}

/// The prefix under which every object of a resource (optionally of one namespace) lives.
pub fn storage_prefix(group: &str, resource: &str, namespace: Option<&str>) -> String {
    let group = if group.is_empty() { "core" } else { group };
    match namespace {
        Some(ns) => format!("/registry/{group}/{resource}/{ns}/"),
        None => format!("/registry/{group}/{resource}/"),
    }
}

/// Keys the API server keeps for itself next to the objects (service IP and node port
/// allocations). They live under `/registry/` so that every store revision reaches the watch
/// cache, which keeps its revision in step with the store; `@` never starts an API group, so
/// they cannot be mistaken for objects.
pub const INTERNAL_PREFIX: &str = "/registry/@";

/// `(group, resource)` of a storage key, e.g. `("apps", "deployments")`; `None` for keys that
/// are not objects.
pub fn resource_of_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.strip_prefix("/registry/")?.splitn(3, '/');
    let group = parts.next().filter(|g| !g.starts_with('@'))?;
    let resource = parts.next()?;
    parts.next()?;
    Some((if group == "core" { "" } else { group }, resource))
}

/// The object as clients see it at `resource_version`: `metadata.resourceVersion` filled in.
pub fn with_resource_version(mut value: Value, resource_version: i64) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
    }
    value
}

/// A stored key-value as the object clients see, without building its cached form (the write
/// path reads, mutates and writes; only the watch cache needs selectors and bytes).
pub fn decode_value(kv: &KeyValue) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored object {} is not JSON: {e}", kv.key)))?;
    Ok(with_resource_version(value, kv.mod_revision))
}

/// Set `metadata.resourceVersion` and build the cached form.
pub fn cache_value(key: &str, value: Value, resource_version: i64) -> Arc<CachedObject> {
    let value = with_resource_version(value, resource_version);
    let meta = value.get("metadata");
    let text = |field: &str| {
        meta.and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let fields = crate::fields::selectable_fields(&value);
    let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Arc::new(CachedObject {
        key: key.to_string(),
        resource_version,
        namespace: text("namespace"),
        name: text("name").unwrap_or_default(),
        api_version,
        labels,
        fields,
        json,
    })
}

/// Decode a stored key-value into its cached form.
pub fn decode_kv(kv: &KeyValue) -> Result<Arc<CachedObject>, ApiError> {
    if let Some(partial) = crate::partial::decode(&kv.value, kv.mod_revision) {
        let meta = &partial.metadata;
        let text = |field: &str| meta.get(field).and_then(Value::as_str).map(str::to_string);
        let labels = meta
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let api_version = partial
            .selectable
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        return Ok(Arc::new(CachedObject {
            key: kv.key.clone(),
            resource_version: kv.mod_revision,
            namespace: text("namespace"),
            name: text("name").unwrap_or_default(),
            api_version,
            labels,
            fields: crate::fields::selectable_fields(&partial.selectable),
            json: partial.json,
        }));
    }
    let value: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored object {} is not JSON: {e}", kv.key)))?;
    Ok(cache_value(&kv.key, value, kv.mod_revision))
}

/// Remove what the store tracks itself before writing an object.
pub fn encode_for_store(value: &Value) -> Bytes {
    let mut value = value.clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both_paths(object: Value) -> (Arc<CachedObject>, Arc<CachedObject>) {
        let kv = KeyValue {
            key: "/registry/core/pods/ns/p".into(),
            value: Bytes::from(serde_json::to_vec(&object).unwrap()),
            create_revision: 5,
            mod_revision: 9,
            version: 1,
            lease: 0,
        };
        (decode_kv(&kv).unwrap(), cache_value(&kv.key, object, 9))
    }

    #[test]
    fn the_fast_decode_agrees_with_the_general_one() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "1"}},
                   "spec": {"nodeName": "n", "hostNetwork": true, "containers": []}, "status": {"phase": "Running"}}),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"},
                   "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Scheduled", "type": "Normal",
                   "source": {"component": "scheduler"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {}}),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "status": {"succeeded": 2}}),
        ];
        for object in objects {
            let (fast, general) = both_paths(object);
            assert_eq!(fast.fields, general.fields);
            assert_eq!(
                (&fast.name, &fast.namespace, &fast.labels),
                (&general.name, &general.namespace, &general.labels)
            );
            assert_eq!(fast.api_version, general.api_version);
            assert_eq!(fast.value().unwrap(), general.value().unwrap());
        }
    }
}
