//! How a cluster's API server learns who may sign in with an AWS identity.
//!
//! The EKS service owns each cluster's access entries. It writes them, with everything else the
//! cluster's token authenticator needs, as one JSON [`ClusterAuthConfig`] file in the cluster's
//! directory (`keelson control-plane --aws-auth-config FILE`), replacing it atomically (write to
//! a temporary file, then rename) whenever an entry or the authentication mode changes. The API
//! server re-reads it when it changes. This is aws-iam-authenticator's "dynamic file" backend,
//! which is how EKS itself feeds access entries to its authenticator.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuthConfig {
    /// The value tokens must carry (signed) in their `x-k8s-aws-id` header: the cluster's name.
    pub cluster_id: String,
    /// The STS endpoints tokens may point at, as base URLs (`http://127.0.0.1:8443`); the API
    /// server performs the presigned GetCallerIdentity request only against one of these.
    pub sts_endpoints: Vec<String>,
    pub authentication_mode: AuthenticationMode,
    pub access_entries: Vec<AccessEntryMapping>,
}

/// `accessConfig.authenticationMode` of an EKS cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthenticationMode {
    /// Only the `kube-system/aws-auth` ConfigMap maps identities.
    ConfigMap,
    /// Access entries first, then the ConfigMap.
    #[default]
    ApiAndConfigMap,
    /// Only access entries.
    Api,
}

impl AuthenticationMode {
    pub fn uses_access_entries(self) -> bool {
        self != AuthenticationMode::ConfigMap
    }

    pub fn uses_config_map(self) -> bool {
        self != AuthenticationMode::Api
    }
}

/// One access entry, as the authenticator and authorizer need it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntryMapping {
    /// The IAM user or role ARN (with its path), compared with the caller's canonical ARN.
    pub principal_arn: String,
    /// The Kubernetes username; may contain `{{SessionName}}`, `{{SessionNameRaw}}`,
    /// `{{AccountID}}` and `{{AccessKeyID}}` templates.
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    /// `STANDARD`, `EC2_LINUX`, ...
    #[serde(rename = "type")]
    pub entry_type: String,
    pub access_policies: Vec<AccessPolicyGrant>,
}

/// An access policy associated with an entry, with its scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicyGrant {
    /// e.g. `arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`
    pub policy_arn: String,
    pub access_scope: AccessScope,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessScope {
    #[serde(rename = "type")]
    pub scope_type: AccessScopeType,
    /// For `namespace` scope; entries may end in `*` as a prefix wildcard.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessScopeType {
    Cluster,
    Namespace,
}

/// The access policies EKS defines and Keelson enforces, by ARN, with the Kubernetes ClusterRole
/// whose rules each one grants.
pub const ACCESS_POLICIES: &[(&str, &str)] = &[
    (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "cluster-admin",
    ),
    (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
        "admin",
    ),
    (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        "edit",
    ),
    (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        "view",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_in_camel_case() {
        let config = ClusterAuthConfig {
            cluster_id: "c1".into(),
            sts_endpoints: vec!["http://127.0.0.1:8443".into()],
            authentication_mode: AuthenticationMode::Api,
            access_entries: vec![AccessEntryMapping {
                principal_arn: "arn:aws:iam::111122223333:user/alice".into(),
                username: "alice".into(),
                kubernetes_groups: vec![],
                entry_type: "STANDARD".into(),
                access_policies: vec![AccessPolicyGrant {
                    policy_arn: ACCESS_POLICIES[3].0.into(),
                    access_scope: AccessScope {
                        scope_type: AccessScopeType::Namespace,
                        namespaces: vec!["dev".into()],
                    },
                }],
            }],
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains("\"authenticationMode\":\"API\""));
        assert!(text.contains("\"type\":\"namespace\""));
        assert_eq!(
            serde_json::from_str::<ClusterAuthConfig>(&text).unwrap(),
            config
        );
    }
}
