//! The token `aws eks get-token` prints: aws-iam-authenticator's `k8s-aws-v1.` + the base64url
//! of an STS GetCallerIdentity URL presigned with the `x-k8s-aws-id: <cluster>` header signed,
//! so the cluster's API server can have STS vouch for the caller and no other cluster can
//! replay it.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use base64::Engine;
use serde_json::json;

use crate::credentials::AwsCredentials;
use crate::{CliError, base_url};

const TOKEN_PREFIX: &str = "k8s-aws-v1.";
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// What the AWS CLI presigns with; the token itself lives 15 minutes from signing.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);
/// The AWS CLI tells client-go to refresh a minute before the 15 minutes are up.
const EXPIRATION: chrono::TimeDelta = chrono::TimeDelta::minutes(14);
/// The session name `aws eks get-token --role-arn` uses.
pub const ROLE_SESSION_NAME: &str = "EKSGetTokenAuth";

/// Presign `GET <endpoint>/?Action=GetCallerIdentity&Version=2011-06-15` for `sts` in
/// `region`, with `x-k8s-aws-id` signed, and wrap it as a token.
pub fn presign_token(
    endpoint: &str,
    region: &str,
    credentials: &AwsCredentials,
    cluster_name: &str,
    now: SystemTime,
) -> Result<String, CliError> {
    let signing = |e: &dyn std::fmt::Display| CliError::Signing(e.to_string());
    let url = format!(
        "{}?Action=GetCallerIdentity&Version=2011-06-15",
        base_url(endpoint)
    );
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "keelson-get-token",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| signing(&e))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::once((CLUSTER_ID_HEADER, cluster_name)),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| signing(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing(&e))?
        .into_parts();
    let mut request = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| signing(&e))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    ))
}

/// The ExecCredential `aws eks get-token` prints, in the apiVersion client-go asked for
/// through KUBERNETES_EXEC_INFO (v1beta1 when it did not say).
pub fn exec_credential(
    exec_info: Option<&str>,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    const KNOWN: &[&str] = &[
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
        "client.authentication.k8s.io/v1alpha1",
    ];
    let requested = exec_info
        .and_then(|info| serde_json::from_str::<serde_json::Value>(info).ok())
        .and_then(|info| info["apiVersion"].as_str().map(str::to_string))
        .filter(|version| KNOWN.contains(&version.as_str()));
    let api_version =
        requested.unwrap_or_else(|| "client.authentication.k8s.io/v1beta1".to_string());
    json!({
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {
            "expirationTimestamp": (now + EXPIRATION).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "token": token,
        },
    })
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
