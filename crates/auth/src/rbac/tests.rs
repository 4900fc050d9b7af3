use serde_json::json;

use super::*;

pub(super) fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo {
        username: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..UserInfo::default()
    }
}

pub(super) fn attrs(
    verb: &str,
    group: &str,
    resource: &str,
    subresource: &str,
    name: &str,
    namespace: &str,
) -> ResourceAttributes {
    ResourceAttributes {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        name: name.into(),
        namespace: namespace.into(),
    }
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

fn role(ns: &str, name: &str, rules: Value) -> Value {
    json!({"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules})
}

pub(super) fn crb(name: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "ClusterRoleBinding", "metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
}

pub(super) fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})
}

pub(super) fn user_subject(name: &str) -> Value {
    json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}])
}

#[test]
fn default_denies_everyone_but_masters() {
    let authorizer = Authorizer::default();
    let alice = user("alice", &["system:authenticated"]);
    assert!(
        !authorizer
            .authorize_resource(&alice, &attrs("get", "", "pods", "", "", "default"))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_non_resource(&alice, "get", "/version")
            .allowed
    );
    let admin = user(
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    );
    assert!(
        authorizer
            .authorize_resource(&admin, &attrs("delete", "", "nodes", "", "n1", ""))
            .allowed
    );
    assert!(
        authorizer
            .authorize_non_resource(&admin, "get", "/metrics")
            .allowed
    );
}

#[test]
fn cluster_role_binding_grants_everywhere_with_reason() {
    let roles = [cluster_role(
        "pod-reader",
        json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]),
    )];
    let bindings = [crb(
        "read-pods",
        "pod-reader",
        json!([{"kind": "Group", "name": "readers"}]),
    )];
    let authorizer = Authorizer::new(&[], &roles, &[], &bindings);
    let bob = user("bob", &["readers"]);
    let decision = authorizer.authorize_resource(&bob, &attrs("list", "", "pods", "", "", "ns1"));
    assert_eq!(
        decision,
        Decision {
            allowed: true,
            reason: r#"RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" to Group "readers""#.into()
        }
    );
    assert!(
        authorizer
            .authorize_resource(&bob, &attrs("list", "", "pods", "", "", ""))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&bob, &attrs("delete", "", "pods", "", "x", "ns1"))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&user("bob", &[]), &attrs("list", "", "pods", "", "", "ns1"))
            .allowed
    );
}

#[test]
fn role_binding_to_cluster_role_is_namespace_scoped() {
    let roles = [cluster_role(
        "editor",
        json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),
    )];
    let bindings = [rb(
        "team-a",
        "edit",
        "ClusterRole",
        "editor",
        user_subject("carol"),
    )];
    let authorizer = Authorizer::new(&[], &roles, &bindings, &[]);
    let carol = user("carol", &[]);
    let decision = authorizer.authorize_resource(
        &carol,
        &attrs("create", "apps", "deployments", "", "", "team-a"),
    );
    assert!(decision.allowed);
    assert_eq!(
        decision.reason,
        r#"RBAC: allowed by RoleBinding "edit/team-a" of ClusterRole "editor" to User "carol""#
    );
    assert!(
        !authorizer
            .authorize_resource(
                &carol,
                &attrs("create", "apps", "deployments", "", "", "team-b")
            )
            .allowed
    );
    // Cluster-scoped requests are out of a RoleBinding's reach.
    assert!(
        !authorizer
            .authorize_resource(&carol, &attrs("list", "", "nodes", "", "", ""))
            .allowed
    );
}

#[test]
fn roles_and_resource_names() {
    let roles = [role(
        "ns1",
        "cm-one",
        json!([{"verbs": ["get", "update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"]}]),
    )];
    let bindings = [rb("ns1", "b", "Role", "cm-one", user_subject("dave"))];
    let authorizer = Authorizer::new(&roles, &[], &bindings, &[]);
    let dave = user("dave", &[]);
    assert!(
        authorizer
            .authorize_resource(&dave, &attrs("get", "", "configmaps", "", "one", "ns1"))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&dave, &attrs("get", "", "configmaps", "", "two", "ns1"))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&dave, &attrs("list", "", "configmaps", "", "", "ns1"))
            .allowed
    );
    // A Role named in another namespace is not found from this binding.
    let stray = [rb("ns2", "b", "Role", "cm-one", user_subject("dave"))];
    let authorizer = Authorizer::new(&roles, &[], &stray, &[]);
    assert!(
        !authorizer
            .authorize_resource(&dave, &attrs("get", "", "configmaps", "", "one", "ns2"))
            .allowed
    );
}

#[test]
fn wildcards_and_subresources() {
    let roles = [cluster_role(
        "mixed",
        json!([
            {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/status"]},
            {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments/scale"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
        ]),
    )];
    let bindings = [crb("m", "mixed", user_subject("erin"))];
    let authorizer = Authorizer::new(&[], &roles, &[], &bindings);
    let erin = user("erin", &[]);
    let allowed = |verb, group, resource, sub| {
        authorizer
            .authorize_resource(&erin, &attrs(verb, group, resource, sub, "x", "ns"))
            .allowed
    };
    assert!(allowed("get", "batch", "jobs", "status"));
    assert!(!allowed("get", "batch", "jobs", ""));
    assert!(allowed("update", "apps", "deployments", "scale"));
    assert!(!allowed("update", "apps", "deployments", ""));
    assert!(allowed("get", "", "pods", "log"));
    assert!(!allowed("get", "", "pods", "exec"));
}

#[test]
fn non_resource_urls_need_cluster_bindings() {
    let roles = [cluster_role(
        "urls",
        json!([{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/logs/*"]}]),
    )];
    let crbs = [crb("u", "urls", user_subject("frank"))];
    let authorizer = Authorizer::new(&[], &roles, &[], &crbs);
    let frank = user("frank", &[]);
    assert!(
        authorizer
            .authorize_non_resource(&frank, "get", "/healthz")
            .allowed
    );
    assert!(
        authorizer
            .authorize_non_resource(&frank, "get", "/logs/kube.log")
            .allowed
    );
    assert!(
        !authorizer
            .authorize_non_resource(&frank, "get", "/metrics")
            .allowed
    );
    assert!(
        !authorizer
            .authorize_non_resource(&frank, "post", "/healthz")
            .allowed
    );
    let rbs = [rb("ns", "u", "ClusterRole", "urls", user_subject("gina"))];
    let authorizer = Authorizer::new(&[], &roles, &rbs, &[]);
    assert!(
        !authorizer
            .authorize_non_resource(&user("gina", &[]), "get", "/healthz")
            .allowed
    );
}

#[test]
fn service_account_subjects() {
    let roles = [cluster_role(
        "secret-reader",
        json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]),
    )];
    let rbs = [
        // Namespace omitted: defaults to the binding's.
        rb(
            "apps",
            "sa-implicit",
            "ClusterRole",
            "secret-reader",
            json!([{"kind": "ServiceAccount", "name": "builder"}]),
        ),
        rb(
            "apps",
            "sa-explicit",
            "ClusterRole",
            "secret-reader",
            json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]),
        ),
    ];
    let authorizer = Authorizer::new(&[], &roles, &rbs, &[]);
    let builder = user(
        "system:serviceaccount:apps:builder",
        &["system:serviceaccounts"],
    );
    let decision =
        authorizer.authorize_resource(&builder, &attrs("get", "", "secrets", "", "s", "apps"));
    assert!(decision.allowed);
    assert_eq!(
        decision.reason,
        r#"RBAC: allowed by RoleBinding "sa-implicit/apps" of ClusterRole "secret-reader" to ServiceAccount "builder/apps""#
    );
    let deployer = user("system:serviceaccount:ci:deployer", &[]);
    assert!(
        authorizer
            .authorize_resource(&deployer, &attrs("get", "", "secrets", "", "s", "apps"))
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(
                &user("builder", &[]),
                &attrs("get", "", "secrets", "", "s", "apps")
            )
            .allowed
    );
}

#[test]
fn aggregation_is_honoured_transitively() {
    let roles = [
        json!({"kind": "ClusterRole", "metadata": {"name": "top"},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg/top": "true"}}]}, "rules": []}),
        json!({"kind": "ClusterRole", "metadata": {"name": "middle", "labels": {"agg/top": "true"}},
               "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "agg/middle", "operator": "Exists"}]}]},
               "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}),
        json!({"kind": "ClusterRole", "metadata": {"name": "leaf", "labels": {"agg/middle": "yes"}},
               "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]}),
        json!({"kind": "ClusterRole", "metadata": {"name": "unrelated", "labels": {"agg/top": "false"}},
               "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}),
    ];
    let crbs = [crb("t", "top", user_subject("hank"))];
    let authorizer = Authorizer::new(&[], &roles, &[], &crbs);
    let hank = user("hank", &[]);
    assert!(
        authorizer
            .authorize_resource(&hank, &attrs("get", "", "pods", "", "p", "ns"))
            .allowed
    );
    assert!(
        authorizer
            .authorize_resource(
                &hank,
                &attrs("get", "example.com", "widgets", "", "w", "ns")
            )
            .allowed
    );
    assert!(
        !authorizer
            .authorize_resource(&hank, &attrs("delete", "", "pods", "", "p", "ns"))
            .allowed
    );
}

#[test]
fn aggregation_cycles_terminate() {
    let roles = [
        json!({"kind": "ClusterRole", "metadata": {"name": "a", "labels": {"x": "a"}},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "b"}}]},
               "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["a"]}]}),
        json!({"kind": "ClusterRole", "metadata": {"name": "b", "labels": {"x": "b"}},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "a"}}]},
               "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["b"]}]}),
    ];
    let crbs = [crb("a", "a", user_subject("ivy"))];
    let authorizer = Authorizer::new(&[], &roles, &[], &crbs);
    assert!(
        authorizer
            .authorize_resource(&user("ivy", &[]), &attrs("get", "", "b", "", "", ""))
            .allowed
    );
}

#[test]
fn missing_roles_and_bad_bindings_grant_nothing() {
    let crbs = [
        crb("ghost", "does-not-exist", user_subject("jack")),
        json!({"metadata": {"name": "to-role"}, "roleRef": {"kind": "Role", "name": "x"}, "subjects": [{"kind": "User", "name": "jack"}]}),
    ];
    let authorizer = Authorizer::new(&[], &[], &[], &crbs);
    assert!(
        !authorizer
            .authorize_resource(&user("jack", &[]), &attrs("get", "", "pods", "", "", ""))
            .allowed
    );
}

#[test]
fn rules_for_lists_applicable_rules() {
    let roles = [
        cluster_role(
            "pods",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]),
        ),
        cluster_role(
            "urls",
            json!([{"verbs": ["get"], "nonResourceURLs": ["/version"]}]),
        ),
        cluster_role(
            "secrets",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]}]),
        ),
    ];
    let crbs = [
        crb("p", "pods", user_subject("kim")),
        crb("u", "urls", json!([{"kind": "Group", "name": "everyone"}])),
    ];
    let rbs = [rb(
        "ns1",
        "s",
        "ClusterRole",
        "secrets",
        user_subject("kim"),
    )];
    let authorizer = Authorizer::new(&[], &roles, &rbs, &crbs);
    let kim = user("kim", &["everyone"]);
    let (resource, non_resource) = authorizer.rules_for(&kim, "ns1");
    assert_eq!(resource.len(), 2);
    assert!(resource.contains(&json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]})));
    assert_eq!(
        non_resource,
        vec![json!({"verbs": ["get"], "nonResourceURLs": ["/version"]})]
    );
    let (resource, _) = authorizer.rules_for(&kim, "ns2");
    assert_eq!(
        resource,
        vec![json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})]
    );
}
