//! Signing in with an AWS identity, as on EKS: aws-iam-authenticator's bearer tokens
//! (`k8s-aws-v1.` + a presigned STS GetCallerIdentity URL), verified against the cluster's own
//! STS endpoints and mapped to Kubernetes users through access entries (the file the EKS
//! service writes, see [`keelson_aws_core::access`]) and the `kube-system/aws-auth` ConfigMap.
//! The access policies of access entries are enforced by `crate::authz::access_policies`.

mod arn;
mod authenticator;
mod config;
mod config_map;
mod endpoint;
mod identity;
mod mapping;
mod reload;
mod single_flight;
mod sts;
mod token;
mod verified;

use std::sync::Arc;

pub use authenticator::AwsAuthenticator;
pub use config::load_cluster_auth_config;

use crate::config::Config;
use crate::object::storage_key;
use crate::server::ApiServer;
use crate::status::ApiError;

/// Why AWS authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AwsAuthError {
    #[error("AWS authentication config: {0}")]
    Config(String),
    #[error("AWS authentication: building the STS client: {0}")]
    StsClient(std::io::Error),
}

/// The authenticator `config` asks for, if any.
pub fn authenticator_for(config: &Config) -> Result<Option<Arc<AwsAuthenticator>>, AwsAuthError> {
    let Some(path) = &config.aws_auth_config else {
        return Ok(None);
    };
    let settings = load_cluster_auth_config(path)?;
    let sts = sts::HttpSts::new().map_err(AwsAuthError::StsClient)?;
    Ok(Some(Arc::new(AwsAuthenticator::new(
        path.clone(),
        settings,
        Arc::new(sts),
    ))))
}

/// Follow the config file for as long as the server runs.
pub fn follow_config_file(server: &Arc<ApiServer>) {
    if let Some(aws) = &server.aws_auth {
        server.tasks.spawn(reload::follow_config_file(
            aws.clone(),
            server.shutdown.clone(),
        ));
    }
}

/// Authenticate an AWS token: `None` if the token is not one or AWS authentication is off,
/// so other authenticators may try it.
pub async fn authenticate(
    server: &ApiServer,
    token: &str,
) -> Option<Result<crate::authn::User, ApiError>> {
    let aws = server.aws_auth.as_ref()?;
    if !token.starts_with(token::TOKEN_PREFIX) {
        return None;
    }
    let read_aws_auth = || {
        let key = storage_key(
            "",
            "configmaps",
            Some(config_map::NAMESPACE),
            config_map::NAME,
        );
        let object = server.cache.get("", "configmaps", &key)?;
        Some((object.resource_version, object.value().ok()?))
    };
    Some(match aws.authenticate(token, read_aws_auth).await {
        Ok(user) => Ok(user),
        Err(rejection) => {
            // The reason names no token or signature (see `Rejection`).
            tracing::info!(reason = %rejection, "AWS token refused");
            Err(ApiError::Unauthorized)
        }
    })
}
