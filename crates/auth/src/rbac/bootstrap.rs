//! Upstream's RBAC bootstrap policy (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/
//! bootstrappolicy), transcribed as data: the default ClusterRoles, ClusterRoleBindings and the
//! kube-system / kube-public Roles and RoleBindings every cluster starts with.
//!
//! The per-controller `system:controller:*` roles live in [`controllers`].

mod controllers;

use serde_json::{Value, json};

const RBAC_API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EVENTS: &str = "events.k8s.io";
const EXTENSIONS: &str = "extensions";
const NETWORKING: &str = "networking.k8s.io";
const NODE: &str = "node.k8s.io";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";

/// Upstream's rule builder keeps every list sorted and de-duplicated.
fn sorted(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    items.sort();
    items.dedup();
    items
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": sorted(verbs), "apiGroups": sorted(groups), "resources": sorted(resources)})
}

fn named_rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> Value {
    let mut rule = rule(verbs, groups, resources);
    rule["resourceNames"] = json!(sorted(names));
    rule
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": sorted(verbs), "nonResourceURLs": sorted(urls)})
}

/// Events may be written by every component, through both event APIs.
fn events_rule() -> Value {
    rule(&["create", "update", "patch"], &[CORE, EVENTS], &["events"])
}

/// Metadata shared by every bootstrap object: upstream's label and the autoupdate annotation
/// that lets the server reconcile them on start.
fn metadata(name: &str, namespace: Option<&str>, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    let mut meta = json!({
        "name": name,
        "labels": labels,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    labelled_cluster_role(name, &[], rules)
}

fn labelled_cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<Value>) -> Value {
    json!({"apiVersion": RBAC_API_VERSION, "kind": "ClusterRole", "metadata": metadata(name, None, labels), "rules": rules})
}

/// A ClusterRole built by aggregation, with the aggregated rules already filled in as upstream's
/// controller would write them.
fn aggregated_cluster_role(
    name: &str,
    labels: &[(&str, &str)],
    selects: &str,
    rules: Vec<Value>,
) -> Value {
    let mut role = labelled_cluster_role(name, labels, rules);
    role["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {selects: "true"}}]});
    role
}

fn role(namespace: &str, name: &str, rules: Vec<Value>) -> Value {
    json!({"apiVersion": RBAC_API_VERSION, "kind": "Role", "metadata": metadata(name, Some(namespace), &[]), "rules": rules})
}

/// A binding subject.
enum Subject<'a> {
    User(&'a str),
    Group(&'a str),
    ServiceAccount(&'a str, &'a str),
}

impl Subject<'_> {
    fn to_json(&self) -> Value {
        match self {
            Subject::User(name) => json!({"kind": "User", "apiGroup": RBAC_GROUP, "name": name}),
            Subject::Group(name) => json!({"kind": "Group", "apiGroup": RBAC_GROUP, "name": name}),
            Subject::ServiceAccount(namespace, name) => {
                json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
            }
        }
    }
}

fn subjects(list: &[Subject<'_>]) -> Value {
    Value::Array(list.iter().map(Subject::to_json).collect())
}

/// A ClusterRoleBinding named after the ClusterRole it binds, as upstream names them.
fn cluster_binding(role: &str, to: &[Subject<'_>]) -> Value {
    json!({
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": metadata(role, None, &[]),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects(to),
    })
}

fn role_binding(namespace: &str, name: &str, role: &str, to: &[Subject<'_>]) -> Value {
    json!({
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": metadata(name, Some(namespace), &[]),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role},
        "subjects": subjects(to),
    })
}

fn aggregate_to_view_rules() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[CORE],
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        rule(
            READ,
            &[CORE],
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        // Reading namespaces at namespace scope reveals only that namespace: it tells a user
        // which namespaces they have access to.
        rule(READ, &[CORE], &["namespaces"]),
        rule(READ, &[DISCOVERY], &["endpointslices"]),
        rule(
            READ,
            &[APPS],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        rule(
            READ,
            &[AUTOSCALING],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &[BATCH],
            &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
        ),
        rule(
            READ,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(
            READ,
            &[POLICY],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &[NETWORKING],
            &["networkpolicies", "ingresses", "ingresses/status"],
        ),
    ]
}

fn aggregate_to_edit_rules() -> Vec<Value> {
    vec![
        // Reading these escalates (exec into pods, read credentials), so view lacks them.
        rule(
            READ,
            &[CORE],
            &[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[CORE], &["serviceaccounts"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ],
        ),
        rule(&["create"], &[CORE], &["pods/eviction"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
                "events",
            ],
        ),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &[APPS],
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, &[AUTOSCALING], &["horizontalpodautoscalers"]),
        rule(WRITE, &[BATCH], &["jobs", "cronjobs"]),
        rule(
            WRITE,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(WRITE, &[POLICY], &["poddisruptionbudgets"]),
        rule(WRITE, &[NETWORKING], &["networkpolicies", "ingresses"]),
        rule(READ_WRITE, &[COORDINATION], &["leases"]),
    ]
}

fn aggregate_to_admin_rules() -> Vec<Value> {
    vec![
        rule(
            &["create"],
            &[AUTHORIZATION],
            &["localsubjectaccessreviews"],
        ),
        rule(READ_WRITE, &[RBAC_GROUP], &["roles", "rolebindings"]),
    ]
}

/// Concatenate rule lists without repeats, as the aggregation controller does.
fn union(lists: &[Vec<Value>]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for rule in lists.iter().flatten() {
        if !out.contains(rule) {
            out.push(rule.clone());
        }
    }
    out
}

fn node_rules() -> Vec<Value> {
    vec![
        // Non-mutating reviews the kubelet uses to authenticate and authorize its own API.
        rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
        rule(
            &["create"],
            &[AUTHORIZATION],
            &["subjectaccessreviews", "localsubjectaccessreviews"],
        ),
        rule(READ, &[CORE], &["services"]),
        rule(&["create", "get", "list", "watch"], &[CORE], &["nodes"]),
        rule(&["update", "patch"], &[CORE], &["nodes/status"]),
        rule(&["update", "patch"], &[CORE], &["nodes"]),
        events_rule(),
        rule(READ, &[CORE], &["pods"]),
        // Mirror pods for static pods.
        rule(&["create", "delete"], &[CORE], &["pods"]),
        rule(&["update", "patch"], &[CORE], &["pods/status"]),
        rule(&["create"], &[CORE], &["pods/eviction"]),
        rule(&["get"], &[CORE], &["secrets", "configmaps"]),
        rule(
            &["get"],
            &[CORE],
            &["persistentvolumeclaims", "persistentvolumes"],
        ),
        rule(&["get"], &[CORE], &["endpoints"]),
        rule(&["get"], &[STORAGE], &["volumeattachments"]),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        rule(
            &["update", "patch"],
            &[CORE],
            &["persistentvolumeclaims/status"],
        ),
        rule(
            &["create", "get", "list", "watch"],
            &[CERTIFICATES],
            &["certificatesigningrequests"],
        ),
        rule(
            &["get", "create", "update", "patch", "delete"],
            &[COORDINATION],
            &["leases"],
        ),
        rule(READ, &[STORAGE], &["csidrivers"]),
        rule(
            &["get", "create", "update", "patch", "delete"],
            &[STORAGE],
            &["csinodes"],
        ),
        rule(READ, &[NODE], &["runtimeclasses"]),
    ]
}

fn kube_scheduler_rules() -> Vec<Value> {
    vec![
        events_rule(),
        // Leader election.
        rule(&["create"], &[COORDINATION], &["leases"]),
        named_rule(
            &["get", "update"],
            &[COORDINATION],
            &["leases"],
            &["kube-scheduler"],
        ),
        rule(READ, &[CORE], &["nodes"]),
        rule(&["get", "list", "watch", "delete"], &[CORE], &["pods"]),
        rule(&["create"], &[CORE], &["bindings", "pods/binding"]),
        rule(&["patch", "update"], &[CORE], &["pods/status"]),
        rule(READ, &[CORE], &["replicationcontrollers", "services"]),
        rule(READ, &[APPS, EXTENSIONS], &["replicasets"]),
        rule(READ, &[APPS], &["statefulsets"]),
        rule(READ, &[POLICY], &["poddisruptionbudgets"]),
        rule(
            READ,
            &[CORE],
            &["persistentvolumeclaims", "persistentvolumes"],
        ),
        rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
        rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
        rule(
            READ,
            &[STORAGE],
            &[
                "csinodes",
                "csidrivers",
                "csistoragecapacities",
                "storageclasses",
            ],
        ),
        rule(READ, &[CORE], &["namespaces"]),
    ]
}

fn kube_controller_manager_rules() -> Vec<Value> {
    vec![
        events_rule(),
        // Leader election.
        rule(&["create"], &[COORDINATION], &["leases"]),
        named_rule(
            &["get", "update"],
            &[COORDINATION],
            &["leases"],
            &["kube-controller-manager"],
        ),
        // Bootstrapping the per-controller service accounts and their credentials.
        rule(&["create"], &[CORE], &["secrets", "serviceaccounts"]),
        rule(&["delete"], &[CORE], &["secrets"]),
        rule(
            &["get"],
            &[CORE],
            &["configmaps", "namespaces", "secrets", "serviceaccounts"],
        ),
        rule(&["update"], &[CORE], &["secrets", "serviceaccounts"]),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        // Shared informers watch everything.
        rule(&["list", "watch"], &["*"], &["*"]),
        rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
        rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
    ]
}

fn signer_approver(name: &str, signer: &str) -> Value {
    cluster_role(
        name,
        vec![named_rule(
            &["approve"],
            &[CERTIFICATES],
            &["signers"],
            &[signer],
        )],
    )
}

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
    let view = aggregate_to_view_rules();
    let edit = union(&[aggregate_to_edit_rules(), view.clone()]);
    let admin = union(&[edit.clone(), aggregate_to_admin_rules()]);
    let mut roles = vec![
        // The superuser role.
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])],
        ),
        // Just enough to discover API versions for negotiation.
        cluster_role(
            "system:discovery",
            vec![url_rule(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        cluster_role(
            "system:monitoring",
            vec![url_rule(
                &["get"],
                &[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                ],
            )],
        ),
        // Lets any user learn about themselves.
        cluster_role(
            "system:basic-user",
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(&["create"], &[AUTHENTICATION], &["selfsubjectreviews"]),
            ],
        ),
        // Information safe to show to anyone, even unauthenticated.
        cluster_role(
            "system:public-info-viewer",
            vec![url_rule(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        // The user-facing roles: admin ⊇ edit ⊇ view, each extensible by labelling a ClusterRole.
        aggregated_cluster_role("admin", &[], AGGREGATE_TO_ADMIN, admin),
        labelled_cluster_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            aggregate_to_admin_rules(),
        ),
        aggregated_cluster_role(
            "edit",
            &[(AGGREGATE_TO_ADMIN, "true")],
            AGGREGATE_TO_EDIT,
            edit,
        ),
        labelled_cluster_role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            aggregate_to_edit_rules(),
        ),
        aggregated_cluster_role(
            "view",
            &[(AGGREGATE_TO_EDIT, "true")],
            AGGREGATE_TO_VIEW,
            view,
        ),
        labelled_cluster_role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            aggregate_to_view_rules(),
        ),
        cluster_role(
            "system:heapster",
            vec![
                rule(READ, &[CORE], &["events", "pods", "nodes", "namespaces"]),
                rule(READ, &[EXTENSIONS], &["deployments"]),
            ],
        ),
        cluster_role("system:node", node_rules()),
        cluster_role(
            "system:node-problem-detector",
            vec![
                rule(&["get"], &[CORE], &["nodes"]),
                rule(&["patch"], &[CORE], &["nodes/status"]),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(&["get", "list", "watch"], &[CORE], &["nodes"]),
                rule(&["proxy"], &[CORE], &["nodes"]),
                rule(
                    &["*"],
                    &[CORE],
                    &[
                        "nodes/proxy",
                        "nodes/metrics",
                        "nodes/stats",
                        "nodes/log",
                        "nodes/spec",
                    ],
                ),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"], &[CORE], &["services", "endpoints"]),
                rule(READ, &[CORE], &["nodes"]),
                events_rule(),
                rule(&["list", "watch"], &[DISCOVERY], &["endpointslices"]),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            vec![rule(
                &["create", "get", "list", "watch"],
                &[CERTIFICATES],
                &["certificatesigningrequests"],
            )],
        ),
        // For extension API servers that delegate authentication and authorization.
        cluster_role(
            "system:auth-delegator",
            vec![
                rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
                rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            vec![rule(READ, &[CORE], &["services", "endpoints"])],
        ),
        cluster_role(
            "system:kube-controller-manager",
            kube_controller_manager_rules(),
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule(
                &["list", "watch"],
                &[CORE],
                &["endpoints", "services"],
            )],
        ),
        cluster_role("system:kube-scheduler", kube_scheduler_rules()),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule(
                    &["get", "list", "watch", "update", "patch"],
                    &[CORE],
                    &["persistentvolumes"],
                ),
                rule(READ, &[STORAGE], &["storageclasses"]),
                rule(
                    &["get", "list", "watch", "update", "patch"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule(
                    &["get", "list", "watch", "create", "delete"],
                    &[CORE],
                    &["persistentvolumes"],
                ),
                rule(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
                rule(READ, &[STORAGE], &["storageclasses"]),
                rule(&["watch"], &[CORE], &["events"]),
                events_rule(),
            ],
        ),
        // Lets a kubelet request its client certificate (nodeclient: with a bootstrap token;
        // selfnodeclient: renewing its own).
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![rule(
                &["create"],
                &[CERTIFICATES],
                &["certificatesigningrequests/nodeclient"],
            )],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![rule(
                &["create"],
                &[CERTIFICATES],
                &["certificatesigningrequests/selfnodeclient"],
            )],
        ),
        signer_approver(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "kubernetes.io/kube-apiserver-client",
        ),
        signer_approver(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "kubernetes.io/kube-apiserver-client-kubelet",
        ),
        signer_approver(
            "system:certificates.k8s.io:kubelet-serving-approver",
            "kubernetes.io/kubelet-serving",
        ),
        signer_approver(
            "system:certificates.k8s.io:legacy-unknown-approver",
            "kubernetes.io/legacy-unknown",
        ),
        // OIDC discovery for service-account token verifiers.
        cluster_role(
            "system:service-account-issuer-discovery",
            vec![url_rule(
                &["get"],
                &[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ],
            )],
        ),
    ];
    roles.extend(controllers::roles());
    roles
}

/// The default ClusterRoleBindings, each named after its ClusterRole.
pub fn cluster_role_bindings() -> Vec<Value> {
    use Subject::{Group, ServiceAccount, User};
    let mut bindings = vec![
        cluster_binding("cluster-admin", &[Group("system:masters")]),
        cluster_binding("system:monitoring", &[Group("system:monitoring")]),
        cluster_binding("system:discovery", &[Group("system:authenticated")]),
        cluster_binding("system:basic-user", &[Group("system:authenticated")]),
        cluster_binding(
            "system:public-info-viewer",
            &[
                Group("system:authenticated"),
                Group("system:unauthenticated"),
            ],
        ),
        cluster_binding("system:node-proxier", &[User("system:kube-proxy")]),
        cluster_binding(
            "system:kube-controller-manager",
            &[User("system:kube-controller-manager")],
        ),
        cluster_binding(
            "system:kube-dns",
            &[ServiceAccount("kube-system", "kube-dns")],
        ),
        cluster_binding("system:kube-scheduler", &[User("system:kube-scheduler")]),
        cluster_binding("system:volume-scheduler", &[User("system:kube-scheduler")]),
        // Upstream keeps this binding with no subjects: nodes are authorized by the Node
        // authorizer instead.
        cluster_binding("system:node", &[]),
        cluster_binding(
            "system:service-account-issuer-discovery",
            &[Group("system:serviceaccounts")],
        ),
    ];
    bindings.extend(controllers::bindings());
    bindings
}

/// The default Roles in kube-system and kube-public.
pub fn namespaced_roles() -> Vec<Value> {
    vec![
        // Extension API servers read the client-CA configuration from here.
        role(
            "kube-system",
            "extension-apiserver-authentication-reader",
            vec![named_rule(
                READ,
                &[CORE],
                &["configmaps"],
                &["extension-apiserver-authentication"],
            )],
        ),
        role(
            "kube-system",
            "system::leader-locking-kube-controller-manager",
            vec![
                rule(&["watch"], &[CORE], &["configmaps"]),
                named_rule(
                    &["get", "update"],
                    &[CORE],
                    &["configmaps"],
                    &["kube-controller-manager"],
                ),
            ],
        ),
        role(
            "kube-system",
            "system::leader-locking-kube-scheduler",
            vec![
                rule(&["watch"], &[CORE], &["configmaps"]),
                named_rule(
                    &["get", "update"],
                    &[CORE],
                    &["configmaps"],
                    &["kube-scheduler"],
                ),
            ],
        ),
        role(
            "kube-system",
            "system:controller:bootstrap-signer",
            vec![rule(READ, &[CORE], &["secrets"])],
        ),
        role(
            "kube-system",
            "system:controller:cloud-provider",
            vec![rule(
                &["create", "get", "list", "watch"],
                &[CORE],
                &["configmaps"],
            )],
        ),
        role(
            "kube-system",
            "system:controller:token-cleaner",
            vec![
                rule(&["delete", "get", "list", "watch"], &[CORE], &["secrets"]),
                events_rule(),
            ],
        ),
        // Signs the cluster-info ConfigMap that joining nodes read anonymously.
        role(
            "kube-public",
            "system:controller:bootstrap-signer",
            vec![
                rule(READ, &[CORE], &["configmaps"]),
                named_rule(&["update"], &[CORE], &["configmaps"], &["cluster-info"]),
                events_rule(),
            ],
        ),
    ]
}

/// The default RoleBindings in kube-system and kube-public.
pub fn namespaced_role_bindings() -> Vec<Value> {
    use Subject::{ServiceAccount, User};
    vec![
        role_binding(
            "kube-system",
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            &[
                User("system:kube-controller-manager"),
                User("system:kube-scheduler"),
            ],
        ),
        role_binding(
            "kube-system",
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            &[
                User("system:kube-controller-manager"),
                ServiceAccount("kube-system", "kube-controller-manager"),
            ],
        ),
        role_binding(
            "kube-system",
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            &[
                User("system:kube-scheduler"),
                ServiceAccount("kube-system", "kube-scheduler"),
            ],
        ),
        role_binding(
            "kube-system",
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            &[ServiceAccount("kube-system", "bootstrap-signer")],
        ),
        role_binding(
            "kube-system",
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            &[ServiceAccount("kube-system", "cloud-provider")],
        ),
        role_binding(
            "kube-system",
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            &[ServiceAccount("kube-system", "token-cleaner")],
        ),
        role_binding(
            "kube-public",
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            &[ServiceAccount("kube-system", "bootstrap-signer")],
        ),
    ]
}
