//! The built-in resources, as upstream's discovery documents list them for the groups we serve.
//!
//! The table is data on purpose: discovery, OpenAPI, RBAC defaults and the server's routing all
//! derive from it, so adding a resource is one line here.

use super::{GroupVersionKind, ResourceInfo, STANDARD_VERBS, Scope, SubresourceInfo};

/// Which verbs a resource answers.
#[derive(Clone, Copy)]
enum Verbs {
    /// Every verb of a stored resource.
    Standard,
    /// Stored, but without `deletecollection` (namespaces, as upstream).
    NoCollectionDelete,
    /// A virtual resource that only accepts `create` and stores nothing (reviews, bindings).
    CreateOnly,
}

/// One subresource: its name, and the group/version/kind it speaks (`None` = the parent's kind).
type Sub = (
    &'static str,
    Option<(&'static str, &'static str, &'static str)>,
    &'static [&'static str],
);

struct Entry {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    scope: Scope,
    verbs: Verbs,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Sub],
}

const NS: Scope = Scope::Namespaced;
const CLUSTER: Scope = Scope::Cluster;
const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const STATUS: Sub = ("status", None, GET_PATCH_UPDATE);
const SCALE: Sub = (
    "scale",
    Some(("autoscaling", "v1", "Scale")),
    GET_PATCH_UPDATE,
);

const fn entry(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    scope: Scope,
) -> Entry {
    Entry {
        group,
        version,
        plural,
        kind,
        scope,
        verbs: Verbs::Standard,
        short_names: NONE,
        categories: NONE,
        subresources: &[],
    }
}

impl Entry {
    const fn short(mut self, names: &'static [&'static str]) -> Self {
        self.short_names = names;
        self
    }
    const fn categories(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }
    const fn subresources(mut self, subresources: &'static [Sub]) -> Self {
        self.subresources = subresources;
        self
    }
    const fn verbs(mut self, verbs: Verbs) -> Self {
        self.verbs = verbs;
        self
    }
}

const POD_SUBRESOURCES: &[Sub] = &[
    (
        "attach",
        Some(("", "v1", "PodAttachOptions")),
        &["create", "get"],
    ),
    ("binding", Some(("", "v1", "Binding")), &["create"]),
    ("eviction", Some(("policy", "v1", "Eviction")), &["create"]),
    (
        "exec",
        Some(("", "v1", "PodExecOptions")),
        &["create", "get"],
    ),
    ("log", None, &["get"]),
    (
        "portforward",
        Some(("", "v1", "PodPortForwardOptions")),
        &["create", "get"],
    ),
    (
        "proxy",
        Some(("", "v1", "PodProxyOptions")),
        &["create", "delete", "get", "patch", "update"],
    ),
    STATUS,
];

/// Groups in upstream's discovery order; within a group the preferred version comes first.
const TABLE: &[Entry] = &[
    // core/v1
    entry("", "v1", "bindings", "Binding", NS).verbs(Verbs::CreateOnly),
    entry("", "v1", "configmaps", "ConfigMap", NS).short(&["cm"]),
    entry("", "v1", "endpoints", "Endpoints", NS).short(&["ep"]),
    entry("", "v1", "events", "Event", NS).short(&["ev"]),
    entry("", "v1", "limitranges", "LimitRange", NS).short(&["limits"]),
    entry("", "v1", "namespaces", "Namespace", CLUSTER)
        .short(&["ns"])
        .verbs(Verbs::NoCollectionDelete)
        .subresources(&[("finalize", None, &["update"]), STATUS]),
    entry("", "v1", "nodes", "Node", CLUSTER)
        .short(&["no"])
        .subresources(&[
            (
                "proxy",
                Some(("", "v1", "NodeProxyOptions")),
                &["create", "delete", "get", "patch", "update"],
            ),
            STATUS,
        ]),
    entry(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        NS,
    )
    .short(&["pvc"])
    .subresources(&[STATUS]),
    entry("", "v1", "persistentvolumes", "PersistentVolume", CLUSTER)
        .short(&["pv"])
        .subresources(&[STATUS]),
    entry("", "v1", "pods", "Pod", NS)
        .short(&["po"])
        .categories(ALL)
        .subresources(POD_SUBRESOURCES),
    entry("", "v1", "podtemplates", "PodTemplate", NS),
    entry(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        NS,
    )
    .short(&["rc"])
    .categories(ALL)
    .subresources(&[SCALE, STATUS]),
    entry("", "v1", "resourcequotas", "ResourceQuota", NS)
        .short(&["quota"])
        .subresources(&[STATUS]),
    entry("", "v1", "secrets", "Secret", NS),
    entry("", "v1", "serviceaccounts", "ServiceAccount", NS)
        .short(&["sa"])
        .subresources(&[(
            "token",
            Some(("authentication.k8s.io", "v1", "TokenRequest")),
            &["create"],
        )]),
    entry("", "v1", "services", "Service", NS)
        .short(&["svc"])
        .categories(ALL)
        .subresources(&[
            (
                "proxy",
                Some(("", "v1", "ServiceProxyOptions")),
                &["create", "delete", "get", "patch", "update"],
            ),
            STATUS,
        ]),
    // apps/v1
    entry(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        NS,
    ),
    entry("apps", "v1", "daemonsets", "DaemonSet", NS)
        .short(&["ds"])
        .categories(ALL)
        .subresources(&[STATUS]),
    entry("apps", "v1", "deployments", "Deployment", NS)
        .short(&["deploy"])
        .categories(ALL)
        .subresources(&[SCALE, STATUS]),
    entry("apps", "v1", "replicasets", "ReplicaSet", NS)
        .short(&["rs"])
        .categories(ALL)
        .subresources(&[SCALE, STATUS]),
    entry("apps", "v1", "statefulsets", "StatefulSet", NS)
        .short(&["sts"])
        .categories(ALL)
        .subresources(&[SCALE, STATUS]),
    // events.k8s.io/v1
    entry("events.k8s.io", "v1", "events", "Event", NS).short(&["ev"]),
    // authentication.k8s.io/v1
    entry(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        CLUSTER,
    )
    .verbs(Verbs::CreateOnly),
    entry(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "TokenReview",
        CLUSTER,
    )
    .verbs(Verbs::CreateOnly),
    // authorization.k8s.io/v1
    entry(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        NS,
    )
    .verbs(Verbs::CreateOnly),
    entry(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        CLUSTER,
    )
    .verbs(Verbs::CreateOnly),
    entry(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        CLUSTER,
    )
    .verbs(Verbs::CreateOnly),
    entry(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        CLUSTER,
    )
    .verbs(Verbs::CreateOnly),
    // autoscaling: v2 is preferred upstream.
    entry(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        NS,
    )
    .short(&["hpa"])
    .categories(ALL)
    .subresources(&[STATUS]),
    entry(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        NS,
    )
    .short(&["hpa"])
    .categories(ALL)
    .subresources(&[STATUS]),
    // batch/v1
    entry("batch", "v1", "cronjobs", "CronJob", NS)
        .short(&["cj"])
        .categories(ALL)
        .subresources(&[STATUS]),
    entry("batch", "v1", "jobs", "Job", NS)
        .categories(ALL)
        .subresources(&[STATUS]),
    // certificates.k8s.io/v1
    entry(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        CLUSTER,
    )
    .short(&["csr"])
    .subresources(&[("approval", None, GET_PATCH_UPDATE), STATUS]),
    // networking.k8s.io/v1
    entry(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        CLUSTER,
    ),
    entry("networking.k8s.io", "v1", "ingresses", "Ingress", NS)
        .short(&["ing"])
        .subresources(&[STATUS]),
    entry(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        NS,
    )
    .short(&["netpol"]),
    // policy/v1
    entry(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        NS,
    )
    .short(&["pdb"])
    .subresources(&[STATUS]),
    // rbac.authorization.k8s.io/v1
    entry(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        CLUSTER,
    ),
    entry(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        CLUSTER,
    ),
    entry(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        NS,
    ),
    entry("rbac.authorization.k8s.io", "v1", "roles", "Role", NS),
    // storage.k8s.io/v1
    entry("storage.k8s.io", "v1", "csidrivers", "CSIDriver", CLUSTER),
    entry("storage.k8s.io", "v1", "csinodes", "CSINode", CLUSTER),
    entry(
        "storage.k8s.io",
        "v1",
        "csistoragecapacities",
        "CSIStorageCapacity",
        NS,
    ),
    entry(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        CLUSTER,
    )
    .short(&["sc"]),
    entry(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        CLUSTER,
    )
    .subresources(&[STATUS]),
    // apiextensions.k8s.io/v1
    entry(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        CLUSTER,
    )
    .short(&["crd", "crds"])
    .categories(&["api-extensions"])
    .subresources(&[STATUS]),
    // scheduling.k8s.io/v1
    entry(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        CLUSTER,
    )
    .short(&["pc"]),
    // coordination.k8s.io/v1
    entry("coordination.k8s.io", "v1", "leases", "Lease", NS),
    // discovery.k8s.io/v1
    entry(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        NS,
    ),
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Entry {
    fn resource_info(&self) -> ResourceInfo {
        let (verbs, stored) = match self.verbs {
            Verbs::Standard => (strings(STANDARD_VERBS), true),
            Verbs::NoCollectionDelete => (
                STANDARD_VERBS
                    .iter()
                    .filter(|v| **v != "deletecollection")
                    .map(|v| v.to_string())
                    .collect(),
                true,
            ),
            Verbs::CreateOnly => (vec!["create".to_string()], false),
        };
        let own_kind = GroupVersionKind::new(self.group, self.version, self.kind);
        ResourceInfo {
            group: self.group.into(),
            version: self.version.into(),
            plural: self.plural.into(),
            singular: self.kind.to_ascii_lowercase(),
            kind: self.kind.into(),
            scope: self.scope,
            verbs,
            short_names: strings(self.short_names),
            categories: strings(self.categories),
            subresources: self
                .subresources
                .iter()
                .map(|(name, kind, verbs)| SubresourceInfo {
                    name: (*name).into(),
                    kind: kind.map_or_else(
                        || own_kind.clone(),
                        |(g, v, k)| GroupVersionKind::new(g, v, k),
                    ),
                    verbs: strings(verbs),
                })
                .collect(),
            stored,
        }
    }
}

pub(super) fn resources() -> Vec<ResourceInfo> {
    TABLE.iter().map(Entry::resource_info).collect()
}
