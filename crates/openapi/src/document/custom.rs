//! Definitions of custom resources: their CRD's openAPIV3Schema wrapped with the fields every
//! object has, named as upstream names them (reversed group: `com.example.stable.v1.CronTab`).

use serde_json::{Value, json};

use crate::builtin::definitions::{Definitions, LIST_META, OBJECT_META};
use crate::builtin::extensions::{self, API_VERSION_DESCRIPTION, KIND_DESCRIPTION};
use crate::document::paths::KindDefs;

pub(crate) fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Adds `Kind` and `KindList` for a custom resource. Without a schema (or one that is not an
/// object) the kind is described as a free-form object.
pub(crate) fn add(
    defs: &mut Definitions,
    group: &str,
    version: &str,
    kind: &str,
    schema: Option<&Value>,
) -> KindDefs {
    let flavor = defs.flavor;
    defs.add_by_name(OBJECT_META);
    defs.add_by_name(LIST_META);
    let name = definition_name(group, version, kind);
    let list_name = format!("{name}List");
    let mut object = match schema {
        Some(s @ Value::Object(_)) => s.clone(),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    if object.get("type").is_none() {
        object["type"] = json!("object");
    }
    if !object["properties"].is_object() {
        object["properties"] = json!({});
    }
    // The CRD's own description of metadata is dropped: apiextensions only allows name and
    // generateName there, and the real shape is ObjectMeta.
    object["properties"]["apiVersion"] =
        json!({"type": "string", "description": API_VERSION_DESCRIPTION});
    object["properties"]["kind"] = json!({"type": "string", "description": KIND_DESCRIPTION});
    object["properties"]["metadata"] =
        flavor.described_reference(OBJECT_META, Some(extensions::METADATA_DESCRIPTION.into()));
    object["x-kubernetes-group-version-kind"] =
        json!([{"group": group, "kind": kind, "version": version}]);
    defs.schemas.insert(name.clone(), object);
    let list = json!({
        "description": format!("{kind}List is a list of {kind}"),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
            "items": {"type": "array", "items": flavor.reference(&name),
                      "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/api-conventions.md", kind.to_lowercase())},
            "kind": {"type": "string", "description": KIND_DESCRIPTION},
            "metadata": flavor.described_reference(LIST_META, Some(extensions::LIST_METADATA_DESCRIPTION.into()))
        },
        "x-kubernetes-group-version-kind": [{"group": group, "kind": format!("{kind}List"), "version": version}]
    });
    defs.schemas.insert(list_name.clone(), list);
    KindDefs {
        kind: name,
        list: list_name,
    }
}
