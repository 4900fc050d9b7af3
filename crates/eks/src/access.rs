//! Access entries and access policies: who (an IAM user or role) may sign in to a cluster
//! with an AWS token, as which Kubernetes user and groups, with which EKS access policies.
//! Every change is written to the cluster's record and then published to its API server
//! through the auth config file.

use std::collections::BTreeMap;

use keelson_aws_core::AwsError;
use keelson_aws_core::access::{ACCESS_POLICIES, AccessScope, AccessScopeType};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clusters::parse;
use crate::error::{
    ApiResult, invalid_parameter, invalid_request, resource_in_use, resource_not_found,
};
use crate::model::{AccessEntryRecord, AssociatedPolicyRecord, ClusterRecord, now_seconds};
use crate::pagination::page;
use crate::router::query_value;
use crate::service::Inner;
use crate::validate;

pub const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

const ENTRY_TYPES: &[&str] = &[
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
];

const RESERVED_USERNAME_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];

/// `arn:aws:eks:REGION:ACCOUNT:access-entry/CLUSTER/KIND/ACCOUNT/NAME/ID`, as EKS forms it.
pub fn access_entry_arn(inner: &Inner, cluster: &str, principal: &str) -> String {
    let (account, resource) = principal
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .unwrap_or(("", principal));
    let (kind, name) = resource.split_once('/').unwrap_or((resource, resource));
    let name = name.rsplit('/').next().unwrap_or(name);
    format!(
        "arn:aws:eks:{}:{}:access-entry/{cluster}/{kind}/{account}/{name}/{}",
        inner.region,
        inner.account_id,
        uuid::Uuid::new_v4()
    )
}

/// The username EKS gives an entry created without one: a role maps to its session ARN
/// (templated on the session name), anything else to its own ARN.
pub fn default_username(principal: &str) -> String {
    if let Some(rest) = principal.strip_prefix("arn:aws:iam::")
        && let Some((account, resource)) = rest.split_once(':')
        && let Some(role_path) = resource.strip_prefix("role/")
    {
        let role = role_path.rsplit('/').next().unwrap_or(role_path);
        return format!("arn:aws:sts::{account}:assumed-role/{role}/{{{{SessionName}}}}");
    }
    principal.to_string()
}

fn node_username(entry_type: &str) -> Option<&'static str> {
    match entry_type {
        "EC2_LINUX" | "EC2_WINDOWS" | "EC2" => Some("system:node:{{EC2PrivateDNSName}}"),
        "FARGATE_LINUX" | "HYBRID_LINUX" | "HYPERPOD_LINUX" => Some("system:node:{{SessionName}}"),
        _ => None,
    }
}

fn require_api_mode(record: &ClusterRecord) -> ApiResult<()> {
    if record.authentication_mode.uses_access_entries() {
        Ok(())
    } else {
        Err(invalid_request(
            &record.name,
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
        ))
    }
}

fn entry_not_found(cluster: &str) -> AwsError {
    resource_not_found(
        cluster,
        "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
    )
}

fn find<'a>(record: &'a ClusterRecord, principal: &str) -> ApiResult<&'a AccessEntryRecord> {
    require_api_mode(record)?;
    record
        .access_entry(principal)
        .ok_or_else(|| entry_not_found(&record.name))
}

fn check_username(cluster: &str, username: &str) -> ApiResult<()> {
    if let Some(prefix) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|p| username.starts_with(**p))
    {
        return Err(invalid_parameter(
            Some(cluster),
            format!("username {username:?} may not start with the reserved prefix {prefix}"),
        ));
    }
    Ok(())
}

fn check_groups(cluster: &str, groups: &[String]) -> ApiResult<()> {
    match groups
        .iter()
        .find(|g| g.starts_with("system:") || g.is_empty())
    {
        Some(group) => Err(invalid_parameter(
            Some(cluster),
            format!(
                "kubernetesGroups contains {group:?}: group names may not be empty or start with system:"
            ),
        )),
        None => Ok(()),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_default_to_their_session_arn_and_users_to_their_own() {
        assert_eq!(
            default_username("arn:aws:iam::111122223333:role/dev/deployer"),
            "arn:aws:sts::111122223333:assumed-role/deployer/{{SessionName}}"
        );
        assert_eq!(
            default_username("arn:aws:iam::111122223333:user/alice"),
            "arn:aws:iam::111122223333:user/alice"
        );
    }

    #[test]
    fn reserved_usernames_and_system_groups_are_refused() {
        assert!(check_username("c", "system:admin").is_err());
        assert!(check_username("c", "alice").is_ok());
        assert!(check_groups("c", &["system:masters".into()]).is_err());
        assert!(check_groups("c", &["devs".into()]).is_ok());
    }
}
