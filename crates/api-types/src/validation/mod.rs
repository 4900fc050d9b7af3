//! Validation of built-in kinds, close to upstream for the fields people use. Each problem is
//! one [`FieldError`], which the API server reports as a `StatusCause` of a 422 Invalid.

mod names;
mod pods;
mod workloads;

pub use names::{is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name};

use serde_json::Value;

use crate::GroupVersionKind;

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path such as `spec.containers[0].image`.
    pub field: String,
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// Upstream-style text: `Required value`, `Invalid value: "x": ...`.
    pub message: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueRequired",
            message: "Required value".into(),
        }
    }

    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {}: {detail}", render(value)),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            field: field.into(),
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {}: supported values: {list}",
                render(value)
            ),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {}", render(value)),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueForbidden",
            message: format!("Forbidden: {detail}"),
        }
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// How a kind's `metadata.name` is checked.
fn name_rule(group: &str, kind: &str) -> fn(&str) -> Vec<String> {
    match (group, kind) {
        ("", "Namespace") => names::dns1123_label_errors,
        ("", "Service") => names::dns1035_label_errors,
        ("rbac.authorization.k8s.io", _) => names::path_segment_errors,
        _ => names::dns1123_subdomain_errors,
    }
}

/// Validate an object of a built-in kind. `old` is the stored object on updates.
pub fn validate(gvk: &GroupVersionKind, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let meta = &obj["metadata"];
    if let Some(name) = meta["name"].as_str() {
        for detail in name_rule(&gvk.group, &gvk.kind)(name) {
            errors.push(FieldError::invalid("metadata.name", &meta["name"], &detail));
        }
    }
    names::validate_labels(&meta["labels"], "metadata.labels", &mut errors);
    names::validate_annotations(&meta["annotations"], &mut errors);
    if let Some(old) = old {
        for field in ["name", "namespace", "uid"] {
            if old["metadata"][field] != obj["metadata"][field] && !old["metadata"][field].is_null()
            {
                errors.push(FieldError::invalid(
                    format!("metadata.{field}"),
                    &obj["metadata"][field],
                    "field is immutable",
                ));
            }
        }
    }
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => pods::validate_pod_spec(&obj["spec"], "spec", &mut errors),
        ("", "PodTemplate") => {
            workloads::validate_template(&obj["template"], None, "template", &mut errors)
        }
        ("", "ConfigMap") => workloads::validate_config_data(obj, &mut errors),
        ("", "Secret") => workloads::validate_config_data(obj, &mut errors),
        ("", "Service") => workloads::validate_service(obj, &mut errors),
        ("", "ReplicationController") => {
            workloads::validate_replication_controller(obj, &mut errors)
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workloads::validate_workload(&gvk.kind, obj, old, &mut errors)
        }
        ("batch", "Job") => workloads::validate_job(&obj["spec"], "spec", &mut errors),
        ("batch", "CronJob") => workloads::validate_cronjob(obj, &mut errors),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            workloads::validate_crd(obj, old, &mut errors)
        }
        _ => {}
    }
    errors
}
