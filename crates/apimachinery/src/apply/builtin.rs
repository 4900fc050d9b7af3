//! List and map merge types of the built-in kinds, transcribed from the
//! `+listType` / `+listMapKey` / `+mapType` / `+structType` markers of k8s.io/api.
//! Anything not listed is an atomic list or a plain struct, as upstream's OpenAPI
//! defaults.

use serde_json::json;

use super::listmeta::{
    GroupKind, ListMapKey, ListMeta, ListType, MapType, object_meta_list_type, object_meta_map_type,
};

/// Schema knowledge for built-in kinds.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinListMeta;

/// Where a PodSpec lives inside each workload kind.
fn pod_spec_prefix(gk: GroupKind<'_>) -> Option<&'static [&'static str]> {
    match (gk.group, gk.kind) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// Kinds whose `status.conditions` is a list-map keyed by `type`. (Job's is atomic.)
fn has_keyed_conditions(gk: GroupKind<'_>) -> bool {
    matches!(
        (gk.group, gk.kind),
        (
            "",
            "Pod"
                | "Node"
                | "Namespace"
                | "Service"
                | "PersistentVolumeClaim"
                | "ReplicationController"
                | "ComponentStatus"
        ) | (
            "apps",
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        ) | ("autoscaling", "HorizontalPodAutoscaler")
            | ("policy", "PodDisruptionBudget")
            | ("certificates.k8s.io", "CertificateSigningRequest")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
            | ("networking.k8s.io", "ServiceCIDR")
            | (
                "admissionregistration.k8s.io",
                "ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy"
            )
    )
}

/// Splits off the part of `path` below a metadata object (the object's own, a pod
/// template's, or a CronJob's job template's).
fn object_meta_suffix<'p>(gk: GroupKind<'_>, path: &'p [&'p str]) -> Option<&'p [&'p str]> {
    if let ["metadata", rest @ ..] = path {
        return Some(rest);
    }
    if let Some(prefix) = pod_spec_prefix(gk) {
        let template = &prefix[..prefix.len() - 1];
        if path.len() > template.len()
            && path[..template.len()] == *template
            && let ["metadata", rest @ ..] = &path[template.len()..]
        {
            return Some(rest);
        }
    }
    if gk.group == "batch"
        && gk.kind == "CronJob"
        && let ["spec", "jobTemplate", "metadata", rest @ ..] = path
    {
        return Some(rest);
    }
    None
}

fn pod_spec_suffix<'p>(gk: GroupKind<'_>, path: &'p [&'p str]) -> Option<&'p [&'p str]> {
    let prefix = pod_spec_prefix(gk)?;
    path.strip_prefix(prefix)
}

fn port_keys(port_field: &str) -> ListType {
    // Protocol has an OpenAPI default of TCP, so items that omit it still key as TCP.
    ListType::Map(vec![
        ListMapKey::new(port_field),
        ListMapKey::with_default("protocol", json!("TCP")),
    ])
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn pod_spec_list_type(path: &[&str]) -> ListType {
    match path {
        [c] if CONTAINER_LISTS.contains(c) => ListType::map_by(&["name"]),
        ["volumes"]
        | ["imagePullSecrets"]
        | ["schedulingGates"]
        | ["resourceClaims"]
        | ["evictionResponders"] => ListType::map_by(&["name"]),
        ["hostAliases"] => ListType::map_by(&["ip"]),
        ["topologySpreadConstraints"] => ListType::map_by(&["topologyKey", "whenUnsatisfiable"]),
        [c, rest @ ..] if CONTAINER_LISTS.contains(c) => match rest {
            ["ports"] => port_keys("containerPort"),
            ["env"] => ListType::map_by(&["name"]),
            ["volumeMounts"] => ListType::map_by(&["mountPath"]),
            ["volumeDevices"] => ListType::map_by(&["devicePath"]),
            ["resources", "claims"] => ListType::map_by(&["name"]),
            ["volumeMounts", "bindMountOptions"] => ListType::Set,
            _ => ListType::Atomic,
        },
        _ => ListType::Atomic,
    }
}

fn pod_spec_map_type(path: &[&str]) -> MapType {
    match path {
        ["nodeSelector"] => MapType::Atomic,
        ["overhead"] => MapType::Granular,
        // LocalObjectReference and NodeSelector are atomic structs.
        ["imagePullSecrets"] => MapType::Atomic,
        [
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
        ] => MapType::Atomic,
        ["topologySpreadConstraints", "labelSelector"] => MapType::Atomic,
        ["volumes", .., "secretRef"] => MapType::Atomic,
        [c, rest @ ..] if CONTAINER_LISTS.contains(c) => match rest {
            ["resources", "limits" | "requests"] => MapType::Granular,
            [
                "env",
                "valueFrom",
                "secretKeyRef" | "configMapKeyRef" | "fieldRef" | "resourceFieldRef" | "fileKeyRef",
            ] => MapType::Atomic,
            _ => MapType::Struct,
        },
        _ => MapType::Struct,
    }
}

fn kind_list_type(gk: GroupKind<'_>, path: &[&str]) -> ListType {
    if path == ["status", "conditions"] && has_keyed_conditions(gk) {
        return ListType::map_by(&["type"]);
    }
    match (gk.group, gk.kind, path) {
        ("", "Service", ["spec", "ports"]) => port_keys("port"),
        ("", "Pod", ["status", "podIPs"]) => ListType::map_by(&["ip"]),
        ("", "Pod", ["status", "resourceClaimStatuses"]) => ListType::map_by(&["name"]),
        ("", "Node", ["status", "addresses"]) => ListType::map_by(&["type"]),
        ("", "Node", ["spec", "podCIDRs"]) => ListType::Set,
        ("", "ServiceAccount", ["secrets"]) => ListType::map_by(&["name"]),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
            ["webhooks"],
        ) => ListType::map_by(&["name"]),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
            ["webhooks", "matchConditions"],
        ) => ListType::map_by(&["name"]),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy",
            ["spec", "matchConditions" | "variables"],
        ) => ListType::map_by(&["name"]),
        ("storage.k8s.io", "CSINode", ["spec", "drivers"]) => ListType::map_by(&["name"]),
        ("storage.k8s.io", "CSIDriver", ["spec", "volumeLifecycleModes"]) => ListType::Set,
        ("batch", "Job", ["status", "uncountedTerminatedPods", "succeeded" | "failed"]) => {
            ListType::Set
        }
        _ => ListType::Atomic,
    }
}

fn kind_map_type(gk: GroupKind<'_>, path: &[&str]) -> MapType {
    match (gk.group, gk.kind, path) {
        ("", "ConfigMap" | "Secret", ["data" | "binaryData" | "stringData"]) => MapType::Granular,
        ("", "Service", ["spec", "selector"]) => MapType::Atomic,
        ("", "ReplicationController", ["spec", "selector"]) => MapType::Atomic,
        ("", "ServiceAccount", ["secrets"]) => MapType::Atomic,
        ("", "Node", ["status", "capacity" | "allocatable"]) => MapType::Granular,
        ("", "PersistentVolume", ["spec", "capacity"]) => MapType::Granular,
        ("", "PersistentVolume", ["spec", "nodeAffinity", "required"]) => MapType::Atomic,
        ("", "PersistentVolumeClaim", ["spec", "resources", "limits" | "requests"]) => {
            MapType::Granular
        }
        ("", "PersistentVolumeClaim", ["status", "capacity" | "allocatedResources"]) => {
            MapType::Granular
        }
        ("", "PersistentVolumeClaim", ["spec", "selector" | "dataSource"]) => MapType::Atomic,
        ("", "ResourceQuota", ["spec" | "status", "hard" | "used"]) => MapType::Granular,
        // LabelSelector is an atomic struct wherever workloads use it.
        (
            "apps",
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet",
            ["spec", "selector"],
        )
        | ("batch", "Job", ["spec", "selector"])
        | ("batch", "CronJob", ["spec", "jobTemplate", "spec", "selector"])
        | ("policy", "PodDisruptionBudget", ["spec", "selector"])
        | ("networking.k8s.io", "NetworkPolicy", ["spec", "podSelector"]) => MapType::Atomic,
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding", ["roleRef"]) => {
            MapType::Atomic
        }
        ("autoscaling", "HorizontalPodAutoscaler", ["spec", "scaleTargetRef"]) => MapType::Atomic,
        _ => MapType::Struct,
    }
}

impl ListMeta for BuiltinListMeta {
    fn always_serialized(&self, gk: GroupKind<'_>, path: &[&str]) -> bool {
        if let Some(rest) = pod_spec_suffix(gk, path) {
            return rest == ["containers"];
        }
        matches!(
            (gk.group, gk.kind, path),
            (
                "rbac.authorization.k8s.io",
                "Role" | "ClusterRole",
                ["rules"]
            )
        )
    }

    fn list_type(&self, gk: GroupKind<'_>, path: &[&str]) -> ListType {
        if let Some(rest) = object_meta_suffix(gk, path) {
            return object_meta_list_type(rest);
        }
        if let Some(rest) = pod_spec_suffix(gk, path) {
            return pod_spec_list_type(rest);
        }
        kind_list_type(gk, path)
    }

    fn map_type(&self, gk: GroupKind<'_>, path: &[&str]) -> MapType {
        if let Some(rest) = object_meta_suffix(gk, path) {
            return object_meta_map_type(rest);
        }
        if let Some(rest) = pod_spec_suffix(gk, path) {
            return pod_spec_map_type(rest);
        }
        kind_map_type(gk, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: GroupKind<'static> = GroupKind {
        group: "apps",
        kind: "Deployment",
    };
    const SVC: GroupKind<'static> = GroupKind {
        group: "",
        kind: "Service",
    };

    #[test]
    fn pod_template_lists() {
        let m = BuiltinListMeta;
        let spec = ["spec", "template", "spec"];
        let at = |rest: &[&'static str]| -> Vec<&'static str> {
            spec.iter().chain(rest.iter()).copied().collect()
        };
        assert_eq!(
            m.list_type(DEPLOY, &at(&["containers"])),
            ListType::map_by(&["name"])
        );
        assert_eq!(
            m.list_type(DEPLOY, &at(&["containers", "ports"])),
            port_keys("containerPort")
        );
        assert_eq!(
            m.list_type(DEPLOY, &at(&["initContainers", "volumeMounts"])),
            ListType::map_by(&["mountPath"])
        );
        assert_eq!(m.list_type(DEPLOY, &at(&["tolerations"])), ListType::Atomic);
        assert_eq!(
            m.list_type(DEPLOY, &at(&["containers", "command"])),
            ListType::Atomic
        );
        assert_eq!(
            m.list_type(DEPLOY, &["spec", "template", "metadata", "finalizers"]),
            ListType::Set
        );
        assert_eq!(
            m.map_type(DEPLOY, &["spec", "template", "metadata", "labels"]),
            MapType::Granular
        );
        assert_eq!(m.map_type(DEPLOY, &["spec", "selector"]), MapType::Atomic);
        assert_eq!(
            m.list_type(DEPLOY, &["status", "conditions"]),
            ListType::map_by(&["type"])
        );
    }

    #[test]
    fn service_and_metadata() {
        let m = BuiltinListMeta;
        assert_eq!(m.list_type(SVC, &["spec", "ports"]), port_keys("port"));
        assert_eq!(m.map_type(SVC, &["spec", "selector"]), MapType::Atomic);
        assert_eq!(
            m.list_type(SVC, &["metadata", "ownerReferences"]),
            ListType::map_by(&["uid"])
        );
        let job = GroupKind {
            group: "batch",
            kind: "Job",
        };
        assert_eq!(
            m.list_type(job, &["status", "conditions"]),
            ListType::Atomic
        );
        let unknown = GroupKind {
            group: "example.com",
            kind: "Widget",
        };
        assert_eq!(m.list_type(unknown, &["spec", "things"]), ListType::Atomic);
    }
}
