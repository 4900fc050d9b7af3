//! RBAC authorization with upstream's semantics, over Role/ClusterRole/binding objects as JSON.
//! The authorizer is immutable: the server builds a new one whenever RBAC objects change and
//! swaps it in, so a request never waits on a lock or on storage.

mod aggregation;
pub mod bootstrap;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::UserInfo;
pub use rules::Rule;

/// Members of this group may do anything, without consulting RBAC (upstream's
/// privileged-group authorizer placed before RBAC).
pub const SUPERUSER_GROUP: &str = "system:masters";

/// What a resource request wants to do. Empty strings mean "not set" (core group, no
/// subresource, no name, cluster scope).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub namespace: String,
}

/// The outcome of an authorization check; `reason` names the binding that allowed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    fn deny() -> Decision {
        Decision::default()
    }
}

/// One role's rules granted to one subject by one binding.
#[derive(Debug)]
struct Grant {
    /// `None` for a ClusterRoleBinding; the binding's namespace for a RoleBinding.
    namespace: Option<String>,
    rules: Arc<[Rule]>,
    /// e.g. `ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`.
    description: String,
}

impl Grant {
    fn applies_in(&self, namespace: &str) -> bool {
        match &self.namespace {
            None => true,
            Some(ns) => !namespace.is_empty() && ns == namespace,
        }
    }
}

/// RBAC evaluator. `Default` holds no bindings and so denies everything except superusers.
#[derive(Debug, Default)]
pub struct Authorizer {
    /// ClusterRoleBinding grants first, then RoleBinding grants, in input order, so reasons name
    /// the same binding upstream's evaluation order would find first.
    grants: Vec<Grant>,
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// How upstream describes a subject in reasons.
fn describe_subject(kind: &str, name: &str, namespace: &str) -> String {
    if kind == "ServiceAccount" {
        format!("{kind} \"{name}/{namespace}\"")
    } else {
        format!("{kind} \"{name}\"")
    }
}

impl Authorizer {
    /// Build from the current RBAC objects. Bindings to roles that do not exist grant nothing.
    pub fn new(
        roles: &[Value],
        cluster_roles: &[Value],
        role_bindings: &[Value],
        cluster_role_bindings: &[Value],
    ) -> Authorizer {
        let cluster_rules = aggregation::resolve(cluster_roles);
        let mut role_rules: HashMap<(String, String), Arc<[Rule]>> = HashMap::new();
        for role in roles {
            let meta = &role["metadata"];
            role_rules.insert(
                (
                    text(meta, "namespace").to_string(),
                    text(meta, "name").to_string(),
                ),
                Rule::all_from(role).into(),
            );
        }

        let mut authorizer = Authorizer::default();
        for binding in cluster_role_bindings {
            let role_ref = &binding["roleRef"];
            if text(role_ref, "kind") != "ClusterRole" {
                continue;
            }
            let Some(rules) = cluster_rules.get(text(role_ref, "name")) else {
                continue;
            };
            authorizer.add_binding(binding, "ClusterRoleBinding", None, rules.clone());
        }
        for binding in role_bindings {
            let namespace = text(&binding["metadata"], "namespace");
            if namespace.is_empty() {
                continue;
            }
            let role_ref = &binding["roleRef"];
            let role_name = text(role_ref, "name");
            // A RoleBinding to a ClusterRole grants the ClusterRole's rules in the binding's
            // namespace only.
            let rules = match text(role_ref, "kind") {
                "ClusterRole" => cluster_rules.get(role_name).cloned(),
                "Role" => role_rules
                    .get(&(namespace.to_string(), role_name.to_string()))
                    .cloned(),
                _ => None,
            };
            let Some(rules) = rules else { continue };
            authorizer.add_binding(binding, "RoleBinding", Some(namespace), rules);
        }
        authorizer
    }

    fn add_binding(
        &mut self,
        binding: &Value,
        kind: &str,
        namespace: Option<&str>,
        rules: Arc<[Rule]>,
    ) {
        let binding_name = text(&binding["metadata"], "name");
        let shown_name = match namespace {
            Some(ns) => format!("{binding_name}/{ns}"),
            None => binding_name.to_string(),
        };
        let role_ref = &binding["roleRef"];
        let Some(subjects) = binding["subjects"].as_array() else {
            return;
        };
        for subject in subjects {
            let subject_kind = text(subject, "kind");
            let name = text(subject, "name");
            if name.is_empty() {
                continue;
            }
            let (index, key, subject_ns) = match subject_kind {
                "User" => (&mut self.by_user, name.to_string(), ""),
                "Group" => (&mut self.by_group, name.to_string(), ""),
                "ServiceAccount" => {
                    // Upstream defaults a ServiceAccount subject's namespace to the binding's.
                    let ns = Some(text(subject, "namespace"))
                        .filter(|ns| !ns.is_empty())
                        .or(namespace);
                    let Some(ns) = ns else { continue };
                    (
                        &mut self.by_user,
                        format!("system:serviceaccount:{ns}:{name}"),
                        ns,
                    )
                }
                _ => continue,
            };
            index.entry(key).or_default().push(self.grants.len());
            self.grants.push(Grant {
                namespace: namespace.map(str::to_string),
                rules: rules.clone(),
                description: format!(
                    "{kind} \"{shown_name}\" of {} \"{}\" to {}",
                    text(role_ref, "kind"),
                    text(role_ref, "name"),
                    describe_subject(subject_kind, name, subject_ns)
                ),
            });
        }
    }

    /// The grants that apply to `user`, in evaluation order.
    fn grants_for(&self, user: &UserInfo) -> Vec<&Grant> {
        let mut indices: Vec<usize> = self
            .by_user
            .get(&user.username)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for group in &user.groups {
            indices.extend(self.by_group.get(group).into_iter().flatten().copied());
        }
        indices.sort_unstable();
        indices.dedup();
        indices.into_iter().map(|i| &self.grants[i]).collect()
    }

    fn is_superuser(user: &UserInfo) -> bool {
        user.groups.iter().any(|g| g == SUPERUSER_GROUP)
    }

    pub fn authorize_resource(&self, user: &UserInfo, attributes: &ResourceAttributes) -> Decision {
        if Self::is_superuser(user) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let a = attributes;
        self.grants_for(user)
            .into_iter()
            .filter(|grant| grant.applies_in(&a.namespace))
            .find(|grant| {
                grant.rules.iter().any(|r| {
                    r.allows_resource(&a.verb, &a.group, &a.resource, &a.subresource, &a.name)
                })
            })
            .map_or_else(Decision::deny, |grant| Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {}", grant.description),
            })
    }

    /// Non-resource URLs are cluster-scoped: only ClusterRoleBindings grant them.
    pub fn authorize_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Decision {
        if Self::is_superuser(user) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        self.grants_for(user)
            .into_iter()
            .filter(|grant| grant.namespace.is_none())
            .find(|grant| {
                grant
                    .rules
                    .iter()
                    .any(|r| r.allows_non_resource(verb, path))
            })
            .map_or_else(Decision::deny, |grant| Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {}", grant.description),
            })
    }

    /// Everything `user` may do in `namespace` (cluster-wide grants included), as
    /// SelfSubjectRulesReview's (resourceRules, nonResourceRules).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<Value>, Vec<Value>) {
        let mut resource_rules = Vec::new();
        let mut non_resource_rules = Vec::new();
        for grant in self
            .grants_for(user)
            .into_iter()
            .filter(|g| g.applies_in(namespace))
        {
            for rule in grant.rules.iter() {
                if let Some(r) = rule
                    .resource_rule_json()
                    .filter(|r| !resource_rules.contains(r))
                {
                    resource_rules.push(r);
                }
                if let Some(r) = rule
                    .non_resource_rule_json()
                    .filter(|r| !non_resource_rules.contains(r))
                {
                    non_resource_rules.push(r);
                }
            }
        }
        (resource_rules, non_resource_rules)
    }
}

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
