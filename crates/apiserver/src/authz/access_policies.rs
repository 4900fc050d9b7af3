//! EKS access policies as an authorizer in front of RBAC: an access entry's associated
//! policies grant the rules of the ClusterRole each names (AmazonEKSViewPolicy → `view`, ...),
//! cluster-wide or only in the namespaces of their scope.

use keelson_auth::UserInfo;
use keelson_auth::rbac::{Authorizer, Decision, ResourceAttributes};
use keelson_aws_core::access::{ACCESS_POLICIES, AccessPolicyGrant, AccessScope, AccessScopeType};
use serde_json::{Value, json};

use crate::authn::User;
use crate::server::ApiServer;

/// The rules of the ClusterRoles access policies stand for, resolved (aggregated roles
/// included) from the cluster's current ClusterRoles.
#[derive(Debug, Default)]
pub struct AccessPolicyRules {
    /// RBAC over synthetic bindings: each policy's ClusterRole bound to a group named after
    /// the policy ARN, so RBAC's own rule matching and aggregation apply.
    rbac: Authorizer,
}

fn policy_subject(policy_arn: &str) -> UserInfo {
    UserInfo {
        username: String::new(),
        uid: String::new(),
        groups: vec![policy_arn.to_string()],
        extra: Default::default(),
    }
}

impl AccessPolicyRules {
    pub fn new(cluster_roles: &[Value]) -> AccessPolicyRules {
        let bindings: Vec<Value> = ACCESS_POLICIES
            .iter()
            .map(|(policy_arn, role)| {
                json!({
                    "metadata": {"name": policy_arn},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"kind": "Group", "name": policy_arn}],
                })
            })
            .collect();
        AccessPolicyRules {
            rbac: Authorizer::new(&[], cluster_roles, &[], &bindings),
        }
    }

    /// The policy that allows a resource request, if one of `grants` does.
    pub fn allows_resource<'a>(
        &self,
        grants: &'a [AccessPolicyGrant],
        attributes: &ResourceAttributes,
    ) -> Option<&'a AccessPolicyGrant> {
        grants.iter().find(|grant| {
            scope_covers(&grant.access_scope, &attributes.namespace)
                && self
                    .rbac
                    .authorize_resource(&policy_subject(&grant.policy_arn), attributes)
                    .allowed
        })
    }

    /// Everything `grants` allow in `namespace`, as SelfSubjectRulesReview's
    /// (resourceRules, nonResourceRules).
    pub fn rules_for(
        &self,
        grants: &[AccessPolicyGrant],
        namespace: &str,
    ) -> (Vec<Value>, Vec<Value>) {
        let mut resource_rules = Vec::new();
        let mut non_resource_rules = Vec::new();
        for grant in grants {
            let (resource, non_resource) = self
                .rbac
                .rules_for(&policy_subject(&grant.policy_arn), namespace);
            if scope_covers(&grant.access_scope, namespace) {
                resource_rules.extend(resource);
            }
            if grant.access_scope.scope_type == AccessScopeType::Cluster {
                non_resource_rules.extend(non_resource);
            }
        }
        (resource_rules, non_resource_rules)
    }

    /// Non-resource URLs are cluster-wide: only cluster-scoped grants reach them.
    pub fn allows_non_resource<'a>(
        &self,
        grants: &'a [AccessPolicyGrant],
        verb: &str,
        path: &str,
    ) -> Option<&'a AccessPolicyGrant> {
        grants.iter().find(|grant| {
            grant.access_scope.scope_type == AccessScopeType::Cluster
                && self
                    .rbac
                    .authorize_non_resource(&policy_subject(&grant.policy_arn), verb, path)
                    .allowed
        })
    }
}

/// Whether a scope reaches a request in `namespace` (empty for cluster-scoped requests,
/// which only cluster scopes reach). Namespace patterns may end in a `*` prefix wildcard.
pub fn scope_covers(scope: &AccessScope, namespace: &str) -> bool {
    match scope.scope_type {
        AccessScopeType::Cluster => true,
        AccessScopeType::Namespace => {
            !namespace.is_empty()
                && scope
                    .namespaces
                    .iter()
                    .any(|pattern| match pattern.strip_suffix('*') {
                        Some(prefix) => namespace.starts_with(prefix),
                        None => pattern == namespace,
                    })
        }
    }
}

/// The access policies' decision on a resource request by `user`, if they allow it.
pub fn allow_resource(
    server: &ApiServer,
    user: &User,
    attributes: &ResourceAttributes,
) -> Option<Decision> {
    let aws = server.aws_auth.as_ref()?;
    let grants = aws.access_policies_for(user);
    let grant = aws
        .policy_rules()
        .allows_resource(&grants, attributes)?
        .clone();
    Some(allowed_by(&grant))
}

/// The access policies' decision on a non-resource request by `user`, if they allow it.
pub fn allow_non_resource(
    server: &ApiServer,
    user: &User,
    verb: &str,
    path: &str,
) -> Option<Decision> {
    let aws = server.aws_auth.as_ref()?;
    let grants = aws.access_policies_for(user);
    let grant = aws
        .policy_rules()
        .allows_non_resource(&grants, verb, path)?
        .clone();
    Some(allowed_by(&grant))
}

/// Add what `user`'s access policies allow in `namespace` to a SelfSubjectRulesReview.
pub fn add_rules(
    server: &ApiServer,
    user: &User,
    namespace: &str,
    resource_rules: &mut Vec<Value>,
    non_resource_rules: &mut Vec<Value>,
) {
    let Some(aws) = server.aws_auth.as_ref() else {
        return;
    };
    let grants = aws.access_policies_for(user);
    let (resource, non_resource) = aws.policy_rules().rules_for(&grants, namespace);
    for (rules, more) in [
        (resource_rules, resource),
        (non_resource_rules, non_resource),
    ] {
        for rule in more {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
}

fn allowed_by(grant: &AccessPolicyGrant) -> Decision {
    Decision {
        allowed: true,
        reason: format!("EKS access policy {}", grant.policy_arn),
    }
}

#[cfg(test)]
mod tests;
