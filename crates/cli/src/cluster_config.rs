//! eksctl's ClusterConfig (apiVersion eksctl.io/v1alpha5, kind ClusterConfig), read strictly
//! as eksctl reads it, and turned into the CreateCluster request eksctl's CloudFormation stack
//! would amount to. Fields for things Keelson does not have yet (managed node groups, add-ons,
//! Fargate, ...) are refused by name rather than ignored.

use serde_json::{Value, json};

use crate::CliError;

mod schema;
pub use schema::*;

pub const API_VERSION: &str = "eksctl.io/v1alpha5";
pub const KIND: &str = "ClusterConfig";

/// Keelson has no VPCs; CreateCluster still wants subnets, so clusters made without
/// `vpc.subnets` name these.
pub const PLACEHOLDER_SUBNETS: [&str; 2] = [
    "subnet-keelson-placeholder-a",
    "subnet-keelson-placeholder-b",
];

/// Top-level eksctl fields Keelson cannot honour yet, with what is missing.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "managedNodeGroups",
        "create cluster does not make managed node groups yet; once the cluster is ACTIVE, add them with `aws eks create-nodegroup`",
    ),
    (
        "nodeGroups",
        "self-managed node groups need EC2 Auto Scaling, which Keelson does not have",
    ),
    (
        "fargateProfiles",
        "Fargate profiles do not exist in Keelson yet",
    ),
    ("addons", "EKS add-ons do not exist in Keelson yet"),
    ("addonsConfig", "EKS add-ons do not exist in Keelson yet"),
    (
        "secretsEncryption",
        "Keelson has no KMS for envelope encryption",
    ),
    (
        "iamIdentityMappings",
        "edit kube-system/aws-auth or use access entries instead",
    ),
    (
        "identityProviders",
        "OIDC identity provider configs do not exist in Keelson yet",
    ),
    ("karpenter", "Karpenter needs EC2"),
    ("gitops", "eksctl's gitops bootstrap is not part of Keelson"),
    ("outpost", "Keelson does not run on Outposts"),
    ("autoModeConfig", "EKS Auto Mode does not exist in Keelson"),
    (
        "remoteNetworkConfig",
        "hybrid nodes do not exist in Keelson",
    ),
    (
        "privateCluster",
        "Keelson has no VPCs to make a cluster private in",
    ),
    ("localZones", "Keelson has no VPCs or zones"),
    ("zonalShiftConfig", "Keelson has no zones"),
    ("capabilities", "EKS capabilities do not exist in Keelson"),
    (
        "controlPlaneScalingConfig",
        "control plane tiers do not exist in Keelson",
    ),
    (
        "kubeAPIServerConfig",
        "API server settings are not configurable yet",
    ),
    (
        "kubeSchedulerConfig",
        "scheduler settings are not configurable yet",
    ),
    (
        "kubeControllerManagerConfig",
        "controller manager settings are not configurable yet",
    ),
];

/// Top-level fields Keelson reads (plus apiVersion and kind).
const SUPPORTED: &[&str] = &[
    "metadata",
    "vpc",
    "kubernetesNetworkConfig",
    "iam",
    "accessConfig",
    "cloudWatch",
    "upgradePolicy",
    "availabilityZones",
];

/// The log types `cloudWatch.clusterLogging.enableTypes: ["*"]` (or `all`) stands for.
const ALL_LOG_TYPES: [&str; 5] = [
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

impl ClusterConfig {
    /// Parses `text` (YAML or JSON) from the file `path` names; every error names the file.
    pub fn parse(path: &str, text: &str) -> Result<ClusterConfig, CliError> {
        let error = |message: String| CliError::ClusterConfig {
            path: path.to_string(),
            message,
        };
        let document: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| error(format!("not valid YAML: {e}")))?;
        let mapping = document
            .as_mapping()
            .ok_or_else(|| error("expected a ClusterConfig object".into()))?;
        let field = |name: &str| mapping.get(name).and_then(|v| v.as_str());
        match (field("apiVersion"), field("kind")) {
            (Some(API_VERSION), Some(KIND)) => {}
            (Some(API_VERSION), kind) => {
                return Err(error(format!(
                    "kind is {}, expected {KIND}",
                    kind.map_or("missing".to_string(), |k| format!("{k:?}"))
                )));
            }
            (version, _) => {
                return Err(error(format!(
                    "apiVersion is {}, expected {API_VERSION}",
                    version.map_or("missing".to_string(), |v| format!("{v:?}"))
                )));
            }
        }
        for key in mapping.keys() {
            let key = key.as_str().unwrap_or_default();
            if let Some((_, why)) = UNSUPPORTED.iter().find(|(name, _)| *name == key) {
                if is_set(&mapping[key]) {
                    return Err(error(format!("{key} is not supported: {why}")));
                }
            } else if !SUPPORTED.contains(&key) && key != "apiVersion" && key != "kind" {
                return Err(error(format!("unknown field {key:?}")));
            }
        }
        // From the text again, so errors carry the field's path and line.
        let config: ClusterConfig = serde_yaml::from_str(text).map_err(|e| error(e.to_string()))?;
        config.validate().map_err(error)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.metadata.name.as_deref().unwrap_or_default().is_empty() {
            return Err("metadata.name is required".into());
        }
        let refused = [
            (
                is_some_set(&self.iam.service_accounts),
                "iam.serviceAccounts",
                "IRSA service accounts need IAM OIDC providers, which Keelson's IAM does not have yet",
            ),
            (
                is_some_set(&self.iam.pod_identity_associations),
                "iam.podIdentityAssociations",
                "Pod Identity does not exist in Keelson yet",
            ),
        ];
        if let Some((_, name, why)) = refused.iter().find(|(set, _, _)| *set) {
            return Err(format!("{name} is not supported: {why}"));
        }
        // As eksctl checks before making anything.
        if !self.access_config.access_entries.is_empty()
            && self.access_config.authentication_mode.as_deref() == Some("CONFIG_MAP")
        {
            return Err(
                "accessConfig.accessEntries need accessConfig.authenticationMode API or API_AND_CONFIG_MAP"
                    .into(),
            );
        }
        if let Some(family) = &self.kubernetes_network_config.ip_family
            && !family.eq_ignore_ascii_case("ipv4")
        {
            return Err(format!(
                "kubernetesNetworkConfig.ipFamily {family} is not supported: only IPv4"
            ));
        }
        Ok(())
    }

    /// The config `eksctl create cluster --name N [--region R] [--version V]` stands for.
    pub fn from_flags(name: &str, region: Option<&str>, version: Option<&str>) -> ClusterConfig {
        ClusterConfig {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            metadata: Metadata {
                name: Some(name.to_string()),
                region: region.map(str::to_string),
                version: version.map(str::to_string),
                ..Metadata::default()
            },
            ..ClusterConfig::default()
        }
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The subnets named under `vpc.subnets`, private first, in zone order.
    pub fn subnet_ids(&self) -> Vec<String> {
        let Some(subnets) = &self.vpc.subnets else {
            return Vec::new();
        };
        subnets
            .private
            .values()
            .chain(subnets.public.values())
            .filter_map(|s| s.id.clone())
            .collect()
    }

    /// The CreateCluster request for this config, with the cluster's IAM role: the config's
    /// `iam.serviceRoleARN`, else the role eksctl's stack would have made in `account`.
    pub fn create_cluster_request(&self, account: &str, client_request_token: &str) -> Value {
        let name = self.name();
        let role_arn = self
            .iam
            .service_role_arn
            .clone()
            .unwrap_or_else(|| default_service_role(account, name));
        let mut subnets = self.subnet_ids();
        if subnets.is_empty() {
            subnets = PLACEHOLDER_SUBNETS.iter().map(|s| s.to_string()).collect();
        }
        let mut vpc = json!({ "subnetIds": subnets });
        if let Some(group) = &self.vpc.security_group {
            vpc["securityGroupIds"] = json!([group]);
        }
        if let Some(endpoints) = &self.vpc.cluster_endpoints {
            if let Some(public) = endpoints.public_access {
                vpc["endpointPublicAccess"] = json!(public);
            }
            if let Some(private) = endpoints.private_access {
                vpc["endpointPrivateAccess"] = json!(private);
            }
        }
        if let Some(cidrs) = &self.vpc.public_access_cidrs {
            vpc["publicAccessCidrs"] = json!(cidrs);
        }
        let mut request = json!({
            "name": name,
            "roleArn": role_arn,
            "resourcesVpcConfig": vpc,
            "clientRequestToken": client_request_token,
        });
        if let Some(version) = &self.metadata.version {
            request["version"] = json!(version);
        }
        if !self.metadata.tags.is_empty() {
            request["tags"] = json!(self.metadata.tags);
        }
        let network = &self.kubernetes_network_config;
        if network.service_ipv4_cidr.is_some() || network.ip_family.is_some() {
            let mut config = json!({ "ipFamily": "ipv4" });
            if let Some(cidr) = &network.service_ipv4_cidr {
                config["serviceIpv4Cidr"] = json!(cidr);
            }
            request["kubernetesNetworkConfig"] = config;
        }
        let access = &self.access_config;
        if access.authentication_mode.is_some()
            || access.bootstrap_cluster_creator_admin_permissions.is_some()
        {
            let mut config = json!({});
            if let Some(mode) = &access.authentication_mode {
                config["authenticationMode"] = json!(mode);
            }
            if let Some(bootstrap) = access.bootstrap_cluster_creator_admin_permissions {
                config["bootstrapClusterCreatorAdminPermissions"] = json!(bootstrap);
            }
            request["accessConfig"] = config;
        }
        if let Some(logging) = &self.cloud_watch.cluster_logging
            && !logging.enable_types.is_empty()
        {
            let all = logging.enable_types.iter().any(|t| t == "*" || t == "all");
            let types: Vec<&str> = if all {
                ALL_LOG_TYPES.to_vec()
            } else {
                logging.enable_types.iter().map(String::as_str).collect()
            };
            request["logging"] = json!({ "clusterLogging": [{ "types": types, "enabled": true }] });
        }
        if let Some(support) = &self.upgrade_policy.support_type {
            request["upgradePolicy"] = json!({ "supportType": support });
        }
        request
    }
}

/// One access entry to create once the cluster is ACTIVE: the CreateAccessEntry request and
/// the AssociateAccessPolicy requests that follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessEntryRequests {
    pub principal_arn: String,
    pub create: Value,
    pub associate: Vec<Value>,
}

impl ClusterConfig {
    /// `accessConfig.accessEntries` as EKS API requests.
    pub fn access_entry_requests(&self) -> Vec<AccessEntryRequests> {
        self.access_config
            .access_entries
            .iter()
            .map(|entry| {
                let mut create = json!({ "principalArn": entry.principal_arn });
                if let Some(entry_type) = &entry.entry_type {
                    create["type"] = json!(entry_type);
                }
                if !entry.kubernetes_groups.is_empty() {
                    create["kubernetesGroups"] = json!(entry.kubernetes_groups);
                }
                if let Some(username) = &entry.kubernetes_username {
                    create["username"] = json!(username);
                }
                if !entry.tags.is_empty() {
                    create["tags"] = json!(entry.tags);
                }
                let associate = entry
                    .access_policies
                    .iter()
                    .map(|policy| {
                        let mut scope = json!({ "type": policy.access_scope.scope_type });
                        if !policy.access_scope.namespaces.is_empty() {
                            scope["namespaces"] = json!(policy.access_scope.namespaces);
                        }
                        json!({ "policyArn": policy.policy_arn, "accessScope": scope })
                    })
                    .collect();
                AccessEntryRequests {
                    principal_arn: entry.principal_arn.clone(),
                    create,
                    associate,
                }
            })
            .collect()
    }
}

/// The cluster role eksctl's CloudFormation stack creates for cluster `name`.
pub fn default_service_role(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/eksctl-{name}-cluster-ServiceRole")
}

/// Whether an eksctl field is given a value (an empty list or map is as good as absent).
fn is_set(value: &serde_yaml::Value) -> bool {
    match value {
        serde_yaml::Value::Null => false,
        serde_yaml::Value::Sequence(items) => !items.is_empty(),
        serde_yaml::Value::Mapping(map) => !map.is_empty(),
        _ => true,
    }
}

fn is_some_set(value: &Option<serde_yaml::Value>) -> bool {
    value.as_ref().is_some_and(is_set)
}

#[cfg(test)]
#[path = "cluster_config_tests.rs"]
mod tests;
