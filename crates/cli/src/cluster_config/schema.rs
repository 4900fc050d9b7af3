//! The part of eksctl's ClusterConfig schema Keelson reads; nested objects refuse fields
//! they do not know, as eksctl's strict parsing does.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: Option<String>,
    pub region: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vpc {
    /// The VPC's own settings mean nothing to Keelson (it has no VPCs) but are valid eksctl.
    pub id: Option<String>,
    pub cidr: Option<String>,
    pub nat: Option<serde_yaml::Value>,
    pub security_group: Option<String>,
    pub subnets: Option<Subnets>,
    pub cluster_endpoints: Option<ClusterEndpoints>,
    #[serde(rename = "publicAccessCIDRs")]
    pub public_access_cidrs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Subnets {
    #[serde(default)]
    pub private: BTreeMap<String, SubnetRef>,
    #[serde(default)]
    pub public: BTreeMap<String, SubnetRef>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubnetRef {
    pub id: Option<String>,
    pub az: Option<String>,
    pub cidr: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterEndpoints {
    pub public_access: Option<bool>,
    pub private_access: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    #[serde(rename = "ipFamily")]
    pub ip_family: Option<String>,
    #[serde(rename = "serviceIPv4CIDR")]
    pub service_ipv4_cidr: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    #[serde(rename = "withOIDC")]
    pub with_oidc: Option<bool>,
    #[serde(rename = "serviceRoleARN")]
    pub service_role_arn: Option<String>,
    #[serde(rename = "serviceAccounts")]
    pub service_accounts: Option<serde_yaml::Value>,
    #[serde(rename = "podIdentityAssociations")]
    pub pod_identity_associations: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessConfig {
    pub authentication_mode: Option<String>,
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    #[serde(default)]
    pub access_entries: Vec<AccessEntry>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntry {
    #[serde(rename = "principalARN")]
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: Option<String>,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    pub kubernetes_username: Option<String>,
    #[serde(default)]
    pub access_policies: Vec<AccessPolicy>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    #[serde(rename = "policyARN")]
    pub policy_arn: String,
    pub access_scope: AccessScope,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessScope {
    #[serde(rename = "type")]
    pub scope_type: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudWatch {
    pub cluster_logging: Option<ClusterLogging>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterLogging {
    #[serde(default)]
    pub enable_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradePolicy {
    pub support_type: Option<String>,
}

/// A ClusterConfig Keelson can create. Its top-level keys are checked by `parse` (which
/// names unsupported eksctl fields), so serde need not refuse unknown ones here.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfig {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub vpc: Vpc,
    #[serde(default)]
    pub kubernetes_network_config: NetworkConfig,
    #[serde(default)]
    pub iam: Iam,
    #[serde(default)]
    pub access_config: AccessConfig,
    #[serde(default)]
    pub cloud_watch: CloudWatch,
    #[serde(default)]
    pub upgrade_policy: UpgradePolicy,
    #[serde(default)]
    pub availability_zones: Vec<String>,
}
