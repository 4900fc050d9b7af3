//! What the store keeps per cluster (one JSON document, changed by compare-and-swap), and how
//! it renders as EKS's `Cluster` shape. Everything a cluster owns (access entries, updates) lives
//! in its document, so one write changes the cluster and its auth config together.

use std::collections::BTreeMap;

use keelson_aws_core::access::AuthenticationMode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    Creating,
    Active,
    Updating,
    Deleting,
    Failed,
}

impl ClusterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Creating => "CREATING",
            ClusterStatus::Active => "ACTIVE",
            ClusterStatus::Updating => "UPDATING",
            ClusterStatus::Deleting => "DELETING",
            ClusterStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRecord {
    pub name: String,
    /// Random id, used in the OIDC issuer URL.
    pub id: String,
    pub arn: String,
    pub created_at: f64,
    pub version: String,
    /// The version the control plane is being moved to by an in-progress VersionUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    pub platform_version: String,
    pub role_arn: String,
    pub status: ClusterStatus,
    /// The control plane's HTTPS port on 127.0.0.1, kept across restarts.
    pub port: u16,
    /// The cluster CA (PEM), once the control plane has created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    pub vpc: VpcConfig,
    pub network: NetworkConfig,
    pub logging: Vec<LogSetup>,
    pub bootstrap_creator_admin: bool,
    pub authentication_mode: AuthenticationMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_support_type: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
    #[serde(default)]
    pub health_issues: Vec<HealthIssue>,
    #[serde(default)]
    pub access_entries: Vec<AccessEntryRecord>,
    #[serde(default)]
    pub updates: Vec<UpdateRecord>,
    #[serde(default)]
    pub nodegroups: Vec<crate::nodegroups::model::NodegroupRecord>,
    /// The next node index to hand out: indexes stay unique across the cluster's node groups
    /// (a simulated node's addresses are derived from its index).
    #[serde(default)]
    pub next_node_index: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcConfig {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    pub public_access_cidrs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfig {
    pub service_ipv4_cidr: String,
    pub ip_family: String,
    pub elastic_load_balancing: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSetup {
    pub types: Vec<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthIssue {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub resource_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntryRecord {
    pub principal_arn: String,
    pub access_entry_arn: String,
    pub kubernetes_groups: Vec<String>,
    pub username: String,
    #[serde(rename = "type")]
    pub entry_type: String,
    pub created_at: f64,
    pub modified_at: f64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub policies: Vec<AssociatedPolicyRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedPolicyRecord {
    pub policy_arn: String,
    pub access_scope: keelson_aws_core::access::AccessScope,
    pub associated_at: f64,
    pub modified_at: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecord {
    pub id: String,
    pub status: String,
    #[serde(rename = "type")]
    pub update_type: String,
    pub params: Vec<(String, String)>,
    pub created_at: f64,
    #[serde(default)]
    pub errors: Vec<(String, String)>,
}

impl UpdateRecord {
    pub fn render(&self) -> Value {
        let mut update = json!({
            "id": self.id,
            "status": self.status,
            "type": self.update_type,
            "params": self.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            "createdAt": self.created_at,
            "errors": self.errors.iter().map(|(code, message)| json!({"errorCode": code, "errorMessage": message})).collect::<Vec<_>>(),
        });
        if self.params.is_empty() {
            update.as_object_mut().map(|u| u.remove("params"));
        }
        update
    }
}

/// Issue codes the supervisor sets and clears.
pub const ISSUE_UNREACHABLE: &str = "ClusterUnreachable";

/// Where the service publishes things the rendering needs but the record does not hold.
pub struct RenderContext<'a> {
    /// Base URL of the regional service's STS (and OIDC) endpoint.
    pub issuer_base: &'a str,
}

impl ClusterRecord {
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The `Cluster` shape, omitting members that have no value yet.
    pub fn render(&self, context: &RenderContext<'_>) -> Value {
        let mut cluster = Map::new();
        let mut put = |key: &str, value: Value| {
            cluster.insert(key.into(), value);
        };
        put("name", json!(self.name));
        put("arn", json!(self.arn));
        put("createdAt", json!(self.created_at));
        put("version", json!(self.version));
        put("roleArn", json!(self.role_arn));
        put("status", json!(self.status.as_str()));
        put("platformVersion", json!(self.platform_version));
        if self.status != ClusterStatus::Creating || self.ca_pem.is_some() {
            put("endpoint", json!(self.endpoint()));
        }
        if let Some(ca) = &self.ca_pem {
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(ca);
            put("certificateAuthority", json!({ "data": data }));
        }
        put(
            "resourcesVpcConfig",
            json!({
                "subnetIds": self.vpc.subnet_ids,
                "securityGroupIds": self.vpc.security_group_ids,
                "endpointPublicAccess": self.vpc.endpoint_public_access,
                "endpointPrivateAccess": self.vpc.endpoint_private_access,
                "publicAccessCidrs": self.vpc.public_access_cidrs,
            }),
        );
        put(
            "kubernetesNetworkConfig",
            json!({
                "serviceIpv4Cidr": self.network.service_ipv4_cidr,
                "ipFamily": self.network.ip_family,
                "elasticLoadBalancing": { "enabled": self.network.elastic_load_balancing },
            }),
        );
        put(
            "logging",
            json!({ "clusterLogging": self.logging.iter().map(|l| json!({"types": l.types, "enabled": l.enabled})).collect::<Vec<_>>() }),
        );
        put(
            "identity",
            json!({ "oidc": { "issuer": format!("{}/oidc/id/{}", context.issuer_base.trim_end_matches('/'), self.id) } }),
        );
        put(
            "accessConfig",
            json!({
                "bootstrapClusterCreatorAdminPermissions": self.bootstrap_creator_admin,
                "authenticationMode": self.authentication_mode,
            }),
        );
        if let Some(support) = &self.upgrade_support_type {
            put("upgradePolicy", json!({ "supportType": support }));
        }
        put("tags", json!(self.tags));
        if let Some(token) = &self.client_request_token {
            put("clientRequestToken", json!(token));
        }
        put(
            "health",
            json!({ "issues": self.health_issues.iter().map(|i| json!({"code": i.code, "message": i.message, "resourceIds": i.resource_ids})).collect::<Vec<_>>() }),
        );
        Value::Object(cluster)
    }

    pub fn access_entry(&self, principal_arn: &str) -> Option<&AccessEntryRecord> {
        self.access_entries
            .iter()
            .find(|e| e.principal_arn == principal_arn)
    }

    pub fn access_entry_mut(&mut self, principal_arn: &str) -> Option<&mut AccessEntryRecord> {
        self.access_entries
            .iter_mut()
            .find(|e| e.principal_arn == principal_arn)
    }

    /// The version the control plane should run now.
    pub fn running_version(&self) -> &str {
        self.target_version.as_deref().unwrap_or(&self.version)
    }
}

impl AccessEntryRecord {
    pub fn render(&self, cluster: &str) -> Value {
        json!({
            "clusterName": cluster,
            "principalArn": self.principal_arn,
            "kubernetesGroups": self.kubernetes_groups,
            "accessEntryArn": self.access_entry_arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": self.tags,
            "username": self.username,
            "type": self.entry_type,
        })
    }
}

impl AssociatedPolicyRecord {
    pub fn render(&self) -> Value {
        json!({
            "policyArn": self.policy_arn,
            "accessScope": self.access_scope,
            "associatedAt": self.associated_at,
            "modifiedAt": self.modified_at,
        })
    }
}

/// Seconds since the epoch, with millisecond precision, as EKS's JSON timestamps.
pub fn now_seconds() -> f64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_millis() as f64) / 1000.0
}
