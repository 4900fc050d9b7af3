//! OpenAPI schemas of built-in kinds, generated from keelson-proto's field table.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::extensions::{self, API_VERSION_DESCRIPTION, KIND_DESCRIPTION};
use super::table::{self, Card, Field, KINDS, Scalar, Special, Ty};

/// Which document the schemas go into; decides where `$ref`s point and a few upstream
/// differences between the v2 and v3 forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    V2,
    V3,
}

impl Flavor {
    pub(crate) fn reference(self, name: &str) -> Value {
        let prefix = match self {
            Flavor::V2 => "#/definitions/",
            Flavor::V3 => "#/components/schemas/",
        };
        json!({"$ref": format!("{prefix}{name}")})
    }

    /// A reference with a description next to it. OpenAPI 3.0 ignores siblings of `$ref`, so
    /// v3 wraps the reference in `allOf` like upstream does.
    pub(crate) fn described_reference(self, name: &str, description: Option<String>) -> Value {
        let Some(description) = description else {
            return self.reference(name);
        };
        match self {
            Flavor::V2 => {
                let mut r = self.reference(name);
                r["description"] = Value::String(description);
                r
            }
            Flavor::V3 => json!({"allOf": [self.reference(name)], "description": description}),
        }
    }
}

pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

/// A set of named schemas (v2 `definitions`, v3 `components.schemas`).
pub(crate) struct Definitions {
    pub(crate) flavor: Flavor,
    pub(crate) schemas: BTreeMap<String, Value>,
}

impl Definitions {
    pub(crate) fn new(flavor: Flavor) -> Self {
        Self {
            flavor,
            schemas: BTreeMap::new(),
        }
    }

    /// Adds a built-in kind and everything it references; returns its definition name, or
    /// None when the proto table does not know the kind.
    pub(crate) fn add_builtin_kind(
        &mut self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Option<String> {
        if let Some(name) = self.add_handwritten(group, version, kind) {
            return Some(name);
        }
        table::lookup_kind(group, version, kind).map(|index| self.add_message(index))
    }

    /// Adds a message by its definition name (e.g. ObjectMeta), or a hand-written one.
    pub(crate) fn add_by_name(&mut self, name: &str) {
        if self.schemas.contains_key(name) {
            return;
        }
        if let Some(schema) = handwritten_meta(self.flavor, name) {
            self.schemas.insert(name.to_string(), schema);
            if name == STATUS || name == WATCH_EVENT {
                self.add_by_name(LIST_META);
                self.add_by_name("io.k8s.apimachinery.pkg.runtime.RawExtension");
            }
            return;
        }
        if let Some(index) = (0..table::MESSAGES.len())
            .filter_map(|i| u16::try_from(i).ok())
            .find(|i| table::definition_name(*i) == name)
        {
            self.add_message(index);
        }
    }

    fn add_handwritten(&mut self, group: &str, version: &str, kind: &str) -> Option<String> {
        if (group, version) != ("apiextensions.k8s.io", "v1") {
            return None;
        }
        let defs = crate::document::crd::definitions(self.flavor);
        let name = format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.{kind}");
        defs.get(&name)?;
        self.schemas.extend(defs);
        self.add_by_name(OBJECT_META);
        self.add_by_name(LIST_META);
        Some(name)
    }

    fn add_message(&mut self, index: u16) -> String {
        let name = table::definition_name(index);
        if self.schemas.contains_key(&name) {
            return name;
        }
        // Placeholder first: a message may (indirectly) contain itself.
        self.schemas.insert(name.clone(), Value::Null);
        let schema = self.message_schema(index);
        self.schemas.insert(name.clone(), schema);
        name
    }

    fn message_schema(&mut self, index: u16) -> Value {
        let msg = table::message(index);
        match msg.special {
            Special::Time | Special::MicroTime => json!({
                "type": "string", "format": "date-time",
                "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON. Wrappers are provided for many of the factory methods that the time package offers."}),
            Special::Quantity => {
                let mut q = match self.flavor {
                    Flavor::V2 => json!({"type": "string"}),
                    Flavor::V3 => json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
                };
                q["description"] = json!(
                    "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors."
                );
                q["x-kubernetes-int-or-string"] = json!(true);
                q
            }
            Special::IntOrString => {
                let mut s = match self.flavor {
                    Flavor::V2 => json!({"type": "string"}),
                    Flavor::V3 => json!({"oneOf": [{"type": "integer"}, {"type": "string"}]}),
                };
                s["format"] = json!("int-or-string");
                s["x-kubernetes-int-or-string"] = json!(true);
                s["description"] = json!(
                    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number."
                );
                s
            }
            Special::RawJson => json!({"type": "object"}),
            Special::NamedSlice => match msg.fields.first() {
                Some(f) => json!({"type": "array", "items": self.value_schema(f.ty)}),
                None => json!({"type": "array"}),
            },
            Special::None => self.object_schema(index),
        }
    }

    fn object_schema(&mut self, index: u16) -> Value {
        let msg = table::message(index);
        let gvks: Vec<Value> = KINDS
            .iter()
            .filter(|(_, _, i)| *i == index)
            .map(|(api_version, kind, _)| {
                let (group, version) = table::split_api_version(api_version);
                json!({"group": group, "kind": kind, "version": version})
            })
            .collect();
        let kind = msg.name.rsplit('.').next().unwrap_or_default();
        let mut properties = Map::new();
        if !gvks.is_empty() {
            properties.insert(
                "apiVersion".into(),
                json!({"type": "string", "description": API_VERSION_DESCRIPTION}),
            );
            properties.insert(
                "kind".into(),
                json!({"type": "string", "description": KIND_DESCRIPTION}),
            );
        }
        let mut required = Vec::new();
        for field in table::json_fields(index) {
            let owner = owner_of(index, field);
            let description = extensions::common_field_description(owner, field.json)
                .map(str::to_string)
                .or_else(|| {
                    if gvks.is_empty() {
                        None
                    } else {
                        extensions::field_description(kind, field.json)
                    }
                });
            let mut property = self.field_schema(field, description);
            extensions::add_list_extensions(owner, field.json, &mut property);
            properties.insert(field.json.to_string(), property);
            if is_required(msg.name, field.json) {
                required.push(field.json);
            }
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if let Some(first) = gvks.first() {
            let group = first["group"].as_str().unwrap_or_default();
            schema["description"] = json!(extensions::kind_description(group, kind));
            schema["x-kubernetes-group-version-kind"] = Value::Array(gvks);
        }
        schema
    }

    fn field_schema(&mut self, field: &Field, description: Option<String>) -> Value {
        if let (Ty::Message(i), Card::Single) = (field.ty, field.card) {
            let name = self.add_message(i);
            return self.flavor.described_reference(&name, description);
        }
        let item = self.value_schema(field.ty);
        let mut schema = match field.card {
            Card::Single => item,
            Card::Repeated => json!({"type": "array", "items": item}),
            Card::Map(_) => json!({"type": "object", "additionalProperties": item}),
        };
        if let Some(description) = description {
            schema["description"] = Value::String(description);
        }
        schema
    }

    fn value_schema(&mut self, ty: Ty) -> Value {
        match ty {
            Ty::Scalar(Scalar::String) => json!({"type": "string"}),
            Ty::Scalar(Scalar::Bool) => json!({"type": "boolean"}),
            Ty::Scalar(Scalar::Int32) => json!({"type": "integer", "format": "int32"}),
            Ty::Scalar(Scalar::Int64) => json!({"type": "integer", "format": "int64"}),
            Ty::Scalar(Scalar::Bytes) => json!({"type": "string", "format": "byte"}),
            Ty::Message(i) => {
                let name = self.add_message(i);
                self.flavor.reference(&name)
            }
        }
    }
}

/// The message that declares `field` (an inline struct's own name for promoted fields), for
/// looking up list metadata.
fn owner_of(index: u16, field: &Field) -> &'static str {
    fn find(index: u16, field: &Field) -> Option<&'static str> {
        let msg = table::message(index);
        for f in msg.fields {
            if std::ptr::eq(f, field) {
                return Some(msg.name);
            }
            if let (true, Ty::Message(inner)) = (f.inline, f.ty)
                && let Some(owner) = find(inner, field)
            {
                return Some(owner);
            }
        }
        None
    }
    find(index, field).unwrap_or(table::message(index).name)
}

/// Upstream's `required` lists (from `+required` markers) for the fields people write most;
/// kubectl's client-side validation and explain's "-required-" marker read them. The proto
/// table has no such information, hence the hand-kept list.
fn is_required(message: &str, field: &str) -> bool {
    let Some(short) = message.strip_prefix("k8s.io.") else {
        return false;
    };
    matches!(
        (short, field),
        (
            "api.core.v1.Container" | "api.core.v1.EphemeralContainerCommon",
            "name"
        ) | ("api.core.v1.Volume", "name")
            | ("api.core.v1.ContainerPort", "containerPort")
            | ("api.core.v1.EnvVar", "name")
            | ("api.core.v1.VolumeMount", "name" | "mountPath")
            | ("api.core.v1.ServicePort", "port")
            | ("api.core.v1.PodSpec", "containers")
            | (
                "api.core.v1.ConfigMapKeySelector" | "api.core.v1.SecretKeySelector",
                "key"
            )
            | ("api.core.v1.ObjectFieldSelector", "fieldPath")
            | ("api.core.v1.ResourceFieldSelector", "resource")
            | (
                "api.core.v1.HTTPGetAction" | "api.core.v1.TCPSocketAction",
                "port"
            )
            | ("api.core.v1.KeyToPath", "key" | "path")
            | (
                "api.apps.v1.DeploymentSpec"
                    | "api.apps.v1.DaemonSetSpec"
                    | "api.apps.v1.StatefulSetSpec",
                "selector" | "template"
            )
            | ("api.apps.v1.ReplicaSetSpec", "selector")
            | ("api.batch.v1.JobSpec", "template")
            | ("api.batch.v1.CronJobSpec", "schedule" | "jobTemplate")
            | ("api.rbac.v1.PolicyRule", "verbs")
            | (
                "api.rbac.v1.RoleBinding" | "api.rbac.v1.ClusterRoleBinding",
                "roleRef"
            )
            | ("api.rbac.v1.RoleRef", "apiGroup" | "kind" | "name")
            | ("api.rbac.v1.Subject", "kind" | "name")
            | ("api.networking.v1.HTTPIngressPath", "pathType" | "backend")
            | ("api.networking.v1.HTTPIngressRuleValue", "paths")
            | (
                "apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
                "key" | "operator"
            )
            | (
                "apimachinery.pkg.apis.meta.v1.OwnerReference",
                "apiVersion" | "kind" | "name" | "uid"
            )
    )
}

/// apimachinery types that have no protobuf message in the table (Status, Patch, WatchEvent)
/// or none at all.
fn handwritten_meta(flavor: Flavor, name: &str) -> Option<Value> {
    Some(match name {
        STATUS => json!({
            "description": "Status is a return value for calls that don't return other objects.",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
                "kind": {"type": "string", "description": KIND_DESCRIPTION},
                "code": {"type": "integer", "format": "int32", "description": "Suggested HTTP return code for this status, 0 if not set."},
                "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "description": "Extended data associated with the reason."},
                "message": {"type": "string", "description": "A human-readable description of the status of this operation."},
                "metadata": flavor.described_reference(LIST_META, Some(extensions::LIST_METADATA_DESCRIPTION.into())),
                "reason": {"type": "string", "description": "A machine-readable description of why this operation is in the \"Failure\" status."},
                "status": {"type": "string", "description": "Status of the operation. One of: \"Success\" or \"Failure\"."}
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}]
        }),
        PATCH => json!({
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object"
        }),
        WATCH_EVENT => json!({
            "description": "Event represents a single event to a watched resource.",
            "type": "object",
            "required": ["type", "object"],
            "properties": {
                "object": flavor.described_reference("io.k8s.apimachinery.pkg.runtime.RawExtension",
                    Some("Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is recommended; other types may make sense\n   depending on context.".into())),
                "type": {"type": "string"}
            }
        }),
        _ => return None,
    })
}
