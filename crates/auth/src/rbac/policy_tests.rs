//! The bootstrap policy evaluated end to end by the authorizer.

use serde_json::json;

use super::tests::{attrs, crb, rb, user, user_subject};
use super::*;

/// The authorizer built from the bootstrap policy, as the server builds it on first start.
fn bootstrap_authorizer() -> Authorizer {
    Authorizer::new(
        &bootstrap::namespaced_roles(),
        &bootstrap::cluster_roles(),
        &bootstrap::namespaced_role_bindings(),
        &bootstrap::cluster_role_bindings(),
    )
}

#[test]
fn bootstrap_view_edit_admin() {
    let roles = bootstrap::cluster_roles();
    let rbs = [
        rb("dev", "v", "ClusterRole", "view", user_subject("viewer")),
        rb("dev", "e", "ClusterRole", "edit", user_subject("editor")),
        rb("dev", "a", "ClusterRole", "admin", user_subject("admin")),
    ];
    let authorizer = Authorizer::new(&[], &roles, &rbs, &bootstrap::cluster_role_bindings());
    let can = |who: &str, verb, group, resource, sub| {
        authorizer
            .authorize_resource(
                &user(who, &["system:authenticated"]),
                &attrs(verb, group, resource, sub, "", "dev"),
            )
            .allowed
    };
    assert!(can("viewer", "list", "", "pods", ""));
    assert!(can("viewer", "get", "apps", "deployments", ""));
    assert!(!can("viewer", "get", "", "secrets", ""));
    assert!(!can("viewer", "create", "", "pods", ""));
    assert!(can("editor", "get", "", "secrets", ""));
    assert!(can("editor", "create", "apps", "deployments", ""));
    assert!(can("editor", "create", "", "pods", "exec"));
    assert!(!can(
        "editor",
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings",
        ""
    ));
    assert!(can(
        "admin",
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings",
        ""
    ));
    assert!(can("admin", "delete", "", "secrets", ""));
    assert!(can("admin", "list", "", "pods", ""));
    // None of them reaches outside the namespace.
    assert!(
        !authorizer
            .authorize_resource(
                &user("admin", &[]),
                &attrs("list", "", "pods", "", "", "prod")
            )
            .allowed
    );
}

#[test]
fn bootstrap_aggregation_works_without_materialised_rules() {
    // Strip the filled-in rules from admin/edit/view: aggregation alone must rebuild them.
    let roles: Vec<Value> = bootstrap::cluster_roles()
        .into_iter()
        .map(|mut r| {
            if r.get("aggregationRule").is_some() {
                r["rules"] = json!([]);
            }
            r
        })
        .collect();
    let rbs = [rb(
        "dev",
        "a",
        "ClusterRole",
        "admin",
        user_subject("admin"),
    )];
    let authorizer = Authorizer::new(&[], &roles, &rbs, &[]);
    let admin = user("admin", &[]);
    assert!(
        authorizer
            .authorize_resource(
                &admin,
                &attrs(
                    "create",
                    "rbac.authorization.k8s.io",
                    "rolebindings",
                    "",
                    "",
                    "dev"
                )
            )
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(&admin, &attrs("update", "", "secrets", "", "s", "dev"))
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(&admin, &attrs("watch", "", "configmaps", "", "", "dev"))
            .allowed
    );
}

#[test]
fn bootstrap_authenticated_discovery() {
    let authorizer = bootstrap_authorizer();
    let someone = user("someone", &["system:authenticated"]);
    for path in [
        "/version",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/healthz",
        "/openapi/v3",
    ] {
        assert!(
            authorizer
                .authorize_non_resource(&someone, "get", path)
                .allowed,
            "{path}"
        );
    }
    assert!(
        !authorizer
            .authorize_non_resource(&someone, "get", "/metrics")
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(
                &someone,
                &attrs(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "",
                    "",
                    ""
                )
            )
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&someone, &attrs("list", "", "pods", "", "", "default"))
            .allowed
    );
    let anonymous = user("system:anonymous", &["system:unauthenticated"]);
    assert!(
        authorizer
            .authorize_non_resource(&anonymous, "get", "/version")
            .allowed
    );
    assert!(
        authorizer
            .authorize_non_resource(&anonymous, "get", "/healthz")
            .allowed
    );
    assert!(
        !authorizer
            .authorize_non_resource(&anonymous, "get", "/api")
            .allowed
    );
}

#[test]
fn bootstrap_cluster_admin_reason() {
    let authorizer = bootstrap_authorizer();
    // Without the superuser short-circuit (no system:masters), a cluster-admin binding to the user.
    let crbs = [crb("root", "cluster-admin", user_subject("root"))];
    let authorizer2 = Authorizer::new(&[], &bootstrap::cluster_roles(), &[], &crbs);
    let d = authorizer2.authorize_resource(
        &user("root", &[]),
        &attrs("delete", "", "nodes", "", "n", ""),
    );
    assert_eq!(
        d.reason,
        r#"RBAC: allowed by ClusterRoleBinding "root" of ClusterRole "cluster-admin" to User "root""#
    );
    let admin = user("kubernetes-admin", &["system:masters"]);
    assert!(
        authorizer
            .authorize_resource(&admin, &attrs("delete", "", "nodes", "", "n", ""))
            .allowed
    );
}

#[test]
fn bootstrap_components() {
    let authorizer = bootstrap_authorizer();
    let scheduler = user("system:kube-scheduler", &["system:authenticated"]);
    assert!(
        authorizer
            .authorize_resource(
                &scheduler,
                &attrs("create", "", "pods", "binding", "p", "default")
            )
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(
                &scheduler,
                &attrs(
                    "update",
                    "coordination.k8s.io",
                    "leases",
                    "",
                    "kube-scheduler",
                    "kube-system"
                )
            )
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(
                &scheduler,
                &attrs(
                    "update",
                    "coordination.k8s.io",
                    "leases",
                    "",
                    "other",
                    "kube-system"
                )
            )
            .allowed
    );
    let kcm = user("system:kube-controller-manager", &[]);
    assert!(
        authorizer
            .authorize_resource(&kcm, &attrs("watch", "apps", "deployments", "", "", ""))
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(
                &kcm,
                &attrs(
                    "get",
                    "",
                    "configmaps",
                    "",
                    "extension-apiserver-authentication",
                    "kube-system"
                )
            )
            .allowed
    );
    // The per-controller roles reach the controller manager's single identity and the
    // controllers' own service accounts, and no further.
    for who in [
        kcm.clone(),
        user(
            "system:serviceaccount:kube-system:deployment-controller",
            &[],
        ),
    ] {
        assert!(
            authorizer
                .authorize_resource(&who, &attrs("create", "apps", "replicasets", "", "", "ns"))
                .allowed
        );
    }
    assert!(
        !authorizer
            .authorize_resource(
                &user(
                    "system:serviceaccount:kube-system:deployment-controller",
                    &[]
                ),
                &attrs("create", "batch", "jobs", "", "", "ns")
            )
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(&kcm, &attrs("create", "", "pods", "binding", "", "ns"))
            .allowed
    );
    let proxy = user("system:kube-proxy", &[]);
    assert!(
        authorizer
            .authorize_resource(
                &proxy,
                &attrs("watch", "discovery.k8s.io", "endpointslices", "", "", "")
            )
            .allowed
    );
    let sa = user(
        "system:serviceaccount:default:x",
        &["system:serviceaccounts", "system:authenticated"],
    );
    assert!(
        authorizer
            .authorize_non_resource(&sa, "get", "/openid/v1/jwks")
            .allowed
    );
    let signer = user("system:serviceaccount:kube-system:bootstrap-signer", &[]);
    assert!(
        authorizer
            .authorize_resource(
                &signer,
                &attrs(
                    "update",
                    "",
                    "configmaps",
                    "",
                    "cluster-info",
                    "kube-public"
                )
            )
            .allowed
    );
}

#[test]
fn bootstrap_objects_are_well_formed() {
    for object in bootstrap::cluster_roles()
        .iter()
        .chain(&bootstrap::cluster_role_bindings())
    {
        assert_eq!(object["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(
            object["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(
            object["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
        assert!(object["metadata"].get("namespace").is_none());
    }
    for object in bootstrap::namespaced_roles()
        .iter()
        .chain(&bootstrap::namespaced_role_bindings())
    {
        let ns = object["metadata"]["namespace"].as_str().unwrap();
        assert!(ns == "kube-system" || ns == "kube-public");
    }
    let roles = bootstrap::cluster_roles();
    let names: Vec<&str> = roles
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "no duplicate ClusterRoles");
    // Every binding points at a role that exists.
    for binding in bootstrap::cluster_role_bindings() {
        assert!(
            names.contains(&binding["roleRef"]["name"].as_str().unwrap()),
            "{binding}"
        );
    }
    let ns_roles = bootstrap::namespaced_roles();
    for binding in bootstrap::namespaced_role_bindings() {
        let ns = &binding["metadata"]["namespace"];
        assert!(ns_roles.iter().any(|r| r["metadata"]["namespace"] == *ns
            && r["metadata"]["name"] == binding["roleRef"]["name"]));
    }
    let edit = roles
        .iter()
        .find(|r| r["metadata"]["name"] == "edit")
        .unwrap();
    assert_eq!(
        edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    assert_eq!(
        edit["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
}
