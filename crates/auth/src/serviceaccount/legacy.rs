//! Legacy service-account tokens: the non-expiring JWTs the token controller writes into
//! Secrets of type `kubernetes.io/service-account-token`, with upstream's claim layout
//! (issuer `kubernetes/serviceaccount`, flat `kubernetes.io/serviceaccount/*` claims). They are
//! valid only while their Secret still holds them, which the API server checks.

use serde::Deserialize;
use serde_json::json;

use crate::AuthError;

/// The issuer upstream gives every legacy token.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// Who a legacy token names, and the Secret it lives in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyClaims {
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    pub secret_name: String,
}

pub fn payload(claims: &LegacyClaims) -> serde_json::Value {
    json!({
        "iss": LEGACY_ISSUER,
        "kubernetes.io/serviceaccount/namespace": claims.namespace,
        "kubernetes.io/serviceaccount/secret.name": claims.secret_name,
        "kubernetes.io/serviceaccount/service-account.name": claims.service_account_name,
        "kubernetes.io/serviceaccount/service-account.uid": claims.service_account_uid,
        "sub": format!("system:serviceaccount:{}:{}", claims.namespace, claims.service_account_name),
    })
}

#[derive(Deserialize)]
struct Raw {
    iss: String,
    sub: String,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace")]
    namespace: String,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name")]
    secret_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.name")]
    service_account_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid", default)]
    service_account_uid: String,
}

pub fn validate(payload: &[u8]) -> Result<LegacyClaims, AuthError> {
    let raw: Raw = serde_json::from_slice(payload)
        .map_err(|_| AuthError::InvalidToken("malformed legacy claims"))?;
    if raw.iss != LEGACY_ISSUER {
        return Err(AuthError::InvalidToken("wrong issuer"));
    }
    if raw.namespace.is_empty()
        || raw.service_account_name.is_empty()
        || raw.secret_name.is_empty()
        || raw.sub
            != format!(
                "system:serviceaccount:{}:{}",
                raw.namespace, raw.service_account_name
            )
    {
        return Err(AuthError::InvalidToken(
            "subject does not match service account",
        ));
    }
    Ok(LegacyClaims {
        namespace: raw.namespace,
        service_account_name: raw.service_account_name,
        service_account_uid: raw.service_account_uid,
        secret_name: raw.secret_name,
    })
}
