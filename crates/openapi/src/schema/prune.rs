//! Structural pruning, as apiextensions' `structuralpruning.PruneWithOptions` with unknown
//! field path tracking (what `fieldValidation=Strict|Warn` reports for custom resources).

use serde_json::Value;

use super::path;

/// Fields every object has; kept at the root and in `x-kubernetes-embedded-resource`s.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes from `object` every field `schema` does not specify and returns their paths
/// (`spec.foo`, `spec.items[0].bar`), sorted. Subtrees under
/// `x-kubernetes-preserve-unknown-fields: true` keep unknown fields; known fields inside are
/// still pruned. The root, like embedded resources, keeps apiVersion, kind and metadata.
pub fn prune(schema: &Value, object: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    walk(Some(schema), object, "", true, &mut pruned);
    pruned.sort();
    pruned
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// `schema` None means "nothing is specified here": every key of an object is pruned.
fn walk(
    schema: Option<&Value>,
    value: &mut Value,
    at: &str,
    embedded: bool,
    pruned: &mut Vec<String>,
) {
    let preserve = schema.is_some_and(|s| is_true(s, "x-kubernetes-preserve-unknown-fields"));
    match value {
        Value::Object(map) => {
            let properties = schema
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object);
            let additional = schema.and_then(|s| s.get("additionalProperties"));
            let mut remove = Vec::new();
            for (key, child) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let child_path = path::key(at, key);
                if let Some(property) = properties.and_then(|p| p.get(key)) {
                    walk(
                        Some(property),
                        child,
                        &child_path,
                        is_true(property, "x-kubernetes-embedded-resource"),
                        pruned,
                    );
                    continue;
                }
                match additional {
                    Some(a @ Value::Object(_)) => walk(
                        Some(a),
                        child,
                        &child_path,
                        is_true(a, "x-kubernetes-embedded-resource"),
                        pruned,
                    ),
                    // `additionalProperties: true` allows anything below.
                    Some(Value::Bool(true)) => {}
                    _ if preserve => {}
                    _ => remove.push(key.clone()),
                }
            }
            for key in remove {
                map.remove(&key);
                pruned.push(path::key(at, &key));
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            if item_schema.is_none() && preserve {
                return;
            }
            let embedded =
                item_schema.is_some_and(|s| is_true(s, "x-kubernetes-embedded-resource"));
            for (i, item) in items.iter_mut().enumerate() {
                walk(item_schema, item, &path::index(at, i), embedded, pruned);
            }
        }
        _ => {}
    }
}
