//! From a verified AWS identity to a Kubernetes username and groups: access entries first
//! (authentication modes API and API_AND_CONFIG_MAP), then the aws-auth ConfigMap
//! (CONFIG_MAP and API_AND_CONFIG_MAP).

use keelson_aws_core::access::{AccessEntryMapping, ClusterAuthConfig};

use super::arn::{Arn, without_role_path};
use super::config_map::AwsAuthMap;
use super::identity::AwsIdentity;

/// Who a caller is in Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub username: String,
    pub groups: Vec<String>,
    /// The access entry that matched, if one did (its policies then apply).
    pub access_entry: Option<usize>,
}

impl Mapping {
    /// Fill the templates of a mapping; `None` if one cannot be filled for this caller.
    pub fn render(identity: &AwsIdentity, username: &str, groups: &[String]) -> Option<Mapping> {
        let username = if username.is_empty() {
            identity.canonical_arn.clone()
        } else {
            identity.render(username)?
        };
        let groups = groups
            .iter()
            .map(|group| identity.render(group))
            .collect::<Option<Vec<_>>>()?;
        Some(Mapping {
            username,
            groups,
            access_entry: None,
        })
    }
}

/// The access entry for a caller: its principal ARN, with a role's path dropped, equals the
/// caller's canonical ARN.
pub fn find_access_entry(config: &ClusterAuthConfig, canonical_arn: &str) -> Option<usize> {
    config.access_entries.iter().position(|entry| {
        without_role_path(&entry.principal_arn).eq_ignore_ascii_case(canonical_arn)
    })
}

/// EKS's username for an entry created without one: the user's ARN, or for a role the
/// session ARN with the session name as a template.
fn default_username(entry: &AccessEntryMapping) -> String {
    match Arn::parse(&entry.principal_arn) {
        Some(arn) if arn.resource.starts_with("role/") => format!(
            "arn:{}:sts::{}:assumed-role/{}/{{{{SessionName}}}}",
            arn.partition,
            arn.account,
            arn.resource.rsplit('/').next().unwrap_or_default()
        ),
        _ => entry.principal_arn.clone(),
    }
}

/// Map `identity` as the cluster's authentication mode says.
pub fn map_identity(
    config: &ClusterAuthConfig,
    aws_auth: Option<&AwsAuthMap>,
    identity: &AwsIdentity,
) -> Option<Mapping> {
    let mode = config.authentication_mode;
    if mode.uses_access_entries()
        && let Some(index) = find_access_entry(config, &identity.canonical_arn)
    {
        let entry = &config.access_entries[index];
        let username = if entry.username.is_empty() {
            default_username(entry)
        } else {
            entry.username.clone()
        };
        // An entry that matches but cannot be rendered (a node entry needing EC2's DNS name)
        // maps nobody: falling through to aws-auth would grant what the entry did not say.
        let mut mapping = Mapping::render(identity, &username, &entry.kubernetes_groups)?;
        mapping.access_entry = Some(index);
        return Some(mapping);
    }
    if mode.uses_config_map() {
        return aws_auth.and_then(|map| map.map(identity));
    }
    None
}

#[cfg(test)]
mod tests {
    use keelson_aws_core::access::AuthenticationMode;

    use super::*;
    use crate::authn::aws::sts::CallerIdentity;

    fn identity(arn: &str, user_id: &str) -> AwsIdentity {
        AwsIdentity::from_caller(
            CallerIdentity {
                account: "111122223333".into(),
                arn: arn.into(),
                user_id: user_id.into(),
            },
            "AKIAX",
        )
        .unwrap()
    }

    fn entry(arn: &str, username: &str, groups: &[&str]) -> AccessEntryMapping {
        AccessEntryMapping {
            principal_arn: arn.into(),
            username: username.into(),
            kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
            entry_type: "STANDARD".into(),
            access_policies: vec![],
        }
    }

    fn config(mode: AuthenticationMode) -> ClusterAuthConfig {
        ClusterAuthConfig {
            cluster_id: "c1".into(),
            sts_endpoints: vec!["http://127.0.0.1:1".into()],
            authentication_mode: mode,
            access_entries: vec![
                entry("arn:aws:iam::111122223333:user/alice", "alice", &["devs"]),
                entry("arn:aws:iam::111122223333:role/team/Builder", "", &[]),
                entry(
                    "arn:aws:iam::111122223333:role/Node",
                    "system:node:{{EC2PrivateDNSName}}",
                    &["system:nodes"],
                ),
            ],
        }
    }

    fn aws_auth() -> AwsAuthMap {
        AwsAuthMap::from_config_map(&serde_json::json!({"data": {
            "mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice-from-configmap\n- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob\n  groups: [system:masters]\n",
            "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/Node\n  username: node\n",
        }}))
        .0
    }

    #[test]
    fn access_entries_win_in_api_and_config_map_mode() {
        let config = config(AuthenticationMode::ApiAndConfigMap);
        let map = aws_auth();
        let alice = identity("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
        let mapped = map_identity(&config, Some(&map), &alice).unwrap();
        assert_eq!(mapped.username, "alice");
        assert_eq!(mapped.groups, vec!["devs".to_string()]);
        assert_eq!(mapped.access_entry, Some(0));
        let bob = identity("arn:aws:iam::111122223333:user/bob", "AIDABOB");
        let mapped = map_identity(&config, Some(&map), &bob).unwrap();
        assert_eq!(mapped.username, "bob");
        assert_eq!(mapped.access_entry, None);
    }

    #[test]
    fn each_mode_reads_only_its_sources() {
        let map = aws_auth();
        let alice = identity("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
        let bob = identity("arn:aws:iam::111122223333:user/bob", "AIDABOB");
        let api = config(AuthenticationMode::Api);
        assert!(map_identity(&api, Some(&map), &bob).is_none());
        assert_eq!(
            map_identity(&api, Some(&map), &alice).unwrap().username,
            "alice"
        );
        let config_map_only = config(AuthenticationMode::ConfigMap);
        assert_eq!(
            map_identity(&config_map_only, Some(&map), &alice)
                .unwrap()
                .username,
            "alice-from-configmap"
        );
        assert!(map_identity(&config_map_only, None, &alice).is_none());
    }

    #[test]
    fn role_entries_with_paths_match_sessions_and_default_to_the_session_arn() {
        let config = config(AuthenticationMode::Api);
        let session = identity(
            "arn:aws:sts::111122223333:assumed-role/Builder/ci@example.com",
            "AROABUILDER:ci@example.com",
        );
        let mapped = map_identity(&config, None, &session).unwrap();
        assert_eq!(
            mapped.username,
            "arn:aws:sts::111122223333:assumed-role/Builder/ci-example.com"
        );
        assert_eq!(mapped.access_entry, Some(1));
    }

    #[test]
    fn an_entry_that_cannot_be_rendered_does_not_fall_through_to_aws_auth() {
        let config = config(AuthenticationMode::ApiAndConfigMap);
        let node = identity(
            "arn:aws:sts::111122223333:assumed-role/Node/i-0123",
            "AROANODE:i-0123",
        );
        assert!(map_identity(&config, Some(&aws_auth()), &node).is_none());
    }
}
