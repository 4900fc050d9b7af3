//! Unknown-field detection for built-in kinds (what upstream's strict JSON decoding reports
//! for `fieldValidation=Strict|Warn`), walking the proto table alongside the object.

use serde_json::Value;

use super::table::{self, Card, Special, Ty};

/// The paths of fields in `object` that its kind does not have, in upstream's format
/// (`spec.template.spec.containers[0].bogus`). Free-form maps (labels, annotations, data),
/// embedded raw objects (RawExtension, FieldsV1) and kinds without a table entry are not
/// looked into.
pub fn unknown_fields(group: &str, version: &str, kind: &str, object: &Value) -> Vec<String> {
    let Some(index) = table::lookup_kind(group, version, kind) else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    walk_message(index, object, "", true, &mut unknown);
    unknown
}

fn walk_message(index: u16, value: &Value, path: &str, top_level: bool, out: &mut Vec<String>) {
    let msg = table::message(index);
    if msg.special != Special::None {
        return;
    }
    let Value::Object(object) = value else {
        return;
    };
    let fields = table::json_fields(index);
    for (key, child) in object {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        // TypeMeta of the top-level object is not part of the proto message.
        if top_level && (key == "apiVersion" || key == "kind") {
            continue;
        }
        let Some(field) = fields.iter().find(|f| f.json == key) else {
            out.push(child_path);
            continue;
        };
        let Ty::Message(inner) = field.ty else {
            continue;
        };
        match (field.card, child) {
            (Card::Single, _) => walk_message(inner, child, &child_path, false, out),
            (Card::Repeated, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    walk_message(inner, item, &format!("{child_path}[{i}]"), false, out);
                }
            }
            (Card::Map(_), Value::Object(entries)) => {
                for (k, v) in entries {
                    walk_message(inner, v, &format!("{child_path}.{k}"), false, out);
                }
            }
            _ => {}
        }
    }
}
