use serde::{Deserialize, Serialize};

/// Who signed a request, as STS GetCallerIdentity reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The 12-digit account id.
    pub account_id: String,
    /// `arn:aws:iam::ACCOUNT:root`, `arn:aws:iam::ACCOUNT:user/PATH/NAME` or
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// The account id for the root, the user's unique id (`AIDA…`), or `ROLEID:SESSION` for an
    /// assumed role.
    pub user_id: String,
    /// The access key the request was signed with.
    pub access_key_id: String,
    pub kind: PrincipalKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PrincipalKind {
    Root,
    User {
        name: String,
    },
    AssumedRole {
        role_name: String,
        role_arn: String,
        session_name: String,
    },
}

impl Principal {
    /// The ARN access entries and policies are written against: an assumed role's session ARN
    /// becomes its role's ARN, as EKS canonicalises it (assumed-role ARNs carry no role path, so
    /// the role's own ARN, with its path, is used).
    pub fn canonical_arn(&self) -> &str {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => role_arn,
            _ => &self.arn,
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self.kind, PrincipalKind::Root)
    }
}
