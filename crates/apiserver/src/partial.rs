//! Decoding stored objects for the watch cache without building their whole JSON tree.
//!
//! The cache needs an object's bytes (with `metadata.resourceVersion` filled in), its name,
//! namespace, labels and selectable fields. Parsing every stored object into a `Value` and
//! serialising it back dominated a restart with 150,000 pods, so this parses only `metadata` and
//! the few fields selectors read, skips the rest, and splices the resourceVersion into the
//! stored bytes.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Top-level fields kept whole: identity, metadata, and the top-level selectable fields of
/// Events and Secrets.
const WHOLE: &[&str] = &[
    "apiVersion",
    "kind",
    "type",
    "reason",
    "reportingComponent",
    "reportingController",
    "source",
    "involvedObject",
    "regarding",
];
/// The `spec` and `status` fields any kind's field selectors read (see `fields.rs`).
const SPEC: &[&str] = &[
    "nodeName",
    "restartPolicy",
    "schedulerName",
    "serviceAccountName",
    "hostNetwork",
    "unschedulable",
    "signerName",
];
const STATUS: &[&str] = &[
    "phase",
    "podIP",
    "nominatedNodeName",
    "succeeded",
    "replicas",
];

/// The metadata the cache reads (managedFields, often the largest part, is skipped).
const METADATA: &[&str] = &["name", "namespace", "labels", "resourceVersion"];

/// What the cache needs of a stored object.
pub struct Partial {
    /// The object reduced to the fields above, for selectable-field extraction.
    pub selectable: Value,
    /// `metadata` reduced to name, namespace and labels.
    pub metadata: Map<String, Value>,
    /// The object's bytes with `metadata.resourceVersion` set.
    pub json: Bytes,
}

/// `None` when the bytes are not a JSON object with an object `metadata` that lacks a
/// resourceVersion; the caller then takes the slow, general path.
pub fn decode(stored: &[u8], resource_version: i64) -> Option<Partial> {
    let mut deserializer = serde_json::Deserializer::from_slice(stored);
    let top = deserializer.deserialize_map(TopLevel).ok()?;
    deserializer.end().ok()?;
    let raw_metadata = top.raw_metadata?;
    let mut metadata_parser = serde_json::Deserializer::from_str(raw_metadata.get());
    let (metadata, fields) = metadata_parser.deserialize_map(Counted(METADATA)).ok()?;
    if metadata.contains_key("resourceVersion") {
        return None;
    }
    let start = (raw_metadata.get().as_ptr() as usize).checked_sub(stored.as_ptr() as usize)?;
    if stored.get(start) != Some(&b'{') {
        return None;
    }
    let version = resource_version.to_string();
    let mut json = BytesMut::with_capacity(stored.len() + version.len() + 24);
    json.put_slice(&stored[..=start]);
    json.put_slice(b"\"resourceVersion\":\"");
    json.put_slice(version.as_bytes());
    json.put_u8(b'"');
    if fields > 0 {
        json.put_u8(b',');
    }
    json.put_slice(&stored[start + 1..]);
    let mut selectable = top.kept;
    selectable.insert("metadata".into(), Value::Object(metadata.clone()));
    Some(Partial {
        selectable: Value::Object(selectable),
        metadata,
        json: json.freeze(),
    })
}

struct Top<'a> {
    kept: Map<String, Value>,
    raw_metadata: Option<&'a RawValue>,
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top {
            kept: Map::new(),
            raw_metadata: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metadata" => top.raw_metadata = Some(map.next_value::<&'de RawValue>()?),
                "spec" => {
                    let fields = map.next_value_seed(Only(SPEC))?;
                    top.kept.insert(key, fields);
                }
                "status" => {
                    let fields = map.next_value_seed(Only(STATUS))?;
                    top.kept.insert(key, fields);
                }
                k if WHOLE.contains(&k) => {
                    let value = map.next_value::<Value>()?;
                    top.kept.insert(key, value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// A map reduced to `0`'s keys, and how many keys it had.
struct Counted(&'static [&'static str]);

impl<'de> Visitor<'de> for Counted {
    type Value = (Map<String, Value>, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Map::new();
        let mut count = 0;
        while let Some(key) = map.next_key::<String>()? {
            count += 1;
            if self.0.contains(&key.as_str()) {
                let value = map.next_value::<Value>()?;
                kept.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((kept, count))
    }
}

/// A map reduced to `0`'s keys; anything that is not a map becomes null.
struct Only(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Only {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Only {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.0.contains(&key.as_str()) {
                let value = map.next_value::<Value>()?;
                kept.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splices_the_resource_version_and_keeps_selectable_fields() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}});
        let stored = serde_json::to_vec(&pod).unwrap();
        let partial = decode(&stored, 42).unwrap();
        let served: Value = serde_json::from_slice(&partial.json).unwrap();
        let mut expected = pod.clone();
        expected["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(served, expected);
        assert_eq!(partial.selectable["spec"], json!({"nodeName": "n1"}));
        assert_eq!(partial.selectable["status"], json!({"phase": "Running"}));
        assert_eq!(partial.metadata["labels"], json!({"app": "web"}));
    }

    #[test]
    fn empty_metadata_gets_no_trailing_comma() {
        let partial = decode(br#"{"kind":"X","metadata":{}}"#, 7).unwrap();
        let served: Value = serde_json::from_slice(&partial.json).unwrap();
        assert_eq!(served["metadata"], json!({"resourceVersion": "7"}));
    }

    #[test]
    fn odd_objects_take_the_general_path() {
        assert!(decode(br#"{"metadata":{"resourceVersion":"1"}}"#, 2).is_none());
        assert!(decode(br#"{"metadata":[]}"#, 2).is_none());
        assert!(decode(br#"[1,2]"#, 2).is_none());
        assert!(decode(br#"{"kind":"X"}"#, 2).is_none());
        assert!(decode(br#"{"metadata":{}} trailing"#, 2).is_none());
        // A custom resource whose spec is not an object still decodes.
        let partial = decode(
            br#"{"metadata":{"name":"a"},"spec":"text","status":[1]}"#,
            3,
        )
        .unwrap();
        assert_eq!(partial.selectable["spec"], Value::Null);
    }
}
