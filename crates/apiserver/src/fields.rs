//! Which fields of each kind field selectors may use; their values are computed once when an
//! object enters the cache.

use serde_json::Value;

/// Fields selectable on every kind.
const COMMON: &[&str] = &["metadata.name", "metadata.namespace"];

fn kind_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("batch", "Job") => &["status.successful"],
        ("apps", "ReplicaSet") | ("", "ReplicationController") => &["status.replicas"],
        ("certificates.k8s.io", "CertificateSigningRequest") => &["spec.signerName"],
        _ => &[],
    }
}

/// Whether `field` may be used in a field selector on `kind`.
pub fn is_selectable(group: &str, kind: &str, field: &str) -> bool {
    COMMON.contains(&field) || kind_fields(group, kind).contains(&field)
}

/// The selectable field values of an object (given in wire JSON with apiVersion and kind).
pub fn selectable_fields(obj: &Value) -> Vec<(String, String)> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    COMMON
        .iter()
        .chain(kind_fields(group, kind))
        .filter_map(|field| {
            keelson_apimachinery::selectors::field_value(group, kind, obj, field)
                .ok()
                .flatten()
                .map(|v| (field.to_string(), v))
        })
        .collect()
}
