//! CreateCluster, DescribeCluster, ListClusters, DeleteCluster, DescribeClusterVersions.

use std::collections::BTreeMap;

use keelson_aws_core::Principal;
use keelson_aws_core::access::{AccessScope, AccessScopeType, AuthenticationMode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{CLUSTER_ADMIN_POLICY, access_entry_arn, default_username};
use crate::error::{ApiResult, cluster_exists, invalid_parameter, resource_in_use, serialization};
use crate::model::{
    AccessEntryRecord, AssociatedPolicyRecord, ClusterRecord, ClusterStatus, LogSetup,
    NetworkConfig, VpcConfig, now_seconds,
};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;
use crate::validate;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VpcInput {
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_ids: Option<Vec<String>>,
    pub endpoint_public_access: Option<bool>,
    pub endpoint_private_access: Option<bool>,
    pub public_access_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInput {
    service_ipv4_cidr: Option<String>,
    ip_family: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggingInput {
    pub cluster_logging: Option<Vec<LogSetupInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogSetupInput {
    pub types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessConfigInput {
    bootstrap_cluster_creator_admin_permissions: Option<bool>,
    authentication_mode: Option<AuthenticationMode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpgradePolicyInput {
    support_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateClusterInput {
    name: Option<String>,
    version: Option<String>,
    role_arn: Option<String>,
    resources_vpc_config: Option<VpcInput>,
    kubernetes_network_config: Option<NetworkInput>,
    logging: Option<LoggingInput>,
    client_request_token: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    access_config: Option<AccessConfigInput>,
    upgrade_policy: Option<UpgradePolicyInput>,
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|e| serialization(format!("Invalid request body: {e}")))
}

pub(crate) async fn create(inner: &Inner, caller: &Principal, body: Value) -> ApiResult<Value> {
    let input: CreateClusterInput = parse(body)?;
    let name = input
        .name
        .ok_or_else(|| invalid_parameter(None, "The name parameter is required."))?;
    validate::cluster_name(&name)?;
    let token = input.client_request_token;
    if let Some(response) = inner
        .records
        .replay(&name, "CreateCluster", token.as_deref())
        .await?
    {
        return Ok(response);
    }
    let version = input
        .version
        .unwrap_or_else(|| validate::DEFAULT_VERSION.to_string());
    validate::version(&name, &version)?;
    let role_arn = input
        .role_arn
        .ok_or_else(|| invalid_parameter(Some(&name), "The roleArn parameter is required."))?;
    validate::role_arn(&name, &role_arn)?;
    let vpc_input = input.resources_vpc_config.ok_or_else(|| {
        invalid_parameter(Some(&name), "The resourcesVpcConfig parameter is required.")
    })?;
    let vpc = vpc_config(&name, vpc_input, None)?;
    let network = match input.kubernetes_network_config {
        Some(network) => {
            if let Some(family) = network.ip_family.as_deref()
                && family != "ipv4"
            {
                return Err(invalid_parameter(
                    Some(&name),
                    format!(
                        "kubernetesNetworkConfig.ipFamily {family} is not supported: only ipv4"
                    ),
                ));
            }
            let cidr = network
                .service_ipv4_cidr
                .unwrap_or_else(|| DEFAULT_SERVICE_CIDR.into());
            validate::service_cidr(&name, &cidr)?;
            cidr
        }
        None => DEFAULT_SERVICE_CIDR.into(),
    };
    let logging = logging(&name, input.logging, &default_logging())?;
    let tags = input.tags.unwrap_or_default();
    validate::tags(&tags).map_err(|m| invalid_parameter(Some(&name), m))?;
    let access_config = input.access_config;
    let bootstrap = access_config
        .as_ref()
        .and_then(|a| a.bootstrap_cluster_creator_admin_permissions)
        .unwrap_or(true);
    let mode = access_config
        .and_then(|a| a.authentication_mode)
        .unwrap_or(AuthenticationMode::ApiAndConfigMap);
    let support_type = match input.upgrade_policy.and_then(|u| u.support_type) {
        Some(s) if s == "STANDARD" || s == "EXTENDED" => s,
        Some(other) => {
            return Err(invalid_parameter(
                Some(&name),
                format!("upgradePolicy.supportType {other} is invalid: STANDARD or EXTENDED"),
            ));
        }
        None => "EXTENDED".into(),
    };
    let now = now_seconds();
    let mut record = ClusterRecord {
        name: name.clone(),
        id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        arn: inner.cluster_arn(&name),
        created_at: now,
        version,
        target_version: None,
        platform_version: "eks.1".into(),
        role_arn,
        status: ClusterStatus::Creating,
        port: unused_port(inner).await?,
        ca_pem: None,
        vpc,
        network: NetworkConfig {
            service_ipv4_cidr: network,
            ip_family: "ipv4".into(),
            elastic_load_balancing: false,
        },
        logging,
        bootstrap_creator_admin: bootstrap,
        authentication_mode: mode,
        upgrade_support_type: Some(support_type),
        tags,
        client_request_token: token.clone(),
        health_issues: Vec::new(),
        access_entries: Vec::new(),
        updates: Vec::new(),
        nodegroups: Vec::new(),
        next_node_index: 0,
    };
    // The account root is not an access-entry principal (the cluster's API server accepts
    // only IAM users and roles), so a root-created cluster starts without a creator entry.
    if bootstrap && mode.uses_access_entries() && !caller.is_root() {
        let principal = caller.canonical_arn().to_string();
        record.access_entries.push(AccessEntryRecord {
            access_entry_arn: access_entry_arn(inner, &name, &principal),
            username: default_username(&principal),
            principal_arn: principal,
            kubernetes_groups: Vec::new(),
            entry_type: "STANDARD".into(),
            created_at: now,
            modified_at: now,
            tags: BTreeMap::new(),
            policies: vec![AssociatedPolicyRecord {
                policy_arn: CLUSTER_ADMIN_POLICY.into(),
                access_scope: AccessScope {
                    scope_type: AccessScopeType::Cluster,
                    namespaces: Vec::new(),
                },
                associated_at: now,
                modified_at: now,
            }],
        });
    }
    if let Err(existing) = inner.records.create(&record).await? {
        // A retry that lost the race with its own first attempt still gets the first answer.
        if token.is_some() && existing.client_request_token == token {
            if let Some(response) = inner
                .records
                .replay(&name, "CreateCluster", token.as_deref())
                .await?
            {
                return Ok(response);
            }
            return Ok(json!({ "cluster": existing.render(&inner.render_context()) }));
        }
        return Err(cluster_exists(&name));
    }
    let response = json!({ "cluster": record.render(&inner.render_context()) });
    inner
        .records
        .remember(&name, "CreateCluster", token.as_deref(), &response)
        .await?;
    inner.supervisor.ensure(&name);
    tracing::info!(cluster = %name, creator = caller.canonical_arn(), "cluster created");
    Ok(response)
}

const DEFAULT_SERVICE_CIDR: &str = "10.100.0.0/16";

/// A free loopback port no other cluster owns (a stopped cluster keeps its port too).
async fn unused_port(inner: &Inner) -> ApiResult<u16> {
    let owned: Vec<u16> = inner.records.list().await?.iter().map(|r| r.port).collect();
    loop {
        let port = crate::process::free_port()?;
        if !owned.contains(&port) {
            return Ok(port);
        }
    }
}

pub(crate) fn default_logging() -> Vec<LogSetup> {
    vec![LogSetup {
        types: validate::LOG_TYPES.iter().map(|t| t.to_string()).collect(),
        enabled: false,
    }]
}

/// `resourcesVpcConfig` applied over `current` (EKS defaults when creating).
pub(crate) fn vpc_config(
    cluster: &str,
    input: VpcInput,
    current: Option<&VpcConfig>,
) -> ApiResult<VpcConfig> {
    let base = current.cloned().unwrap_or(VpcConfig {
        subnet_ids: Vec::new(),
        security_group_ids: Vec::new(),
        endpoint_public_access: true,
        endpoint_private_access: false,
        public_access_cidrs: vec!["0.0.0.0/0".into()],
    });
    let public = input
        .endpoint_public_access
        .unwrap_or(base.endpoint_public_access);
    let private = input
        .endpoint_private_access
        .unwrap_or(base.endpoint_private_access);
    if !public && !private {
        return Err(invalid_parameter(
            Some(cluster),
            "resourcesVpcConfig: endpointPublicAccess and endpointPrivateAccess cannot both be false",
        ));
    }
    let cidrs = input
        .public_access_cidrs
        .unwrap_or(base.public_access_cidrs);
    validate::public_access_cidrs(cluster, &cidrs)?;
    Ok(VpcConfig {
        subnet_ids: input.subnet_ids.unwrap_or(base.subnet_ids),
        security_group_ids: input.security_group_ids.unwrap_or(base.security_group_ids),
        endpoint_public_access: public,
        endpoint_private_access: private,
        public_access_cidrs: cidrs,
    })
}

/// `logging` applied over `current`: each setup switches its types on or off, as EKS merges.
pub(crate) fn logging(
    cluster: &str,
    input: Option<LoggingInput>,
    current: &[LogSetup],
) -> ApiResult<Vec<LogSetup>> {
    let mut enabled: Vec<String> = current
        .iter()
        .filter(|s| s.enabled)
        .flat_map(|s| s.types.clone())
        .collect();
    for setup in input.and_then(|l| l.cluster_logging).unwrap_or_default() {
        let types = setup.types.unwrap_or_default();
        validate::log_types(cluster, &types)?;
        if setup.enabled.unwrap_or(false) {
            enabled.extend(types);
        } else {
            enabled.retain(|t| !types.contains(t));
        }
    }
    let (on, off): (Vec<&str>, Vec<&str>) = validate::LOG_TYPES
        .iter()
        .partition(|t| enabled.iter().any(|e| e == *t));
    let mut setups = Vec::new();
    for (types, state) in [(on, true), (off, false)] {
        if !types.is_empty() {
            setups.push(LogSetup {
                types: types.into_iter().map(String::from).collect(),
                enabled: state,
            });
        }
    }
    Ok(setups)
}

pub(crate) async fn describe(inner: &Inner, name: &str) -> ApiResult<Value> {
    let record = inner.records.require(name).await?;
    Ok(json!({ "cluster": record.render(&inner.render_context()) }))
}

pub(crate) async fn list(inner: &Inner, query: &[(String, String)]) -> ApiResult<Value> {
    let max = validate::max_results(None, query_value(query, "maxResults"))?;
    let names: Vec<String> = inner
        .records
        .list()
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let page = page(None, names, |n| n, max, query_value(query, "nextToken"))?;
    let mut response = json!({ "clusters": page.items });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

pub(crate) async fn delete(inner: &Inner, name: &str) -> ApiResult<Value> {
    let (already, record) = inner
        .records
        .mutate(name, |record| {
            let already = record.status == ClusterStatus::Deleting;
            if !already && !record.nodegroups.is_empty() {
                return Err(resource_in_use(name, "Cluster has nodegroups attached"));
            }
            record.status = ClusterStatus::Deleting;
            Ok(already)
        })
        .await?;
    // A repeated call answers the same; the deletion already under way finishes the job.
    if !already {
        inner.supervisor.delete(name);
    }
    tracing::info!(cluster = %name, "cluster deleting");
    Ok(json!({ "cluster": record.render(&inner.render_context()) }))
}

/// The versions Keelson serves. Support dates are AWS's business, not a self-hosted
/// cluster's, so every served version is in standard support and no end dates are given.
pub(crate) fn versions(query: &[(String, String)]) -> ApiResult<Value> {
    let max = validate::max_results(None, query_value(query, "maxResults"))?;
    let wanted: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "clusterVersions")
        .map(|(_, v)| v.as_str())
        .collect();
    let default_only = query_value(query, "defaultOnly") == Some("true");
    let status_ok = |status: Option<&str>, value: &str| status.is_none_or(|s| s == value);
    let release_dates = [("1.32", 1_733_875_200.0), ("1.33", 1_745_366_400.0)];
    let mut versions = Vec::new();
    for (version, released) in release_dates {
        let is_default = version == validate::DEFAULT_VERSION;
        if (!wanted.is_empty() && !wanted.contains(&version))
            || (default_only && !is_default)
            || !status_ok(query_value(query, "status"), "standard-support")
            || !status_ok(query_value(query, "versionStatus"), "STANDARD_SUPPORT")
        {
            continue;
        }
        versions.push(json!({
            "clusterVersion": version,
            "clusterType": "eks",
            "defaultPlatformVersion": "eks.1",
            "defaultVersion": is_default,
            "releaseDate": released,
            "status": "standard-support",
            "versionStatus": "STANDARD_SUPPORT",
            "kubernetesPatchVersion": format!("{version}.0"),
        }));
    }
    let page = page(
        None,
        versions,
        |v| v["clusterVersion"].as_str().unwrap_or(""),
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response = json!({ "clusterVersions": page.items });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}
