//! The AWS token authenticator of one cluster: checks a token, has STS vouch for it (or finds
//! it among recent verifications), and maps the caller to a Kubernetes user.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use chrono::Utc;
use serde_json::Value;

use super::config::{AuthSettings, load_cluster_auth_config};
use super::config_map::AwsAuthMap;
use super::identity::AwsIdentity;
use super::mapping::{find_access_entry, map_identity};
use super::single_flight::SingleFlight;
use super::sts::{CallerIdentitySource, StsError};
use super::token::{self, TokenError};
use super::verified::{VerifiedTokens, token_key};
use crate::authn::User;
use crate::authz::access_policies::AccessPolicyRules;
use keelson_aws_core::access::AccessPolicyGrant;

/// Why a token did not sign anyone in. Never carries the token.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Sts(#[from] StsError),
    #[error("STS named a caller that cannot sign in: {0}")]
    UnusableCaller(String),
    #[error("{0} is not mapped to a Kubernetes user")]
    Unmapped(String),
}

/// What a request reads of the `kube-system/aws-auth` ConfigMap: its resourceVersion and
/// the object, or `None` when it does not exist.
pub type ConfigMapSnapshot = Option<(i64, Value)>;

pub struct AwsAuthenticator {
    path: PathBuf,
    settings: RwLock<Arc<AuthSettings>>,
    sts: Arc<dyn CallerIdentitySource>,
    verified: VerifiedTokens,
    in_flight: SingleFlight<Result<AwsIdentity, Rejection>>,
    aws_auth: Mutex<Option<(i64, Arc<AwsAuthMap>)>>,
    policy_rules: RwLock<Arc<AccessPolicyRules>>,
}

impl AwsAuthenticator {
    pub fn new(
        path: PathBuf,
        settings: AuthSettings,
        sts: Arc<dyn CallerIdentitySource>,
    ) -> AwsAuthenticator {
        AwsAuthenticator {
            path,
            settings: RwLock::new(Arc::new(settings)),
            sts,
            verified: VerifiedTokens::default(),
            in_flight: SingleFlight::default(),
            aws_auth: Mutex::new(None),
            policy_rules: RwLock::new(Arc::new(AccessPolicyRules::default())),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn settings(&self) -> Arc<AuthSettings> {
        self.settings.read().expect("aws settings lock").clone()
    }

    /// Re-read the config file (it changed on disk). A bad file keeps the previous settings:
    /// the EKS service replaces it atomically, so a bad one is a bug to report, not a reason
    /// to lock everyone out.
    pub fn reload(&self) {
        match load_cluster_auth_config(&self.path) {
            Ok(settings) => {
                tracing::info!(
                    access_entries = settings.file.access_entries.len(),
                    mode = ?settings.file.authentication_mode,
                    "AWS authentication config reloaded"
                );
                *self.settings.write().expect("aws settings lock") = Arc::new(settings);
                // Verifications were made for the old cluster id and endpoints.
                self.verified.clear();
            }
            Err(err) => tracing::warn!(%err, "keeping the previous AWS authentication config"),
        }
    }

    pub fn set_cluster_roles(&self, cluster_roles: &[Value]) {
        *self.policy_rules.write().expect("policy rules lock") =
            Arc::new(AccessPolicyRules::new(cluster_roles));
    }

    pub fn policy_rules(&self) -> Arc<AccessPolicyRules> {
        self.policy_rules.read().expect("policy rules lock").clone()
    }

    /// Sign in the caller of an `aws eks get-token` token.
    pub async fn authenticate(
        &self,
        token: &str,
        aws_auth: impl FnOnce() -> ConfigMapSnapshot,
    ) -> Result<User, Rejection> {
        let settings = self.settings();
        let identity = self.verify(token, &settings).await?;
        let config_map = if settings.file.authentication_mode.uses_config_map() {
            self.aws_auth_map(aws_auth())
        } else {
            None
        };
        let mapping = map_identity(&settings.file, config_map.as_deref(), &identity)
            .ok_or_else(|| Rejection::Unmapped(identity.arn.clone()))?;
        Ok(User {
            name: mapping.username,
            uid: identity.uid(),
            groups: mapping.groups,
            extra: identity.extra(),
        })
    }

    async fn verify(&self, token: &str, settings: &AuthSettings) -> Result<AwsIdentity, Rejection> {
        let now = Utc::now();
        // Local checks run even for cached tokens: expiry must cut a session off on time.
        let request = token::check(token, &settings.sts_endpoints, now)?;
        if let Some(identity) = self.verified.get(token, now) {
            return Ok(identity);
        }
        let ask_sts = async {
            let caller = self
                .sts
                .get_caller_identity(&request, &settings.file.cluster_id)
                .await?;
            let arn = caller.arn.clone();
            let identity = AwsIdentity::from_caller(caller, &request.access_key_id)
                .ok_or(Rejection::UnusableCaller(arn))?;
            self.verified
                .insert(token, identity.clone(), request.expires_at, Utc::now());
            Ok(identity)
        };
        self.in_flight.run(token_key(token), ask_sts).await
    }

    /// The parsed aws-auth ConfigMap, parsed again only when its resourceVersion changes.
    fn aws_auth_map(&self, snapshot: ConfigMapSnapshot) -> Option<Arc<AwsAuthMap>> {
        let (revision, object) = snapshot?;
        let mut cached = self.aws_auth.lock().expect("aws-auth lock");
        if let Some((seen, map)) = cached.as_ref()
            && *seen == revision
        {
            return Some(map.clone());
        }
        let (map, problems) = AwsAuthMap::from_config_map(&object);
        for problem in problems {
            tracing::warn!(%problem, "kube-system/aws-auth: section ignored");
        }
        let map = Arc::new(map);
        *cached = Some((revision, map.clone()));
        Some(map)
    }

    /// The access policies of the access entry an AWS-authenticated user signed in through.
    pub fn access_policies_for(&self, user: &User) -> Vec<AccessPolicyGrant> {
        if !user.uid.starts_with("aws-iam-authenticator:") {
            return Vec::new();
        }
        let Some(canonical_arn) = user.extra.get("canonicalArn").and_then(|v| v.first()) else {
            return Vec::new();
        };
        let settings = self.settings();
        let file = &settings.file;
        if !file.authentication_mode.uses_access_entries() {
            return Vec::new();
        }
        find_access_entry(file, canonical_arn)
            .map(|index| file.access_entries[index].access_policies.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
