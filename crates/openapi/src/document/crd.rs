//! apiextensions.k8s.io/v1 CustomResourceDefinition, written by hand: keelson-proto has no
//! apiextensions messages. `openAPIV3Schema` (JSONSchemaProps) is recursive and arbitrary, so
//! it is described as a free-form object rather than expanded.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::builtin::definitions::{Flavor, LIST_META, OBJECT_META};
use crate::builtin::extensions::{self, API_VERSION_DESCRIPTION, KIND_DESCRIPTION};

const PREFIX: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";

pub(crate) fn definitions(flavor: Flavor) -> BTreeMap<String, Value> {
    let r = |name: &str| flavor.reference(&format!("{PREFIX}{name}"));
    let string = json!({"type": "string"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let boolean = json!({"type": "boolean"});
    let gvk =
        |kind: &str| json!([{"group": "apiextensions.k8s.io", "kind": kind, "version": "v1"}]);
    let mut defs = BTreeMap::new();
    let mut add = |name: &str, schema: Value| {
        defs.insert(format!("{PREFIX}{name}"), schema);
    };
    add(
        "CustomResourceDefinition",
        json!({
            "description": extensions::kind_description("apiextensions.k8s.io", "CustomResourceDefinition"),
            "type": "object",
            "required": ["spec"],
            "properties": {
                "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
                "kind": {"type": "string", "description": KIND_DESCRIPTION},
                "metadata": flavor.described_reference(OBJECT_META, extensions::field_description("CustomResourceDefinition", "metadata")),
                "spec": r("CustomResourceDefinitionSpec"),
                "status": r("CustomResourceDefinitionStatus")
            },
            "x-kubernetes-group-version-kind": gvk("CustomResourceDefinition")
        }),
    );
    add(
        "CustomResourceDefinitionList",
        json!({
            "description": "CustomResourceDefinitionList is a list of CustomResourceDefinition objects.",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
                "kind": {"type": "string", "description": KIND_DESCRIPTION},
                "metadata": flavor.reference(LIST_META),
                "items": {"type": "array", "items": r("CustomResourceDefinition")}
            },
            "x-kubernetes-group-version-kind": gvk("CustomResourceDefinitionList")
        }),
    );
    add(
        "CustomResourceDefinitionSpec",
        json!({
            "description": "CustomResourceDefinitionSpec describes how a user wants their resource to appear",
            "type": "object",
            "required": ["group", "names", "scope", "versions"],
            "properties": {
                "conversion": r("CustomResourceConversion"),
                "group": string,
                "names": r("CustomResourceDefinitionNames"),
                "preserveUnknownFields": boolean,
                "scope": string,
                "versions": {"type": "array", "items": r("CustomResourceDefinitionVersion"), "x-kubernetes-list-type": "atomic"}
            }
        }),
    );
    add(
        "CustomResourceDefinitionNames",
        json!({
            "type": "object",
            "required": ["plural", "kind"],
            "properties": {
                "categories": strings, "kind": string, "listKind": string, "plural": string,
                "shortNames": strings, "singular": string
            }
        }),
    );
    add(
        "CustomResourceConversion",
        json!({
            "type": "object",
            "required": ["strategy"],
            "properties": {
                "strategy": string,
                "webhook": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        }),
    );
    add(
        "CustomResourceDefinitionVersion",
        json!({
            "type": "object",
            "required": ["name", "served", "storage"],
            "properties": {
                "additionalPrinterColumns": {"type": "array", "items": r("CustomResourceColumnDefinition"), "x-kubernetes-list-type": "atomic"},
                "deprecated": boolean,
                "deprecationWarning": string,
                "name": string,
                "schema": r("CustomResourceValidation"),
                "selectableFields": {"type": "array", "items": {"type": "object", "required": ["jsonPath"], "properties": {"jsonPath": string}}},
                "served": boolean,
                "storage": boolean,
                "subresources": r("CustomResourceSubresources")
            }
        }),
    );
    add(
        "CustomResourceColumnDefinition",
        json!({
            "type": "object",
            "required": ["name", "type", "jsonPath"],
            "properties": {
                "description": string, "format": string, "jsonPath": string, "name": string,
                "priority": {"type": "integer", "format": "int32"}, "type": string
            }
        }),
    );
    add(
        "CustomResourceValidation",
        json!({
            "type": "object",
            "properties": {"openAPIV3Schema": r("JSONSchemaProps")}
        }),
    );
    add(
        "JSONSchemaProps",
        json!({
            "description": "JSONSchemaProps is a JSON-Schema following Specification Draft 4 (http://json-schema.org/).",
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true
        }),
    );
    add(
        "CustomResourceSubresources",
        json!({
            "type": "object",
            "properties": {
                "scale": {"type": "object", "required": ["specReplicasPath", "statusReplicasPath"],
                          "properties": {"labelSelectorPath": string, "specReplicasPath": string, "statusReplicasPath": string}},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        }),
    );
    add(
        "CustomResourceDefinitionStatus",
        json!({
            "type": "object",
            "properties": {
                "acceptedNames": r("CustomResourceDefinitionNames"),
                "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                               "x-kubernetes-list-map-keys": ["type"], "x-kubernetes-list-type": "map"},
                "storedVersions": strings
            }
        }),
    );
    defs
}
