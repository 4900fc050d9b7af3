//! UpdateClusterVersion, UpdateClusterConfig, DescribeUpdate, ListUpdates. A version update
//! restarts the control plane at the new version on the same data (the supervisor finishes
//! the update once `/readyz` answers); configuration updates take effect at once.

use keelson_aws_core::access::AuthenticationMode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clusters::{LoggingInput, VpcInput, logging, parse, vpc_config};
use crate::error::{
    ApiResult, invalid_parameter, invalid_request, resource_in_use, resource_not_found,
};
use crate::model::{ClusterRecord, ClusterStatus, UpdateRecord, now_seconds};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;
use crate::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionInput {
    version: Option<String>,
    client_request_token: Option<String>,
}

fn require_active(record: &ClusterRecord) -> ApiResult<()> {
    if record.updates.iter().any(|u| u.status == "InProgress") {
        return Err(resource_in_use(
            &record.name,
            "Cluster has an update in progress",
        ));
    }
    if record.status != ClusterStatus::Active {
        return Err(invalid_request(
            &record.name,
            format!("Cluster '{}' is not in ACTIVE status", record.name),
        ));
    }
    Ok(())
}

fn new_update(update_type: &str, status: &str, params: Vec<(String, String)>) -> UpdateRecord {
    UpdateRecord {
        id: uuid::Uuid::new_v4().to_string(),
        status: status.into(),
        update_type: update_type.into(),
        params,
        created_at: now_seconds(),
        errors: Vec::new(),
    }
}

pub(crate) async fn update_version(inner: &Inner, cluster: &str, body: Value) -> ApiResult<Value> {
    let input: VersionInput = parse(body)?;
    let token = input.client_request_token;
    if let Some(response) = inner
        .records
        .replay(cluster, "UpdateClusterVersion", token.as_deref())
        .await?
    {
        return Ok(response);
    }
    let version = input
        .version
        .ok_or_else(|| invalid_parameter(Some(cluster), "The version parameter is required."))?;
    validate::version(cluster, &version)?;
    let (update, _) = inner
        .records
        .mutate(cluster, |record| {
            require_active(record)?;
            let current = minor(&record.version);
            let wanted = minor(&version);
            if wanted == current {
                return Err(invalid_parameter(
                    Some(cluster),
                    format!("Unsupported Kubernetes minor version update from {} to {version}", record.version),
                ));
            }
            if wanted != current.map(|m| m + 1) {
                return Err(invalid_parameter(
                    Some(cluster),
                    format!(
                        "Unsupported Kubernetes minor version update from {} to {version}: a cluster moves one minor version at a time",
                        record.version
                    ),
                ));
            }
            let update = new_update(
                "VersionUpdate",
                "InProgress",
                vec![
                    ("Version".into(), version.clone()),
                    ("PlatformVersion".into(), record.platform_version.clone()),
                ],
            );
            record.target_version = Some(version.clone());
            record.status = ClusterStatus::Updating;
            record.updates.push(update.clone());
            Ok(update)
        })
        .await?;
    inner.supervisor.restart(cluster);
    let response = json!({ "update": update.render() });
    inner
        .records
        .remember(cluster, "UpdateClusterVersion", token.as_deref(), &response)
        .await?;
    Ok(response)
}

fn minor(version: &str) -> Option<u32> {
    version.strip_prefix("1.")?.parse().ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigInput {
    resources_vpc_config: Option<VpcInput>,
    logging: Option<LoggingInput>,
    client_request_token: Option<String>,
    access_config: Option<AccessInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessInput {
    authentication_mode: Option<AuthenticationMode>,
}

fn mode_rank(mode: AuthenticationMode) -> u8 {
    match mode {
        AuthenticationMode::ConfigMap => 0,
        AuthenticationMode::ApiAndConfigMap => 1,
        AuthenticationMode::Api => 2,
    }
}

pub(crate) async fn update_config(inner: &Inner, cluster: &str, body: Value) -> ApiResult<Value> {
    let input: ConfigInput = parse(body)?;
    let token = input.client_request_token;
    if let Some(response) = inner
        .records
        .replay(cluster, "UpdateClusterConfig", token.as_deref())
        .await?
    {
        return Ok(response);
    }
    let given = [
        input.resources_vpc_config.is_some(),
        input.logging.is_some(),
        input
            .access_config
            .as_ref()
            .is_some_and(|a| a.authentication_mode.is_some()),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(invalid_parameter(
            Some(cluster),
            "Exactly one of resourcesVpcConfig, logging or accessConfig.authenticationMode must be updated per request",
        ));
    }
    let mut vpc_input = input.resources_vpc_config;
    let mut logging_input = input.logging;
    let mode = input.access_config.and_then(|a| a.authentication_mode);
    let (update, record) = inner
        .records
        .mutate(cluster, |record| {
            require_active(record)?;
            let update = if let Some(vpc) = vpc_input.take() {
                let next = vpc_config(cluster, vpc, Some(&record.vpc))?;
                let params = vec![
                    (
                        "EndpointPublicAccess".into(),
                        next.endpoint_public_access.to_string(),
                    ),
                    (
                        "EndpointPrivateAccess".into(),
                        next.endpoint_private_access.to_string(),
                    ),
                    (
                        "PublicAccessCidrs".into(),
                        serde_json::to_string(&next.public_access_cidrs)
                            .expect("strings serialise"),
                    ),
                ];
                record.vpc = next;
                new_update("EndpointAccessUpdate", "Successful", params)
            } else if let Some(requested) = logging_input.take() {
                let next = logging(cluster, Some(requested), &record.logging)?;
                let value = json!({ "clusterLogging": next }).to_string();
                record.logging = next;
                new_update(
                    "LoggingUpdate",
                    "Successful",
                    vec![("ClusterLogging".into(), value)],
                )
            } else {
                let mode = mode.expect("one member is set");
                if mode_rank(mode) < mode_rank(record.authentication_mode) {
                    return Err(invalid_parameter(
                        Some(cluster),
                        format!(
                            "Unsupported authentication mode update from {} to {}",
                            mode_name(record.authentication_mode),
                            mode_name(mode)
                        ),
                    ));
                }
                if mode == record.authentication_mode {
                    return Err(invalid_parameter(
                        Some(cluster),
                        format!(
                            "The cluster already uses authentication mode {}",
                            mode_name(mode)
                        ),
                    ));
                }
                record.authentication_mode = mode;
                new_update(
                    "AccessConfigUpdate",
                    "Successful",
                    vec![("AuthenticationMode".into(), mode_name(mode).into())],
                )
            };
            record.updates.push(update.clone());
            Ok(update)
        })
        .await?;
    inner.publish_auth(&record)?;
    let response = json!({ "update": update.render() });
    inner
        .records
        .remember(cluster, "UpdateClusterConfig", token.as_deref(), &response)
        .await?;
    Ok(response)
}

fn mode_name(mode: AuthenticationMode) -> &'static str {
    match mode {
        AuthenticationMode::ConfigMap => "CONFIG_MAP",
        AuthenticationMode::ApiAndConfigMap => "API_AND_CONFIG_MAP",
        AuthenticationMode::Api => "API",
    }
}

fn no_subresources(cluster: &str, query: &[(String, String)]) -> ApiResult<()> {
    for (key, kind) in [("addonName", "add-on"), ("capabilityName", "capability")] {
        if let Some(name) = query_value(query, key) {
            return Err(resource_not_found(
                cluster,
                format!("No {kind} found for name: {name}."),
            ));
        }
    }
    Ok(())
}

/// The cluster's updates, or its node group's when the query names one.
fn updates_of<'a>(
    record: &'a ClusterRecord,
    query: &[(String, String)],
) -> ApiResult<&'a [UpdateRecord]> {
    match query_value(query, "nodegroupName") {
        None => Ok(&record.updates),
        Some(group) => record
            .nodegroups
            .iter()
            .find(|g| g.name == group)
            .map(|g| g.updates.as_slice())
            .ok_or_else(|| crate::nodegroups::api::not_found(&record.name, group)),
    }
}

pub(crate) async fn describe(
    inner: &Inner,
    cluster: &str,
    id: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let record = inner.records.require(cluster).await?;
    no_subresources(cluster, query)?;
    let updates = updates_of(&record, query)?;
    match updates.iter().find(|u| u.id == id) {
        Some(update) => Ok(json!({ "update": update.render() })),
        None => Err(resource_not_found(
            cluster,
            format!("No update found for ID: {id}."),
        )),
    }
}

pub(crate) async fn list(
    inner: &Inner,
    cluster: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let max = validate::max_results(Some(cluster), query_value(query, "maxResults"))?;
    let record = inner.records.require(cluster).await?;
    no_subresources(cluster, query)?;
    // Paged by position in creation order; the token carries the id to resume at.
    let ids: Vec<(String, String)> = updates_of(&record, query)?
        .iter()
        .enumerate()
        .map(|(i, u)| (format!("{i:08}"), u.id.clone()))
        .collect();
    let page = page(
        Some(cluster),
        ids,
        |(position, _)| position,
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response =
        json!({ "updateIds": page.items.into_iter().map(|(_, id)| id).collect::<Vec<_>>() });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}
