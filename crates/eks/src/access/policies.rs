//! AssociateAccessPolicy, DisassociateAccessPolicy, ListAssociatedAccessPolicies and the
//! ListAccessPolicies catalogue.

use keelson_aws_core::access::{ACCESS_POLICIES, AccessScope, AccessScopeType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{find, node_username};
use crate::clusters::parse;
use crate::error::{ApiResult, invalid_parameter, invalid_request, resource_not_found};
use crate::model::{AssociatedPolicyRecord, now_seconds};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;
use crate::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociateInput {
    policy_arn: Option<String>,
    access_scope: Option<ScopeInput>,
}

#[derive(Deserialize)]
struct ScopeInput {
    #[serde(rename = "type")]
    scope_type: Option<AccessScopeType>,
    namespaces: Option<Vec<String>>,
}

pub(crate) async fn associate(
    inner: &Inner,
    cluster: &str,
    principal: &str,
    body: Value,
) -> ApiResult<Value> {
    let input: AssociateInput = parse(body)?;
    let policy = input
        .policy_arn
        .ok_or_else(|| invalid_parameter(Some(cluster), "The policyArn parameter is required."))?;
    if !ACCESS_POLICIES.iter().any(|(arn, _)| *arn == policy) {
        return Err(invalid_parameter(
            Some(cluster),
            format!("policyArn {policy} is not an access policy; see list-access-policies"),
        ));
    }
    let scope = input.access_scope.ok_or_else(|| {
        invalid_parameter(Some(cluster), "The accessScope parameter is required.")
    })?;
    let scope_type = scope.scope_type.ok_or_else(|| {
        invalid_parameter(
            Some(cluster),
            "accessScope.type is required: cluster or namespace",
        )
    })?;
    let namespaces = scope.namespaces.unwrap_or_default();
    match scope_type {
        AccessScopeType::Cluster if !namespaces.is_empty() => {
            return Err(invalid_parameter(
                Some(cluster),
                "accessScope.namespaces must be empty for a cluster scope",
            ));
        }
        AccessScopeType::Namespace
            if namespaces.is_empty() || namespaces.iter().any(String::is_empty) =>
        {
            return Err(invalid_parameter(
                Some(cluster),
                "accessScope.namespaces must list at least one namespace for a namespace scope",
            ));
        }
        _ => {}
    }
    let access_scope = AccessScope {
        scope_type,
        namespaces,
    };
    let (rendered, record) = inner
        .records
        .mutate(cluster, |record| {
            find(record, principal)?;
            let entry = record.access_entry_mut(principal).expect("found above");
            if node_username(&entry.entry_type).is_some() {
                return Err(invalid_request(
                    cluster,
                    format!(
                        "Access policies cannot be associated with an access entry of type {}",
                        entry.entry_type
                    ),
                ));
            }
            let now = now_seconds();
            let associated = match entry.policies.iter_mut().find(|p| p.policy_arn == policy) {
                Some(existing) => {
                    existing.access_scope = access_scope.clone();
                    existing.modified_at = now;
                    existing.clone()
                }
                None => {
                    let new = AssociatedPolicyRecord {
                        policy_arn: policy.clone(),
                        access_scope: access_scope.clone(),
                        associated_at: now,
                        modified_at: now,
                    };
                    entry.policies.push(new.clone());
                    new
                }
            };
            Ok(associated.render())
        })
        .await?;
    inner.publish_auth(&record)?;
    Ok(json!({
        "clusterName": cluster,
        "principalArn": principal,
        "associatedAccessPolicy": rendered,
    }))
}

pub(crate) async fn disassociate(
    inner: &Inner,
    cluster: &str,
    principal: &str,
    policy: &str,
) -> ApiResult<Value> {
    let (_, record) = inner
        .records
        .mutate(cluster, |record| {
            find(record, principal)?;
            let entry = record.access_entry_mut(principal).expect("found above");
            if !entry.policies.iter().any(|p| p.policy_arn == policy) {
                return Err(resource_not_found(
                    cluster,
                    format!("The access policy {policy} is not associated with {principal}."),
                ));
            }
            entry.policies.retain(|p| p.policy_arn != policy);
            Ok(())
        })
        .await?;
    inner.publish_auth(&record)?;
    Ok(json!({}))
}

pub(crate) async fn list_associated(
    inner: &Inner,
    cluster: &str,
    principal: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let max = validate::max_results(Some(cluster), query_value(query, "maxResults"))?;
    let record = inner.records.require(cluster).await?;
    let mut policies = find(&record, principal)?.policies.clone();
    policies.sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
    let page = page(
        Some(cluster),
        policies,
        |p| &p.policy_arn,
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response = json!({
        "clusterName": cluster,
        "principalArn": principal,
        "associatedAccessPolicies": page.items.iter().map(AssociatedPolicyRecord::render).collect::<Vec<_>>(),
    });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

/// The catalogue: the access policies Keelson enforces, under their EKS names.
pub(crate) fn list_policies(query: &[(String, String)]) -> ApiResult<Value> {
    let max = validate::max_results(None, query_value(query, "maxResults"))?;
    let mut policies: Vec<(String, String)> = ACCESS_POLICIES
        .iter()
        .map(|(arn, _)| {
            (
                arn.rsplit('/').next().unwrap_or(arn).to_string(),
                arn.to_string(),
            )
        })
        .collect();
    policies.sort();
    let page = page(
        None,
        policies,
        |(name, _)| name,
        max,
        query_value(query, "nextToken"),
    )?;
    let mut response = json!({
        "accessPolicies": page.items.iter().map(|(name, arn)| json!({"name": name, "arn": arn})).collect::<Vec<_>>(),
    });
    if let Some(token) = page.next_token {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}
