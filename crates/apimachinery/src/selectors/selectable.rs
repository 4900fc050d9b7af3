//! The fields each kind lets field selectors use, and their values, as upstream's
//! registries compute them (`ToSelectableFields` / `GetAttrs` of each kind). Values of
//! non-string fields are rendered like Go's `strconv` (`"true"`, `"3"`), with the Go
//! zero value when the field is absent.

use serde_json::Value;

use super::SelectorError;

fn string_at(object: &Value, pointer: &str) -> Option<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn bool_at(object: &Value, pointer: &str) -> Option<String> {
    let value = object
        .pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(value.to_string())
}

fn int_at(object: &Value, pointer: &str) -> Option<String> {
    let value = object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    Some(value.to_string())
}

fn pod_field(pod: &Value, field: &str) -> Option<Option<String>> {
    Some(match field {
        "spec.nodeName" => string_at(pod, "/spec/nodeName"),
        "spec.restartPolicy" => string_at(pod, "/spec/restartPolicy"),
        "spec.schedulerName" => string_at(pod, "/spec/schedulerName"),
        "spec.serviceAccountName" => string_at(pod, "/spec/serviceAccountName"),
        "spec.hostNetwork" => bool_at(pod, "/spec/hostNetwork"),
        "status.phase" => string_at(pod, "/status/phase"),
        // Upstream reads the first of podIPs; v1 objects may only carry podIP.
        "status.podIP" => {
            string_at(pod, "/status/podIPs/0/ip").or_else(|| string_at(pod, "/status/podIP"))
        }
        "status.nominatedNodeName" => string_at(pod, "/status/nominatedNodeName"),
        _ => return None,
    })
}

/// Field names of `events.k8s.io` Events and where core's names live in them.
struct EventShape {
    involved: &'static str,
    reporting: &'static str,
    source: &'static str,
}

const CORE_EVENT: EventShape = EventShape {
    involved: "involvedObject",
    reporting: "reportingComponent",
    source: "/source/component",
};

const EVENTS_V1_EVENT: EventShape = EventShape {
    involved: "regarding",
    reporting: "reportingController",
    source: "/deprecatedSource/component",
};

fn event_field(
    event: &Value,
    field: &str,
    shape: &EventShape,
    events_v1: bool,
) -> Option<Option<String>> {
    // events.k8s.io accepts its own names too (upstream converts them to core's).
    let field = match field {
        "reportingController" if events_v1 => "reportingComponent",
        other => other,
    };
    let involved_field = field
        .strip_prefix("involvedObject.")
        .or_else(|| field.strip_prefix("regarding.").filter(|_| events_v1));
    if let Some(sub) = involved_field {
        return match sub {
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion"
            | "fieldPath" => Some(string_at(event, &format!("/{}/{sub}", shape.involved))),
            _ => None,
        };
    }
    let reporting = || string_at(event, &format!("/{}", shape.reporting));
    Some(match field {
        "reason" => string_at(event, "/reason"),
        "type" => string_at(event, "/type"),
        "reportingComponent" => reporting(),
        "source" => string_at(event, shape.source)
            .filter(|s| !s.is_empty())
            .or_else(reporting),
        _ => return None,
    })
}

fn kind_field(group: &str, kind: &str, object: &Value, field: &str) -> Option<Option<String>> {
    match (group, kind) {
        ("", "Pod") => pod_field(object, field),
        ("", "Event") => event_field(object, field, &CORE_EVENT, false),
        ("events.k8s.io", "Event") => event_field(object, field, &EVENTS_V1_EVENT, true),
        ("", "Secret") if field == "type" => Some(string_at(object, "/type")),
        ("", "Node") if field == "spec.unschedulable" => {
            Some(bool_at(object, "/spec/unschedulable"))
        }
        ("", "Namespace") if field == "status.phase" => Some(string_at(object, "/status/phase")),
        ("apps", "ReplicaSet") | ("", "ReplicationController") if field == "status.replicas" => {
            Some(int_at(object, "/status/replicas"))
        }
        // Upstream's label is "successful" but the field is status.succeeded.
        ("batch", "Job") if field == "status.successful" => {
            Some(int_at(object, "/status/succeeded"))
        }
        ("certificates.k8s.io", "CertificateSigningRequest") if field == "spec.signerName" => {
            Some(string_at(object, "/spec/signerName"))
        }
        ("", "Service") => match field {
            "spec.clusterIP" => Some(string_at(object, "/spec/clusterIP")),
            "spec.type" => Some(string_at(object, "/spec/type")),
            _ => None,
        },
        _ => None,
    }
}

/// The value of a field-selector field of an object of `group`/`kind` (wire JSON).
/// `Ok(None)` means the object lacks the field, which selectors compare as `""`.
/// Fields the kind does not support fail with upstream's
/// `field label not supported: <field>` (a 400 for list/watch requests).
pub fn field_value(
    group: &str,
    kind: &str,
    object: &Value,
    field: &str,
) -> Result<Option<String>, SelectorError> {
    match field {
        "metadata.name" => return Ok(string_at(object, "/metadata/name")),
        "metadata.namespace" => return Ok(string_at(object, "/metadata/namespace")),
        _ => {}
    }
    kind_field(group, kind, object, field)
        .ok_or_else(|| SelectorError::UnsupportedField(field.to_string()))
}
