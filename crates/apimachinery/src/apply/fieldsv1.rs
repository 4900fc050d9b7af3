//! Upstream's FieldsV1 encoding of a [`FieldSet`]:
//! `{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}`.
//!
//! Each object key is a path element; `{}` marks an owned leaf; a nested object lists
//! what is owned below, with `"."` added when the element itself is owned too.

use serde_json::{Map, Value};

use super::ApplyError;
use super::fieldset::{FieldSet, PathElement};
use super::gojson::{write_go_json, write_go_string};

/// The text of a path element as it appears as a FieldsV1 object key.
pub fn path_element_key(element: &PathElement) -> String {
    let mut out = String::new();
    match element {
        // Field names are written raw, as upstream does.
        PathElement::Field(name) => {
            out.push_str("f:");
            out.push_str(name);
        }
        PathElement::Key(fields) => {
            out.push_str("k:{");
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(name, &mut out);
                out.push(':');
                write_go_json(value, &mut out);
            }
            out.push('}');
        }
        PathElement::Value(value) => {
            out.push_str("v:");
            write_go_json(value, &mut out);
        }
        PathElement::Index(i) => {
            out.push_str("i:");
            out.push_str(&i.to_string());
        }
    }
    out
}

/// Parses a FieldsV1 key. `Ok(None)` for an unknown element type, which upstream skips
/// so that newer encodings do not break older readers.
pub fn parse_path_element_key(key: &str) -> Result<Option<PathElement>, ApplyError> {
    let invalid = |why: &str| ApplyError::InvalidFieldsV1(format!("{why}: {key:?}"));
    let bytes = key.as_bytes();
    if bytes.len() < 2 {
        return Err(invalid("key must be 2 characters long"));
    }
    if bytes[1] != b':' {
        return Err(invalid("missing colon"));
    }
    let rest = &key[2..];
    let element = match bytes[0] {
        b'f' => PathElement::Field(rest.to_string()),
        b'v' => PathElement::Value(
            serde_json::from_str(rest).map_err(|e| invalid(&format!("bad value: {e}")))?,
        ),
        b'k' => {
            let fields: Map<String, Value> =
                serde_json::from_str(rest).map_err(|e| invalid(&format!("bad key: {e}")))?;
            PathElement::key(fields)
        }
        b'i' => PathElement::Index(rest.parse().map_err(|_| invalid("bad index"))?),
        _ => return Ok(None),
    };
    Ok(Some(element))
}

impl FieldSet {
    /// Decodes a FieldsV1 object.
    pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, ApplyError> {
        let (set, _) = decode_level(fields)?;
        Ok(set)
    }

    /// Encodes as a FieldsV1 object (semantically identical to upstream's bytes; key
    /// order follows `serde_json::Map`).
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(encode_level(self, false))
    }

    /// Encodes as FieldsV1 text with upstream's exact key order (`"."` first, then
    /// elements in path-element order).
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::from("{");
        write_level(self, false, &mut out);
        out.push('}');
        out
    }
}

/// Returns the set below this level and whether the level marks itself as owned.
fn decode_level(value: &Value) -> Result<(FieldSet, bool), ApplyError> {
    let Value::Object(map) = value else {
        return Err(ApplyError::InvalidFieldsV1(format!(
            "expected an object, got {value}"
        )));
    };
    let mut set = FieldSet::new();
    let mut self_marked = false;
    for (key, child) in map {
        if key == "." {
            self_marked = true;
            continue;
        }
        let Some(element) = parse_path_element_key(key)? else {
            continue;
        };
        let (below, child_marked) = decode_level(child)?;
        // `{}` (nothing below) means the element itself is owned.
        let member = child_marked || below.is_empty();
        set.insert_node(element, member, below);
    }
    Ok((set, self_marked))
}

fn encode_level(set: &FieldSet, include_self: bool) -> Map<String, Value> {
    let mut map = Map::new();
    if include_self && !set.is_empty() {
        map.insert(".".to_string(), Value::Object(Map::new()));
    }
    for (element, member, below) in set.entries() {
        map.insert(
            path_element_key(element),
            Value::Object(encode_level(below, member)),
        );
    }
    map
}

fn write_level(set: &FieldSet, include_self: bool, out: &mut String) {
    let mut first = true;
    let mut separator = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    if include_self && !set.is_empty() {
        separator(out);
        out.push_str("\".\":{}");
    }
    for (element, member, below) in set.entries() {
        separator(out);
        write_go_string(&path_element_key(element), out);
        out.push_str(":{");
        write_level(below, member, out);
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::fieldset::Path;
    use serde_json::json;

    const UPSTREAM: &str = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}},"f:finalizers":{"v:\"a\\u003cb\"":{}}}}"#;

    #[test]
    fn round_trips_upstream_bytes() {
        let value: Value = serde_json::from_str(UPSTREAM).unwrap();
        let set = FieldSet::from_fields_v1(&value).unwrap();
        assert_eq!(set.to_fields_v1_string(), UPSTREAM);
        assert_eq!(set.to_fields_v1(), value);
        assert!(set.has(&Path::fields(&["metadata", "labels"]).0));
        assert!(!set.has(&Path::fields(&["metadata"]).0));
        let item = Path(vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::key([("name", json!("c"))]),
        ]);
        assert!(set.has(&item.0));
    }

    #[test]
    fn dot_only_object_means_owned() {
        let set = FieldSet::from_fields_v1(&json!({"f:a": {".": {}}})).unwrap();
        assert!(set.has(&Path::fields(&["a"]).0));
        assert_eq!(set.to_fields_v1(), json!({"f:a": {}}));
    }

    #[test]
    fn unknown_element_types_are_skipped_and_bad_keys_rejected() {
        let set = FieldSet::from_fields_v1(&json!({"x:whatever": {}, "f:a": {}})).unwrap();
        assert_eq!(set.paths(), vec![Path::fields(&["a"])]);
        assert!(FieldSet::from_fields_v1(&json!({"fa": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:{nope": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
    }

    #[test]
    fn index_and_value_elements() {
        let text = r#"{"f:args":{"i:0":{},"i:1":{}},"f:set":{"v:1":{},"v:\"x\"":{}}}"#;
        let set = FieldSet::from_fields_v1(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(set.to_fields_v1_string(), text);
    }
}
