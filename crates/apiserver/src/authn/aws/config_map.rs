//! The `kube-system/aws-auth` ConfigMap: mapRoles, mapUsers and mapAccounts, each a YAML
//! document in a string, as aws-iam-authenticator reads them.

use serde::Deserialize;
use serde_json::Value;

use super::identity::AwsIdentity;
use super::mapping::Mapping;

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "aws-auth";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsAuthMap {
    pub roles: Vec<RoleMapping>,
    pub users: Vec<UserMapping>,
    pub accounts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RoleMapping {
    #[serde(default)]
    pub rolearn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UserMapping {
    #[serde(default)]
    pub userarn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Account ids are often written unquoted, which YAML reads as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum AccountId {
    Text(String),
    Number(u64),
}

impl AwsAuthMap {
    /// Parse the ConfigMap. A section that is not valid YAML of the right shape maps nobody
    /// (upstream refuses the section too); the problems are returned for logging.
    pub fn from_config_map(config_map: &Value) -> (AwsAuthMap, Vec<String>) {
        let data = &config_map["data"];
        let mut problems = Vec::new();
        let section = |key: &str| -> Option<String> { data[key].as_str().map(str::to_string) };
        let mut map = AwsAuthMap::default();
        if let Some(text) = section("mapRoles") {
            match serde_yaml::from_str::<Option<Vec<RoleMapping>>>(&text) {
                Ok(roles) => map.roles = roles.unwrap_or_default(),
                Err(err) => problems.push(format!("mapRoles: {err}")),
            }
        }
        if let Some(text) = section("mapUsers") {
            match serde_yaml::from_str::<Option<Vec<UserMapping>>>(&text) {
                Ok(users) => map.users = users.unwrap_or_default(),
                Err(err) => problems.push(format!("mapUsers: {err}")),
            }
        }
        if let Some(text) = section("mapAccounts") {
            match serde_yaml::from_str::<Option<Vec<AccountId>>>(&text) {
                Ok(accounts) => {
                    map.accounts = accounts
                        .unwrap_or_default()
                        .into_iter()
                        .map(|id| match id {
                            AccountId::Text(text) => text,
                            AccountId::Number(number) => format!("{number:012}"),
                        })
                        .collect()
                }
                Err(err) => problems.push(format!("mapAccounts: {err}")),
            }
        }
        (map, problems)
    }

    /// Map a caller: a role or user mapping whose ARN equals the canonical ARN (ignoring
    /// case), else, for an account in mapAccounts, the canonical ARN with no groups.
    /// Role ARNs with a path never match, as upstream: session ARNs do not carry the path.
    pub fn map(&self, identity: &AwsIdentity) -> Option<Mapping> {
        let arn = &identity.canonical_arn;
        let found = self
            .roles
            .iter()
            .find(|m| !m.rolearn.is_empty() && m.rolearn.eq_ignore_ascii_case(arn))
            .map(|m| (&m.username, &m.groups))
            .or_else(|| {
                self.users
                    .iter()
                    .find(|m| !m.userarn.is_empty() && m.userarn.eq_ignore_ascii_case(arn))
                    .map(|m| (&m.username, &m.groups))
            });
        if let Some((username, groups)) = found {
            return Mapping::render(identity, username, groups);
        }
        self.accounts
            .contains(&identity.account_id)
            .then(|| Mapping {
                username: identity.canonical_arn.clone(),
                groups: Vec::new(),
                access_entry: None,
            })
    }
}

#[cfg(test)]
mod tests {
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

    fn config_map(data: Value) -> AwsAuthMap {
        let (map, problems) = AwsAuthMap::from_config_map(&serde_json::json!({ "data": data }));
        assert!(problems.is_empty(), "{problems:?}");
        map
    }

    #[test]
    fn sections_parse_from_yaml_strings() {
        let map = config_map(serde_json::json!({
            "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: dev:{{SessionName}}\n  groups:\n    - developers\n",
            "mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [system:masters]\n",
            "mapAccounts": "- 111122223333\n- \"444455556666\"\n",
        }));
        assert_eq!(map.roles.len(), 1);
        assert_eq!(map.users[0].groups, vec!["system:masters".to_string()]);
        assert_eq!(map.accounts, vec!["111122223333", "444455556666"]);
    }

    #[test]
    fn a_broken_section_maps_nobody_and_is_reported() {
        let (map, problems) = AwsAuthMap::from_config_map(&serde_json::json!({"data": {
            "mapUsers": "- userarn: [unclosed\n",
            "mapRoles": "- rolearn: arn:aws:iam::1:role/r\n  username: r\n",
        }}));
        assert!(map.users.is_empty());
        assert_eq!(map.roles.len(), 1);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn users_and_role_sessions_map_case_insensitively() {
        let map = config_map(serde_json::json!({
            "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/DEV\n  username: dev:{{SessionName}}\n  groups: [developers]\n",
            "mapUsers": "- userarn: arn:aws:iam::111122223333:user/Alice\n  username: alice\n  groups: [system:masters]\n",
        }));
        let alice = map
            .map(&identity(
                "arn:aws:iam::111122223333:user/alice",
                "AIDAALICE",
            ))
            .unwrap();
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.groups, vec!["system:masters".to_string()]);
        let session = map
            .map(&identity(
                "arn:aws:sts::111122223333:assumed-role/Dev/bob@corp",
                "AROADEV:bob@corp",
            ))
            .unwrap();
        assert_eq!(session.username, "dev:bob-corp");
        assert!(
            map.map(&identity("arn:aws:iam::111122223333:user/carol", "AIDAC"))
                .is_none()
        );
    }

    #[test]
    fn role_arns_with_paths_do_not_match_sessions() {
        let map = config_map(serde_json::json!({
            "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/team/Dev\n  username: dev\n",
        }));
        assert!(
            map.map(&identity(
                "arn:aws:sts::111122223333:assumed-role/Dev/s",
                "AROADEV:s"
            ))
            .is_none()
        );
    }

    #[test]
    fn listed_accounts_map_to_the_canonical_arn() {
        let map = config_map(serde_json::json!({"mapAccounts": "- \"111122223333\"\n"}));
        let mapped = map
            .map(&identity(
                "arn:aws:sts::111122223333:assumed-role/Any/s",
                "AROAANY:s",
            ))
            .unwrap();
        assert_eq!(mapped.username, "arn:aws:iam::111122223333:role/Any");
        assert!(mapped.groups.is_empty());
    }
}
