//! What the proto table cannot say: list merge metadata (`x-kubernetes-patch-*`,
//! `x-kubernetes-list-*`, read by kubectl apply/diff) and one-line descriptions of the common
//! kinds (printed by kubectl explain). Values follow upstream's generated OpenAPI.

use serde_json::{Value, json};

/// (message name without the `k8s.io.` prefix, JSON field, extensions).
fn list_extensions(message: &str, field: &str) -> Option<Value> {
    let merge = |key: &str| json!({"x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge"});
    let map = |key: &str, keys: &[&str]| {
        json!({"x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge",
               "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys})
    };
    let container = matches!(message, "api.core.v1.Container" | "api.core.v1.EphemeralContainerCommon"
        | "api.core.v1.EphemeralContainer");
    Some(match (message, field) {
        ("api.core.v1.PodSpec", "containers" | "initContainers" | "ephemeralContainers") => merge("name"),
        ("api.core.v1.PodSpec", "volumes") => {
            json!({"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"})
        }
        ("api.core.v1.PodSpec", "imagePullSecrets") => merge("name"),
        ("api.core.v1.PodSpec", "hostAliases") => map("ip", &["ip"]),
        (_, "ports") if container => map("containerPort", &["containerPort", "protocol"]),
        (_, "env") if container => merge("name"),
        (_, "volumeMounts") if container => merge("mountPath"),
        (_, "volumeDevices") if container => merge("devicePath"),
        ("api.core.v1.ServiceSpec", "ports") => map("port", &["port", "protocol"]),
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences") => map("uid", &["uid"]),
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers") => {
            json!({"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"})
        }
        ("api.core.v1.NodeStatus", "addresses") => map("type", &["type"]),
        ("api.batch.v1.JobStatus", "conditions") => {
            json!({"x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge",
                   "x-kubernetes-list-type": "atomic"})
        }
        (m, "conditions") if m.ends_with("Status") => map("type", &["type"]),
        _ => return None,
    })
}

/// Merges the list extensions of `message.field` (if any) into a property schema.
pub(crate) fn add_list_extensions(proto_message: &str, field: &str, property: &mut Value) {
    let short = proto_message.strip_prefix("k8s.io.").unwrap_or(proto_message);
    if let (Some(Value::Object(ext)), Some(prop)) = (list_extensions(short, field), property.as_object_mut()) {
        prop.extend(ext);
    }
}

/// A one-line description of a top-level kind, upstream's wording where we have it.
pub(crate) fn kind_description(group: &str, kind: &str) -> String {
    let known = match (group, kind) {
        ("", "Pod") => "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
        ("", "Service") => "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
        ("", "ConfigMap") => "ConfigMap holds configuration data for pods to consume.",
        ("", "Secret") => "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
        ("", "Namespace") => "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
        ("", "Node") => "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).",
        ("", "ServiceAccount") => "ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets",
        ("", "Event") | ("events.k8s.io", "Event") => "Event is a report of an event somewhere in the cluster.",
        ("", "PersistentVolume") => "PersistentVolume (PV) is a storage resource provisioned by an administrator. It is analogous to a node.",
        ("", "PersistentVolumeClaim") => "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
        ("", "ReplicationController") => "ReplicationController represents the configuration of a replication controller.",
        ("apps", "Deployment") => "Deployment enables declarative updates for Pods and ReplicaSets.",
        ("apps", "ReplicaSet") => "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
        ("apps", "StatefulSet") => "StatefulSet represents a set of pods with consistent identities.",
        ("apps", "DaemonSet") => "DaemonSet represents the configuration of a daemon set.",
        ("batch", "Job") => "Job represents the configuration of a single job.",
        ("batch", "CronJob") => "CronJob represents the configuration of a single cron job.",
        ("networking.k8s.io", "Ingress") => "Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend. An Ingress can be configured to give services externally-reachable urls, load balance traffic, terminate SSL, offer name based virtual hosting etc.",
        ("rbac.authorization.k8s.io", "Role") => "Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.",
        ("rbac.authorization.k8s.io", "ClusterRole") => "ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.",
        ("coordination.k8s.io", "Lease") => "Lease defines a lease concept.",
        ("apiextensions.k8s.io", "CustomResourceDefinition") => "CustomResourceDefinition represents a resource that should be exposed on the API server.  Its name MUST be in the format <.spec.name>.<.spec.group>.",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match kind.strip_suffix("List") {
        Some(item) if !item.is_empty() => format!("{kind} is a list of {item} objects."),
        _ => format!("{kind} is a {} resource.", if group.is_empty() { "core" } else { group }),
    }
}

pub(crate) const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
pub(crate) const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
pub(crate) const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub(crate) const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Descriptions of the conventional top-level fields.
pub(crate) fn field_description(kind: &str, field: &str) -> Option<String> {
    Some(match field {
        "metadata" if kind.ends_with("List") => LIST_METADATA_DESCRIPTION.into(),
        "metadata" => METADATA_DESCRIPTION.into(),
        "spec" => format!("Spec defines the desired behavior of the {kind}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status"),
        "status" => format!("Status is the most recently observed status of the {kind}. Populated by the system. Read-only. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status"),
        "items" if kind.ends_with("List") => format!("Items is the list of {}.", kind.trim_end_matches("List")),
        _ => return None,
    })
}
