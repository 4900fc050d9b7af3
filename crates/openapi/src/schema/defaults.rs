//! Structural defaulting, as apiextensions' `structuraldefaulting.Default`.

use serde_json::Value;

/// Fills in `default`s of `schema` that are missing from `object` (or null where null is not
/// allowed), then recurses into properties, `additionalProperties` and `items`, so defaults
/// of defaulted objects apply too.
pub fn apply_defaults(schema: &Value, object: &mut Value) {
    match object {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, property) in properties {
                    let Some(default) = property.get("default") else {
                        continue;
                    };
                    let nullable = property
                        .get("nullable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let missing = match map.get(name) {
                        None => true,
                        Some(Value::Null) => !nullable,
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(name.clone(), default.clone());
                    }
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, value) in map.iter_mut() {
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => apply_defaults(property, value),
                    None => {
                        if let Some(additional) = additional {
                            apply_defaults(additional, value);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}
