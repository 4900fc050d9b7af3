use super::*;

const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
const EDIT: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy";
const CLUSTER_ADMIN: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

fn rules() -> AccessPolicyRules {
    AccessPolicyRules::new(&keelson_auth::rbac::bootstrap::cluster_roles())
}

fn grant(policy: &str, namespaces: &[&str]) -> AccessPolicyGrant {
    AccessPolicyGrant {
        policy_arn: policy.into(),
        access_scope: AccessScope {
            scope_type: if namespaces.is_empty() {
                AccessScopeType::Cluster
            } else {
                AccessScopeType::Namespace
            },
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        },
    }
}

fn request(verb: &str, resource: &str, namespace: &str) -> ResourceAttributes {
    ResourceAttributes {
        verb: verb.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        ..Default::default()
    }
}

#[test]
fn view_in_a_namespace_reads_only_there() {
    let rules = rules();
    let grants = [grant(VIEW, &["dev"])];
    assert!(
        rules
            .allows_resource(&grants, &request("list", "pods", "dev"))
            .is_some()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("get", "configmaps", "dev"))
            .is_some()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("list", "pods", "prod"))
            .is_none()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("list", "pods", ""))
            .is_none()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("create", "pods", "dev"))
            .is_none()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("get", "secrets", "dev"))
            .is_none(),
        "view never reads secrets"
    );
}

#[test]
fn namespace_patterns_are_prefix_wildcards() {
    let rules = rules();
    let grants = [grant(EDIT, &["team-*", "ops"])];
    for ns in ["team-a", "team-", "ops"] {
        assert!(
            rules
                .allows_resource(&grants, &request("create", "configmaps", ns))
                .is_some_and(|g| g.policy_arn == EDIT),
            "{ns}"
        );
    }
    for ns in ["team", "ops-2", "other"] {
        assert!(
            rules
                .allows_resource(&grants, &request("create", "configmaps", ns))
                .is_none(),
            "{ns}"
        );
    }
}

#[test]
fn cluster_admin_at_cluster_scope_allows_everything() {
    let rules = rules();
    let grants = [grant(CLUSTER_ADMIN, &[])];
    assert!(
        rules
            .allows_resource(&grants, &request("delete", "nodes", ""))
            .is_some()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("create", "secrets", "kube-system"))
            .is_some()
    );
    assert!(
        rules
            .allows_non_resource(&grants, "get", "/metrics")
            .is_some()
    );
    let namespaced = [grant(CLUSTER_ADMIN, &["dev"])];
    assert!(
        rules
            .allows_non_resource(&namespaced, "get", "/metrics")
            .is_none()
    );
    assert!(
        rules
            .allows_resource(&namespaced, &request("delete", "nodes", ""))
            .is_none()
    );
}

#[test]
fn grants_union_and_unknown_policies_grant_nothing() {
    let rules = rules();
    let grants = [
        grant(VIEW, &[]),
        grant(EDIT, &["dev"]),
        grant(
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSomethingNew",
            &[],
        ),
    ];
    assert!(
        rules
            .allows_resource(&grants, &request("list", "pods", "prod"))
            .is_some()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("delete", "pods", "prod"))
            .is_none()
    );
    assert!(
        rules
            .allows_resource(&grants, &request("delete", "pods", "dev"))
            .is_some()
    );
    let unknown_only = [grants[2].clone()];
    assert!(
        rules
            .allows_resource(&unknown_only, &request("get", "pods", "dev"))
            .is_none()
    );
}

#[test]
fn without_cluster_roles_policies_grant_nothing() {
    let rules = AccessPolicyRules::default();
    assert!(
        rules
            .allows_resource(&[grant(CLUSTER_ADMIN, &[])], &request("get", "pods", "dev"))
            .is_none()
    );
}

#[test]
fn rules_reviews_list_what_scoped_grants_allow() {
    let rules = rules();
    let grants = [grant(VIEW, &["dev-*"])];
    let (resource, non_resource) = rules.rules_for(&grants, "dev-1");
    assert!(resource.iter().any(|r| {
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "pods")
            && r["verbs"].as_array().unwrap().iter().any(|v| v == "list")
    }));
    assert!(non_resource.is_empty());
    assert_eq!(rules.rules_for(&grants, "prod"), (vec![], vec![]));
    let (_, non_resource) = rules.rules_for(&[grant(CLUSTER_ADMIN, &[])], "");
    assert!(!non_resource.is_empty());
}
