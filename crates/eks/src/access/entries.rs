//! CreateAccessEntry, DescribeAccessEntry, ListAccessEntries, UpdateAccessEntry,
//! DeleteAccessEntry.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ENTRY_TYPES, access_entry_arn, check_groups, check_username, default_username, find,
    node_username, require_api_mode,
};
use crate::clusters::parse;
use crate::error::{ApiResult, invalid_parameter, resource_in_use};
use crate::model::{AccessEntryRecord, now_seconds};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;
use crate::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    principal_arn: Option<String>,
    kubernetes_groups: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
    client_request_token: Option<String>,
    username: Option<String>,
    #[serde(rename = "type")]
    entry_type: Option<String>,
}

pub(crate) async fn create(inner: &Inner, cluster: &str, body: Value) -> ApiResult<Value> {
    let input: CreateInput = parse(body)?;
    let token = input.client_request_token;
    if let Some(response) = inner
        .records
        .replay(cluster, "CreateAccessEntry", token.as_deref())
        .await?
    {
        return Ok(response);
    }
    let principal = input.principal_arn.ok_or_else(|| {
        invalid_parameter(Some(cluster), "The principalArn parameter is required.")
    })?;
    validate::principal_arn(cluster, &principal)?;
    let entry_type = input.entry_type.unwrap_or_else(|| "STANDARD".into());
    if !ENTRY_TYPES.contains(&entry_type.as_str()) {
        return Err(invalid_parameter(
            Some(cluster),
            format!(
                "type {entry_type} is invalid: one of {}",
                ENTRY_TYPES.join(", ")
            ),
        ));
    }
    let groups = input.kubernetes_groups.unwrap_or_default();
    let username = match node_username(&entry_type) {
        Some(node_user) => {
            if !groups.is_empty() || input.username.is_some() {
                return Err(invalid_parameter(
                    Some(cluster),
                    format!(
                        "An access entry of type {entry_type} takes neither kubernetesGroups nor a username"
                    ),
                ));
            }
            if !principal.contains(":role/") {
                return Err(invalid_parameter(
                    Some(cluster),
                    format!("An access entry of type {entry_type} must name an IAM role"),
                ));
            }
            node_user.to_string()
        }
        None => {
            check_groups(cluster, &groups)?;
            match input.username {
                Some(username) => {
                    check_username(cluster, &username)?;
                    username
                }
                None => default_username(&principal),
            }
        }
    };
    let tags = input.tags.unwrap_or_default();
    validate::tags(&tags).map_err(|m| invalid_parameter(Some(cluster), m))?;
    let now = now_seconds();
    let entry = AccessEntryRecord {
        access_entry_arn: access_entry_arn(inner, cluster, &principal),
        principal_arn: principal.clone(),
        kubernetes_groups: groups,
        username,
        entry_type,
        created_at: now,
        modified_at: now,
        tags,
        policies: Vec::new(),
    };
    let (rendered, record) = inner
        .records
        .mutate(cluster, |record| {
            require_api_mode(record)?;
            if record.access_entry(&principal).is_some() {
                return Err(resource_in_use(
                    cluster,
                    "The specified access entry resource is already in use on this cluster.",
                ));
            }
            record.access_entries.push(entry.clone());
            Ok(entry.render(cluster))
        })
        .await?;
    inner.publish_auth(&record)?;
    let response = json!({ "accessEntry": rendered });
    inner
        .records
        .remember(cluster, "CreateAccessEntry", token.as_deref(), &response)
        .await?;
    Ok(response)
}

pub(crate) async fn describe(inner: &Inner, cluster: &str, principal: &str) -> ApiResult<Value> {
    let record = inner.records.require(cluster).await?;
    Ok(json!({ "accessEntry": find(&record, principal)?.render(cluster) }))
}

pub(crate) async fn list(
    inner: &Inner,
    cluster: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let max = validate::max_results(Some(cluster), query_value(query, "maxResults"))?;
    let record = inner.records.require(cluster).await?;
    require_api_mode(&record)?;
    let policy = query_value(query, "associatedPolicyArn");
    let mut principals: Vec<String> = record
        .access_entries
        .iter()
        .filter(|e| policy.is_none_or(|p| e.policies.iter().any(|a| a.policy_arn == p)))
        .map(|e| e.principal_arn.clone())
        .collect();
    principals.sort();
    let page = page(
        Some(cluster),
        principals,
        |p| p,
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response = json!({ "accessEntries": page.items });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    kubernetes_groups: Option<Vec<String>>,
    client_request_token: Option<String>,
    username: Option<String>,
}

pub(crate) async fn update(
    inner: &Inner,
    cluster: &str,
    principal: &str,
    body: Value,
) -> ApiResult<Value> {
    let input: UpdateInput = parse(body)?;
    let token = input.client_request_token;
    let operation = format!("UpdateAccessEntry/{principal}");
    if let Some(response) = inner
        .records
        .replay(cluster, &operation, token.as_deref())
        .await?
    {
        return Ok(response);
    }
    if let Some(groups) = &input.kubernetes_groups {
        check_groups(cluster, groups)?;
    }
    if let Some(username) = &input.username {
        check_username(cluster, username)?;
    }
    let (rendered, record) = inner
        .records
        .mutate(cluster, |record| {
            find(record, principal)?;
            let entry = record.access_entry_mut(principal).expect("found above");
            if node_username(&entry.entry_type).is_some()
                && (input.kubernetes_groups.is_some() || input.username.is_some())
            {
                return Err(invalid_parameter(
                    Some(cluster),
                    format!(
                        "An access entry of type {} takes neither kubernetesGroups nor a username",
                        entry.entry_type
                    ),
                ));
            }
            if let Some(groups) = &input.kubernetes_groups {
                entry.kubernetes_groups = groups.clone();
            }
            if let Some(username) = &input.username {
                entry.username = username.clone();
            }
            entry.modified_at = now_seconds();
            Ok(entry.render(cluster))
        })
        .await?;
    inner.publish_auth(&record)?;
    let response = json!({ "accessEntry": rendered });
    inner
        .records
        .remember(cluster, &operation, token.as_deref(), &response)
        .await?;
    Ok(response)
}

pub(crate) async fn delete(inner: &Inner, cluster: &str, principal: &str) -> ApiResult<Value> {
    let (_, record) = inner
        .records
        .mutate(cluster, |record| {
            find(record, principal)?;
            record
                .access_entries
                .retain(|e| e.principal_arn != principal);
            Ok(())
        })
        .await?;
    inner.publish_auth(&record)?;
    Ok(json!({}))
}
