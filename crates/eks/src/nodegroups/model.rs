//! What the store keeps per node group (inside its cluster's document, so "the cluster has node
//! groups" and "delete the cluster" are decided in one compare-and-swap), and how it renders as
//! EKS's `Nodegroup` shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{HealthIssue, UpdateRecord};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodegroupStatus {
    Creating,
    Active,
    Updating,
    Deleting,
    CreateFailed,
    DeleteFailed,
    Degraded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scaling {
    pub min_size: u32,
    pub max_size: u32,
    pub desired_size: u32,
}

/// A taint as EKS spells it (effect NO_SCHEDULE, ...); [`TaintRecord::kubernetes_effect`] gives
/// the Kubernetes spelling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaintRecord {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
}

impl TaintRecord {
    pub fn kubernetes_effect(&self) -> &'static str {
        match self.effect.as_str() {
            "NO_EXECUTE" => "NoExecute",
            "PREFER_NO_SCHEDULE" => "PreferNoSchedule",
            _ => "NoSchedule",
        }
    }
}

/// One node the group launched. Indexes are unique per cluster (they pick a simulated node's
/// addresses), names are derived from them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub name: String,
    pub index: u32,
    pub zone: String,
    pub instance_type: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodegroupRecord {
    pub name: String,
    pub arn: String,
    pub created_at: f64,
    pub modified_at: f64,
    pub status: NodegroupStatus,
    pub version: String,
    pub release_version: String,
    pub capacity_type: String,
    pub scaling: Scaling,
    pub instance_types: Vec<String>,
    pub subnets: Vec<String>,
    pub ami_type: String,
    pub node_role: String,
    pub disk_size: u32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<TaintRecord>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable_percentage: Option<u32>,
    #[serde(default)]
    pub health_issues: Vec<HealthIssue>,
    #[serde(default)]
    pub nodes: Vec<NodeRecord>,
    #[serde(default)]
    pub updates: Vec<UpdateRecord>,
}

impl NodegroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodegroupStatus::Creating => "CREATING",
            NodegroupStatus::Active => "ACTIVE",
            NodegroupStatus::Updating => "UPDATING",
            NodegroupStatus::Deleting => "DELETING",
            NodegroupStatus::CreateFailed => "CREATE_FAILED",
            NodegroupStatus::DeleteFailed => "DELETE_FAILED",
            NodegroupStatus::Degraded => "DEGRADED",
        }
    }
}

impl NodegroupRecord {
    /// How many nodes may be drained at once: `maxUnavailable`, or the percentage of the
    /// desired size (at least one), as managed node groups' update config says.
    pub fn drain_parallelism(&self) -> usize {
        if let Some(n) = self.max_unavailable {
            return n.max(1) as usize;
        }
        if let Some(pct) = self.max_unavailable_percentage {
            return ((self.scaling.desired_size.max(self.nodes.len() as u32) * pct) / 100).max(1)
                as usize;
        }
        1
    }

    /// The id at the end of the ARN, also used for the (notional) Auto Scaling group's name.
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }

    pub fn render(&self, cluster: &str) -> Value {
        let mut update_config = serde_json::Map::new();
        match (self.max_unavailable, self.max_unavailable_percentage) {
            (_, Some(pct)) => update_config.insert("maxUnavailablePercentage".into(), json!(pct)),
            (n, None) => update_config.insert("maxUnavailable".into(), json!(n.unwrap_or(1))),
        };
        json!({
            "nodegroupName": self.name,
            "nodegroupArn": self.arn,
            "clusterName": cluster,
            "version": self.version,
            "releaseVersion": self.release_version,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "status": self.status.as_str(),
            "capacityType": self.capacity_type,
            "scalingConfig": self.scaling,
            "instanceTypes": self.instance_types,
            "subnets": self.subnets,
            "amiType": self.ami_type,
            "nodeRole": self.node_role,
            "labels": self.labels,
            "taints": self.taints,
            "resources": { "autoScalingGroups": [ { "name": format!("eks-{}-{}", self.name, self.id()) } ] },
            "diskSize": self.disk_size,
            "health": { "issues": self.health_issues.iter().map(|i| json!({"code": i.code, "message": i.message, "resourceIds": i.resource_ids})).collect::<Vec<_>>() },
            "updateConfig": update_config,
            "tags": self.tags,
        })
    }
}
