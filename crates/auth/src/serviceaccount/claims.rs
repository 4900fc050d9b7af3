//! Upstream's service-account JWT claim layout: registered claims plus a private
//! `kubernetes.io` claim naming the namespace, service account and bound pod.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TokenSpec;
use crate::AuthError;

/// What a verified token says about its holder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    /// The bound pod's (name, uid).
    pub pod: Option<(String, String)>,
}

pub fn payload(issuer: &str, spec: &TokenSpec, now: i64, exp: i64, jti: &str) -> Value {
    let mut kubernetes = json!({
        "namespace": spec.namespace,
        "serviceaccount": {"name": spec.service_account_name, "uid": spec.service_account_uid},
    });
    if let Some((name, uid)) = &spec.pod {
        kubernetes["pod"] = json!({"name": name, "uid": uid});
    }
    json!({
        "aud": spec.audiences,
        "exp": exp,
        "iat": now,
        "iss": issuer,
        "jti": jti,
        "kubernetes.io": kubernetes,
        "nbf": now,
        "sub": format!("system:serviceaccount:{}:{}", spec.namespace, spec.service_account_name),
    })
}

/// `aud` may be a single string or a list (RFC 7519 §4.1.3).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, wanted: &[String]) -> bool {
        match self {
            Audience::None => false,
            Audience::One(aud) => wanted.contains(aud),
            Audience::Many(auds) => auds.iter().any(|a| wanted.contains(a)),
        }
    }
}

#[derive(Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    uid: String,
}

#[derive(Deserialize)]
struct Private {
    namespace: String,
    serviceaccount: Named,
    #[serde(default)]
    pod: Option<Named>,
}

#[derive(Deserialize)]
struct Raw {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: Audience,
    exp: Option<i64>,
    nbf: Option<i64>,
    #[serde(rename = "kubernetes.io")]
    kubernetes: Option<Private>,
}

pub fn validate(
    payload: &[u8],
    issuer: &str,
    audiences: &[String],
    now: i64,
    leeway: i64,
) -> Result<Claims, AuthError> {
    let raw: Raw =
        serde_json::from_slice(payload).map_err(|_| AuthError::InvalidToken("malformed claims"))?;
    if raw.iss != issuer {
        return Err(AuthError::InvalidToken("wrong issuer"));
    }
    // Tokens we issue always expire; one without `exp` is not ours to honour.
    let exp = raw.exp.ok_or(AuthError::InvalidToken("missing exp"))?;
    if now > exp + leeway {
        return Err(AuthError::InvalidToken("expired"));
    }
    if raw.nbf.is_some_and(|nbf| now + leeway < nbf) {
        return Err(AuthError::InvalidToken("not yet valid"));
    }
    if !audiences.is_empty() && !raw.aud.contains_any(audiences) {
        return Err(AuthError::InvalidToken("no matching audience"));
    }
    let private = raw
        .kubernetes
        .ok_or(AuthError::InvalidToken("missing kubernetes.io claim"))?;
    // The subject and the private claim must agree, as upstream checks.
    let expected_sub = format!(
        "system:serviceaccount:{}:{}",
        private.namespace, private.serviceaccount.name
    );
    if private.namespace.is_empty()
        || private.serviceaccount.name.is_empty()
        || raw.sub != expected_sub
    {
        return Err(AuthError::InvalidToken(
            "subject does not match service account",
        ));
    }
    Ok(Claims {
        namespace: private.namespace,
        service_account_name: private.serviceaccount.name,
        service_account_uid: private.serviceaccount.uid,
        pod: private.pod.map(|p| (p.name, p.uid)),
    })
}
