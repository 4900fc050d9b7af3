//! Access entries and access policies: who (an IAM user or role) may sign in to a cluster
//! with an AWS token, as which Kubernetes user and groups, with which EKS access policies.
//! Every change is written to the cluster's record and then published to its API server
//! through the auth config file.

mod entries;
mod policies;

pub(crate) use entries::{create, delete, describe, list, update};
pub(crate) use policies::{associate, disassociate, list_associated, list_policies};

use keelson_aws_core::AwsError;

use crate::error::{ApiResult, invalid_parameter, invalid_request, resource_not_found};
use crate::model::{AccessEntryRecord, ClusterRecord};
use crate::service::Inner;

pub const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

pub(super) const ENTRY_TYPES: &[&str] = &[
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
];

pub(super) const RESERVED_USERNAME_PREFIXES: &[&str] =
    &["system:", "eks:", "aws:", "amazon:", "iam:"];

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

pub(super) fn node_username(entry_type: &str) -> Option<&'static str> {
    match entry_type {
        "EC2_LINUX" | "EC2_WINDOWS" | "EC2" => Some("system:node:{{EC2PrivateDNSName}}"),
        "FARGATE_LINUX" | "HYBRID_LINUX" | "HYPERPOD_LINUX" => Some("system:node:{{SessionName}}"),
        _ => None,
    }
}

pub(super) fn require_api_mode(record: &ClusterRecord) -> ApiResult<()> {
    if record.authentication_mode.uses_access_entries() {
        Ok(())
    } else {
        Err(invalid_request(
            &record.name,
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
        ))
    }
}

pub(super) fn entry_not_found(cluster: &str) -> AwsError {
    resource_not_found(
        cluster,
        "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
    )
}

pub(super) fn find<'a>(
    record: &'a ClusterRecord,
    principal: &str,
) -> ApiResult<&'a AccessEntryRecord> {
    require_api_mode(record)?;
    record
        .access_entry(principal)
        .ok_or_else(|| entry_not_found(&record.name))
}

pub(super) fn check_username(cluster: &str, username: &str) -> ApiResult<()> {
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

pub(super) fn check_groups(cluster: &str, groups: &[String]) -> ApiResult<()> {
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
