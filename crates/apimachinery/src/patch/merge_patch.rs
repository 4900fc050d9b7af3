//! RFC 7386 JSON merge patch.

use serde_json::Value;

/// Merges `patch` into `target` in place: objects merge key by key, `null` removes a
/// key, anything else replaces.
fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_into(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies an RFC 7386 merge patch to `doc`.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let mut result = doc.clone();
    merge_into(&mut result, patch);
    result
}
