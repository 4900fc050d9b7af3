//! The records IAM keeps in the store, one JSON value per key.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `/aws/iam/account`: the one account this regional service serves.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    pub created: DateTime<Utc>,
    /// The root user's access key ids (at most two, as IAM allows).
    pub root_access_keys: Vec<String>,
}

/// An IAM user.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub path: String,
    /// `AIDA…`, unique forever: a recreated user with the same name gets a new one.
    pub user_id: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    /// Access key ids, kept here so the two-key limit is checked with compare-and-swap.
    #[serde(default)]
    pub access_keys: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// An IAM role.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `AROA…`
    pub role_id: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub assume_role_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i64,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// A customer-managed policy (one version, `v1`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    /// `ANPA…`
    pub policy_id: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub document: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `/aws/iam/access-keys/{id}`: a long-term key of a user or of the root.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `None` for the root user's keys.
    pub user_name: Option<String>,
    pub active: bool,
    pub created: DateTime<Utc>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("user_name", &self.user_name)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// `/aws/sts/sessions/{id}`: temporary credentials from AssumeRole.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// SHA-256 (hex) of the session token: the token itself is only ever in the response.
    pub session_token_sha256: String,
    pub role_name: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
    pub expiration: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

pub mod keys {
    pub const ACCOUNT: &str = "/aws/iam/account";
    /// Users, roles and managed policies: what policy evaluation reads (the mirror watches it).
    pub const ENTITIES: &str = "/aws/iam/entities/";
    pub const ACCESS_KEYS: &str = "/aws/iam/access-keys/";
    pub const SESSIONS: &str = "/aws/sts/sessions/";

    /// IAM names are unique without regard to case, so keys use the lower-cased name.
    pub fn user(name: &str) -> String {
        format!("{ENTITIES}users/{}", name.to_ascii_lowercase())
    }

    pub fn role(name: &str) -> String {
        format!("{ENTITIES}roles/{}", name.to_ascii_lowercase())
    }

    pub fn policy(name: &str) -> String {
        format!("{ENTITIES}policies/{}", name.to_ascii_lowercase())
    }

    pub fn access_key(id: &str) -> String {
        format!("{ACCESS_KEYS}{id}")
    }

    pub fn session(id: &str) -> String {
        format!("{SESSIONS}{id}")
    }
}

/// IAM's timestamp format in XML responses (ISO 8601 with milliseconds, UTC).
pub fn iso8601(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
