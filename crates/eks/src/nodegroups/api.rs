//! CreateNodegroup, DescribeNodegroup, ListNodegroups, DeleteNodegroup, UpdateNodegroupConfig.
//! The handlers only change the record; each group's controller ([`super::controller`]) makes
//! the nodes match it.

use std::collections::BTreeMap;

use keelson_aws_core::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalogue::DEFAULT_INSTANCE_TYPE;
use super::model::{NodegroupRecord, NodegroupStatus, Scaling, TaintRecord};
use super::validate;
use crate::clusters::parse;
use crate::error::{ApiResult, invalid_request};
use crate::model::{ClusterRecord, ClusterStatus, UpdateRecord, now_seconds};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct ScalingInput {
    min_size: Option<u32>,
    max_size: Option<u32>,
    desired_size: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UpdateConfigInput {
    max_unavailable: Option<u32>,
    max_unavailable_percentage: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    nodegroup_name: Option<String>,
    scaling_config: Option<ScalingInput>,
    disk_size: Option<u32>,
    subnets: Option<Vec<String>>,
    instance_types: Option<Vec<String>>,
    ami_type: Option<String>,
    node_role: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    taints: Option<Vec<TaintRecord>>,
    tags: Option<BTreeMap<String, String>>,
    client_request_token: Option<String>,
    update_config: Option<UpdateConfigInput>,
    capacity_type: Option<String>,
    version: Option<String>,
}

pub fn not_found(cluster: &str, group: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("No node group found for name: {group}."),
    )
    .with("clusterName", cluster)
    .with("nodegroupName", group)
}

pub fn group_mut<'a>(
    record: &'a mut ClusterRecord,
    group: &str,
) -> ApiResult<&'a mut NodegroupRecord> {
    let cluster = record.name.clone();
    record
        .nodegroups
        .iter_mut()
        .find(|g| g.name == group)
        .ok_or_else(|| not_found(&cluster, group))
}

pub(crate) async fn create(inner: &Inner, cluster: &str, body: Value) -> ApiResult<Value> {
    let input: CreateInput = parse(body)?;
    let name = input.nodegroup_name.ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidParameterException",
            "The nodegroupName parameter is required.",
        )
        .with("clusterName", cluster)
    })?;
    validate::name(cluster, &name)?;
    let token = input.client_request_token;
    let operation = format!("CreateNodegroup/{name}");
    if let Some(response) = inner
        .records
        .replay(cluster, &operation, token.as_deref())
        .await?
    {
        return Ok(response);
    }
    let invalid = |m: &str| validate::invalid(cluster, &name, m);
    let node_role = input
        .node_role
        .ok_or_else(|| invalid("nodeRole is required."))?;
    crate::validate::role_arn(cluster, &node_role)
        .map_err(|e| e.with("nodegroupName", name.as_str()))?;
    let subnets = input.subnets.unwrap_or_default();
    if subnets.is_empty() {
        return Err(invalid("subnets must name at least one subnet."));
    }
    let given = input.scaling_config.unwrap_or_default();
    let scaling = Scaling {
        min_size: given.min_size.unwrap_or(1),
        max_size: given.max_size.unwrap_or(2),
        desired_size: given.desired_size.unwrap_or(2),
    };
    validate::scaling(cluster, &name, scaling)?;
    let instance_types = input
        .instance_types
        .unwrap_or_else(|| vec![DEFAULT_INSTANCE_TYPE.to_string()]);
    validate::instance_types(cluster, &name, &instance_types)?;
    let capacity_type = input.capacity_type.unwrap_or_else(|| "ON_DEMAND".into());
    validate::capacity_type(cluster, &name, &capacity_type)?;
    let labels = input.labels.unwrap_or_default();
    validate::labels(cluster, &name, &labels)?;
    let taints = input.taints.unwrap_or_default();
    validate::taints(cluster, &name, &taints)?;
    let tags = input.tags.unwrap_or_default();
    crate::validate::tags(&tags).map_err(|m| invalid(&m))?;
    let update_config = input.update_config.unwrap_or_default();
    validate::update_config(
        cluster,
        &name,
        update_config.max_unavailable,
        update_config.max_unavailable_percentage,
    )?;
    let now = now_seconds();
    let (group, _) = inner
        .records
        .mutate(cluster, |record| {
            if record.status != ClusterStatus::Active {
                return Err(invalid_request(cluster, format!("Cluster '{cluster}' is not in ACTIVE status")));
            }
            if let Some(version) = &input.version
                && *version != record.version
            {
                return Err(invalid(&format!(
                    "version {version} is invalid: a node group is created at its cluster's version {}",
                    record.version
                )));
            }
            if record.nodegroups.iter().any(|g| g.name == name) {
                return Err(AwsError::new(
                    409,
                    "ResourceInUseException",
                    format!("NodeGroup already exists with name {name} and cluster name {cluster}"),
                )
                .with("clusterName", cluster)
                .with("nodegroupName", name.as_str()));
            }
            let group = NodegroupRecord {
                name: name.clone(),
                arn: format!(
                    "arn:aws:eks:{}:{}:nodegroup/{cluster}/{name}/{}",
                    inner.region,
                    inner.account_id,
                    uuid::Uuid::new_v4()
                ),
                created_at: now,
                modified_at: now,
                status: NodegroupStatus::Creating,
                version: record.version.clone(),
                release_version: format!("{}.0-keelson", record.version),
                capacity_type: capacity_type.clone(),
                scaling,
                instance_types: instance_types.clone(),
                subnets: subnets.clone(),
                ami_type: input.ami_type.clone().unwrap_or_else(|| "AL2023_x86_64_STANDARD".into()),
                node_role: node_role.clone(),
                disk_size: input.disk_size.unwrap_or(20),
                labels: labels.clone(),
                taints: taints.clone(),
                tags: tags.clone(),
                max_unavailable: update_config.max_unavailable,
                max_unavailable_percentage: update_config.max_unavailable_percentage,
                health_issues: Vec::new(),
                nodes: Vec::new(),
                updates: Vec::new(),
            };
            record.nodegroups.push(group.clone());
            record.nodegroups.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(group)
        })
        .await?;
    let response = json!({ "nodegroup": group.render(cluster) });
    inner
        .records
        .remember(cluster, &operation, token.as_deref(), &response)
        .await?;
    inner.nodegroups.ensure(cluster, &name);
    tracing::info!(cluster, nodegroup = %name, desired = scaling.desired_size, "node group created");
    Ok(response)
}

pub(crate) async fn describe(inner: &Inner, cluster: &str, group: &str) -> ApiResult<Value> {
    let record = inner.records.require(cluster).await?;
    let group = record
        .nodegroups
        .iter()
        .find(|g| g.name == group)
        .ok_or_else(|| not_found(cluster, group))?;
    Ok(json!({ "nodegroup": group.render(cluster) }))
}

pub(crate) async fn list(
    inner: &Inner,
    cluster: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let max = crate::validate::max_results(Some(cluster), query_value(query, "maxResults"))?;
    let record = inner.records.require(cluster).await?;
    let names: Vec<String> = record.nodegroups.into_iter().map(|g| g.name).collect();
    let page = page(
        Some(cluster),
        names,
        |n| n,
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response = json!({ "nodegroups": page.items });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

pub(crate) async fn delete(inner: &Inner, cluster: &str, group: &str) -> ApiResult<Value> {
    let (rendered, _) = inner
        .records
        .mutate(cluster, |record| {
            let g = group_mut(record, group)?;
            if g.status != NodegroupStatus::Deleting {
                g.status = NodegroupStatus::Deleting;
                g.modified_at = now_seconds();
            }
            Ok(g.render(cluster))
        })
        .await?;
    inner.nodegroups.ensure(cluster, group);
    tracing::info!(cluster, nodegroup = group, "node group deleting");
    Ok(json!({ "nodegroup": rendered }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LabelsPayload {
    add_or_update_labels: Option<BTreeMap<String, String>>,
    remove_labels: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TaintsPayload {
    add_or_update_taints: Option<Vec<TaintRecord>>,
    remove_taints: Option<Vec<TaintRecord>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    labels: Option<LabelsPayload>,
    taints: Option<TaintsPayload>,
    scaling_config: Option<ScalingInput>,
    update_config: Option<UpdateConfigInput>,
    client_request_token: Option<String>,
}

pub(crate) async fn update_config(
    inner: &Inner,
    cluster: &str,
    group: &str,
    body: Value,
) -> ApiResult<Value> {
    let input: UpdateInput = parse(body)?;
    let token = input.client_request_token;
    let operation = format!("UpdateNodegroupConfig/{group}");
    if let Some(response) = inner
        .records
        .replay(cluster, &operation, token.as_deref())
        .await?
    {
        return Ok(response);
    }
    if input.labels.is_none()
        && input.taints.is_none()
        && input.scaling_config.is_none()
        && input.update_config.is_none()
    {
        return Err(validate::invalid(
            cluster,
            group,
            "No changes needed: give labels, taints, scalingConfig or updateConfig",
        ));
    }
    let labels = input.labels.unwrap_or_default();
    let taints = input.taints.unwrap_or_default();
    let (update, _) = inner
        .records
        .mutate(cluster, |record| {
            let g = group_mut(record, group)?;
            if !matches!(
                g.status,
                NodegroupStatus::Active | NodegroupStatus::Degraded
            ) || g.updates.iter().any(|u| u.status == "InProgress")
            {
                return Err(AwsError::new(
                    409,
                    "ResourceInUseException",
                    format!(
                        "Nodegroup {group} is currently in {} status and cannot be updated",
                        g.status.as_str()
                    ),
                )
                .with("clusterName", cluster)
                .with("nodegroupName", group));
            }
            let mut params = Vec::new();
            if let Some(s) = input.scaling_config {
                let next = Scaling {
                    min_size: s.min_size.unwrap_or(g.scaling.min_size),
                    max_size: s.max_size.unwrap_or(g.scaling.max_size),
                    desired_size: s.desired_size.unwrap_or(g.scaling.desired_size),
                };
                validate::scaling(cluster, group, next)?;
                for (name, given, value) in [
                    ("MinSize", s.min_size, next.min_size),
                    ("MaxSize", s.max_size, next.max_size),
                    ("DesiredSize", s.desired_size, next.desired_size),
                ] {
                    if given.is_some() {
                        params.push((name.to_string(), value.to_string()));
                    }
                }
                g.scaling = next;
            }
            let add = labels.add_or_update_labels.clone().unwrap_or_default();
            let remove = labels.remove_labels.clone().unwrap_or_default();
            if let Some(key) = remove.iter().find(|k| add.contains_key(*k)) {
                return Err(validate::invalid(
                    cluster,
                    group,
                    format!("labels: {key} is both added and removed"),
                ));
            }
            if !add.is_empty() || !remove.is_empty() {
                let mut next = g.labels.clone();
                next.extend(add.clone());
                next.retain(|k, _| !remove.contains(k));
                validate::labels(cluster, group, &next)?;
                g.labels = next;
                if !add.is_empty() {
                    params.push(("LabelsToAdd".into(), json!(add).to_string()));
                }
                if !remove.is_empty() {
                    params.push(("LabelsToRemove".into(), json!(remove).to_string()));
                }
            }
            let add = taints.add_or_update_taints.clone().unwrap_or_default();
            let remove = taints.remove_taints.clone().unwrap_or_default();
            if !add.is_empty() || !remove.is_empty() {
                let mut next = g.taints.clone();
                let same =
                    |a: &TaintRecord, b: &TaintRecord| a.key == b.key && a.effect == b.effect;
                next.retain(|t| {
                    !remove.iter().any(|r| same(r, t)) && !add.iter().any(|a| same(a, t))
                });
                next.extend(add.clone());
                validate::taints(cluster, group, &next)?;
                g.taints = next;
                if !add.is_empty() {
                    params.push(("TaintsToAdd".into(), json!(add).to_string()));
                }
                if !remove.is_empty() {
                    params.push(("TaintsToRemove".into(), json!(remove).to_string()));
                }
            }
            if let Some(u) = &input.update_config {
                validate::update_config(
                    cluster,
                    group,
                    u.max_unavailable,
                    u.max_unavailable_percentage,
                )?;
                if let Some(n) = u.max_unavailable {
                    g.max_unavailable = Some(n);
                    g.max_unavailable_percentage = None;
                    params.push(("MaxUnavailable".into(), n.to_string()));
                }
                if let Some(p) = u.max_unavailable_percentage {
                    g.max_unavailable_percentage = Some(p);
                    g.max_unavailable = None;
                    params.push(("MaxUnavailablePercentage".into(), p.to_string()));
                }
            }
            let update = UpdateRecord {
                id: uuid::Uuid::new_v4().to_string(),
                status: "InProgress".into(),
                update_type: "ConfigUpdate".into(),
                params,
                created_at: now_seconds(),
                errors: Vec::new(),
            };
            g.updates.push(update.clone());
            g.status = NodegroupStatus::Updating;
            g.modified_at = now_seconds();
            Ok(update)
        })
        .await?;
    let response = json!({ "update": update.render() });
    inner
        .records
        .remember(cluster, &operation, token.as_deref(), &response)
        .await?;
    inner.nodegroups.ensure(cluster, group);
    Ok(response)
}
