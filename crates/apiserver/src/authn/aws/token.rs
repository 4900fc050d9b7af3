//! Checking an aws-iam-authenticator token before anything is sent anywhere: its size and
//! encoding, that the presigned URL aims at a trusted STS endpoint with only the parameters
//! GetCallerIdentity needs, that it signs the cluster-id header, and that it has not expired.

use std::collections::HashSet;

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::endpoint::StsEndpoint;

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// aws-iam-authenticator's limit on the whole bearer token.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Tokens are valid for this long after their X-Amz-Date, whatever X-Amz-Expires says (STS
/// accepts presigned GetCallerIdentity requests for 15 minutes).
pub const TOKEN_LIFETIME: TimeDelta = TimeDelta::minutes(15);
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// Query parameters a presigned GetCallerIdentity URL may carry (compared in lower case).
const ALLOWED_PARAMETERS: &[&str] = &[
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// A token that passed every local check; `url` is the request to send to STS.
#[derive(Clone, Debug)]
pub struct PresignedRequest {
    pub url: http::Uri,
    pub access_key_id: String,
    /// X-Amz-Date + 15 minutes.
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused. Never carries the token or its signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not an aws-iam-authenticator token")]
    NotAwsToken,
    #[error("token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("token is not base64url")]
    Encoding,
    #[error("presigned URL is malformed")]
    MalformedUrl,
    #[error("presigned URL does not aim at a trusted STS endpoint")]
    UntrustedHost,
    #[error("query parameter {0:?} is not allowed")]
    UnexpectedParameter(String),
    #[error("query parameter {0:?} appears more than once")]
    DuplicateParameter(String),
    #[error("action is not GetCallerIdentity")]
    WrongAction,
    #[error("the {CLUSTER_ID_HEADER} header is not signed")]
    ClusterIdNotSigned,
    #[error("invalid X-Amz-Expires")]
    InvalidExpires,
    #[error("missing or invalid X-Amz-Date")]
    InvalidDate,
    #[error("missing X-Amz-Credential")]
    MissingCredential,
    #[error("token expired at {0}")]
    Expired(DateTime<Utc>),
}

/// Decode and check `token` against the trusted `endpoints` at time `now`.
pub fn check(
    token: &str,
    endpoints: &[StsEndpoint],
    now: DateTime<Utc>,
) -> Result<PresignedRequest, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::NotAwsToken)?;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Encoding)?;
    let text = String::from_utf8(decoded).map_err(|_| TokenError::MalformedUrl)?;
    let url: http::Uri = text.parse().map_err(|_| TokenError::MalformedUrl)?;
    if !endpoints.iter().any(|endpoint| endpoint.matches(&url)) {
        return Err(TokenError::UntrustedHost);
    }

    let mut seen = HashSet::new();
    let mut params: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(url.query().unwrap_or_default().as_bytes()) {
        let lower = key.to_ascii_lowercase();
        if !ALLOWED_PARAMETERS.contains(&lower.as_str()) {
            return Err(TokenError::UnexpectedParameter(key.into_owned()));
        }
        if !seen.insert(lower.clone()) {
            return Err(TokenError::DuplicateParameter(key.into_owned()));
        }
        params.push((lower, value.into_owned()));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };

    if get("action") != Some("GetCallerIdentity") {
        return Err(TokenError::WrongAction);
    }
    let signs_cluster_id = get("x-amz-signedheaders").is_some_and(|headers| {
        headers
            .split(';')
            .any(|h| h.eq_ignore_ascii_case(CLUSTER_ID_HEADER))
    });
    if !signs_cluster_id {
        return Err(TokenError::ClusterIdNotSigned);
    }
    match get("x-amz-expires").and_then(|e| e.parse::<i64>().ok()) {
        Some(0..=900) => {}
        _ => return Err(TokenError::InvalidExpires),
    }
    let signed_at = get("x-amz-date")
        .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").ok())
        .ok_or(TokenError::InvalidDate)?
        .and_utc();
    let expires_at = signed_at + TOKEN_LIFETIME;
    if now > expires_at {
        return Err(TokenError::Expired(expires_at));
    }
    let access_key_id = get("x-amz-credential")
        .and_then(|c| c.split('/').next())
        .filter(|id| !id.is_empty())
        .ok_or(TokenError::MissingCredential)?
        .to_string();
    Ok(PresignedRequest {
        url,
        access_key_id,
        expires_at,
    })
}

#[cfg(test)]
mod tests;
