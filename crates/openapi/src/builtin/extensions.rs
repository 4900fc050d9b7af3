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
    let container = matches!(
        message,
        "api.core.v1.Container"
            | "api.core.v1.EphemeralContainerCommon"
            | "api.core.v1.EphemeralContainer"
    );
    Some(match (message, field) {
        ("api.core.v1.PodSpec", "containers" | "initContainers" | "ephemeralContainers") => {
            merge("name")
        }
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
    let short = proto_message
        .strip_prefix("k8s.io.")
        .unwrap_or(proto_message);
    if let (Some(Value::Object(ext)), Some(prop)) =
        (list_extensions(short, field), property.as_object_mut())
    {
        prop.extend(ext);
    }
}

/// A one-line description of a top-level kind, upstream's wording where we have it.
pub(crate) fn kind_description(group: &str, kind: &str) -> String {
    let known = match (group, kind) {
        ("", "Pod") => {
            "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts."
        }
        ("", "Service") => {
            "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy."
        }
        ("", "ConfigMap") => "ConfigMap holds configuration data for pods to consume.",
        ("", "Secret") => {
            "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes."
        }
        ("", "Namespace") => {
            "Namespace provides a scope for Names. Use of multiple namespaces is optional."
        }
        ("", "Node") => {
            "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd)."
        }
        ("", "ServiceAccount") => {
            "ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets"
        }
        ("", "Event") | ("events.k8s.io", "Event") => {
            "Event is a report of an event somewhere in the cluster."
        }
        ("", "PersistentVolume") => {
            "PersistentVolume (PV) is a storage resource provisioned by an administrator. It is analogous to a node."
        }
        ("", "PersistentVolumeClaim") => {
            "PersistentVolumeClaim is a user's request for and claim to a persistent volume"
        }
        ("", "ReplicationController") => {
            "ReplicationController represents the configuration of a replication controller."
        }
        ("apps", "Deployment") => {
            "Deployment enables declarative updates for Pods and ReplicaSets."
        }
        ("apps", "ReplicaSet") => {
            "ReplicaSet ensures that a specified number of pod replicas are running at any given time."
        }
        ("apps", "StatefulSet") => {
            "StatefulSet represents a set of pods with consistent identities."
        }
        ("apps", "DaemonSet") => "DaemonSet represents the configuration of a daemon set.",
        ("batch", "Job") => "Job represents the configuration of a single job.",
        ("batch", "CronJob") => "CronJob represents the configuration of a single cron job.",
        ("networking.k8s.io", "Ingress") => {
            "Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend. An Ingress can be configured to give services externally-reachable urls, load balance traffic, terminate SSL, offer name based virtual hosting etc."
        }
        ("rbac.authorization.k8s.io", "Role") => {
            "Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding."
        }
        ("rbac.authorization.k8s.io", "ClusterRole") => {
            "ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding."
        }
        ("coordination.k8s.io", "Lease") => "Lease defines a lease concept.",
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            "CustomResourceDefinition represents a resource that should be exposed on the API server.  Its name MUST be in the format <.spec.name>.<.spec.group>."
        }
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match kind.strip_suffix("List") {
        Some(item) if !item.is_empty() => format!("{kind} is a list of {item} objects."),
        _ => format!(
            "{kind} is a {} resource.",
            if group.is_empty() { "core" } else { group }
        ),
    }
}

pub(crate) const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
pub(crate) const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
pub(crate) const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub(crate) const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Descriptions of the fields people explain most, upstream's wording. Keyed by the message
/// name without the `k8s.io.` prefix.
pub(crate) fn common_field_description(message: &str, field: &str) -> Option<&'static str> {
    let short = message.strip_prefix("k8s.io.").unwrap_or(message);
    let container = matches!(
        short,
        "api.core.v1.Container" | "api.core.v1.EphemeralContainerCommon"
    );
    Some(match (short, field) {
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "name") => {
            "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
        }
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "namespace") => {
            "Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the \"default\" namespace, but \"default\" is the canonical representation. Not all objects are required to be scoped to a namespace - the value of this field for those objects will be empty."
        }
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels") => {
            "Map of string keys and values that can be used to organize and categorize (scope and select) objects. May match selectors of replication controllers and services. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels"
        }
        ("apimachinery.pkg.apis.meta.v1.ObjectMeta", "annotations") => {
            "Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata. They are not queryable and should be preserved when modifying objects. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations"
        }
        ("api.apps.v1.DeploymentSpec", "replicas") => {
            "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1."
        }
        ("api.apps.v1.DeploymentSpec", "selector") => {
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels."
        }
        ("api.apps.v1.DeploymentSpec", "template") => {
            "Template describes the pods that will be created. The only allowed template.spec.restartPolicy value is \"Always\"."
        }
        ("api.apps.v1.DeploymentSpec", "strategy") => {
            "The deployment strategy to use to replace existing pods with new ones."
        }
        ("api.core.v1.PodSpec", "containers") => {
            "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated."
        }
        ("api.core.v1.PodSpec", "initContainers") => {
            "List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started."
        }
        ("api.core.v1.PodSpec", "volumes") => {
            "List of volumes that can be mounted by containers belonging to the pod. More info: https://kubernetes.io/docs/concepts/storage/volumes"
        }
        ("api.core.v1.PodSpec", "nodeSelector") => {
            "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"
        }
        ("api.core.v1.PodSpec", "restartPolicy") => {
            "Restart policy for all containers within the pod. One of Always, OnFailure, Never. In some contexts, only a subset of those values may be permitted. Default to Always. More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy"
        }
        ("api.core.v1.PodSpec", "serviceAccountName") => {
            "ServiceAccountName is the name of the ServiceAccount to use to run this pod. More info: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/"
        }
        (_, "name") if container => {
            "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated."
        }
        (_, "image") if container => {
            "Container image name. More info: https://kubernetes.io/docs/concepts/containers/images This field is optional to allow higher level config management to default or override container images in workload controllers like Deployments and StatefulSets."
        }
        (_, "command") if container => {
            "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided."
        }
        (_, "args") if container => {
            "Arguments to the entrypoint. The container image's CMD is used if this is not provided."
        }
        (_, "env") if container => {
            "List of environment variables to set in the container. Cannot be updated."
        }
        (_, "ports") if container => {
            "List of ports to expose from the container. Not specifying a port here DOES NOT prevent that port from being exposed."
        }
        (_, "resources") if container => {
            "Compute Resources required by this container. Cannot be updated. More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
        }
        (_, "imagePullPolicy") if container => {
            "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be updated. More info: https://kubernetes.io/docs/concepts/containers/images#updating-images"
        }
        ("api.core.v1.ServiceSpec", "ports") => {
            "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
        }
        ("api.core.v1.ServiceSpec", "selector") => {
            "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify."
        }
        ("api.core.v1.ServiceSpec", "type") => {
            "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."
        }
        ("api.core.v1.ConfigMap", "data") => {
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."
        }
        ("api.core.v1.Secret", "data") => {
            "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here."
        }
        ("api.core.v1.Secret", "stringData") => {
            "stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values. The stringData field is never output when reading from the API."
        }
        _ => return None,
    })
}

/// Descriptions of the conventional top-level fields.
pub(crate) fn field_description(kind: &str, field: &str) -> Option<String> {
    Some(match field {
        "metadata" if kind.ends_with("List") => LIST_METADATA_DESCRIPTION.into(),
        "metadata" => METADATA_DESCRIPTION.into(),
        "spec" => format!(
            "Spec defines the desired behavior of the {kind}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status"
        ),
        "status" => format!(
            "Status is the most recently observed status of the {kind}. Populated by the system. Read-only. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status"
        ),
        "items" if kind.ends_with("List") => {
            format!("Items is the list of {}.", kind.trim_end_matches("List"))
        }
        _ => return None,
    })
}
