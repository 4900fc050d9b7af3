//! Service-account tokens: ES256 JWTs with upstream's claim layout, and the OIDC discovery
//! documents that let other parties verify them.

mod claims;
mod jws;
mod legacy;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

pub use claims::Claims;
pub use legacy::{LEGACY_ISSUER, LegacyClaims};

use crate::AuthError;
use jws::Es256Key;

/// Clock skew tolerated on `exp` and `nbf`, matching upstream's validator.
const LEEWAY_SECONDS: i64 = 60;

/// What to put in a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenSpec {
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    /// The bound pod's (name, uid).
    pub pod: Option<(String, String)>,
}

/// A signed token and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    /// RFC 3339 (seconds, `Z`), as TokenRequest's `status.expirationTimestamp` is written.
    pub expiration_timestamp: String,
    /// The same instant as unix seconds.
    pub expires_at_unix: i64,
}

/// Issues and verifies service-account tokens for one issuer with one signing key.
pub struct TokenIssuer {
    issuer: String,
    key: Es256Key,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.key.kid())
            .finish()
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenIssuer {
    /// `key_pem` is a PKCS#8 P-256 private key.
    pub fn from_pem(issuer: &str, key_pem: &str) -> Result<TokenIssuer, AuthError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| AuthError::Pem(format!("service-account key: {e}")))?;
        Ok(TokenIssuer {
            issuer: issuer.to_string(),
            key: Es256Key::from_pkcs8(der.secret_pkcs8_der())?,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id in every token's header and in the JWKS.
    pub fn key_id(&self) -> &str {
        self.key.kid()
    }

    pub fn issue(&self, spec: &TokenSpec) -> Result<IssuedToken, AuthError> {
        self.issue_at(spec, now_unix())
    }

    /// [`issue`](Self::issue) as if the time were `now` (unix seconds).
    pub fn issue_at(&self, spec: &TokenSpec, now: i64) -> Result<IssuedToken, AuthError> {
        if spec.namespace.is_empty() || spec.service_account_name.is_empty() {
            return Err(AuthError::InvalidToken(
                "namespace and service account name are required",
            ));
        }
        if spec.expiration_seconds <= 0 {
            return Err(AuthError::InvalidToken("expiration must be positive"));
        }
        let exp = now + spec.expiration_seconds;
        let payload = claims::payload(&self.issuer, spec, now, exp, &new_jti());
        let expiration_timestamp = chrono::DateTime::from_timestamp(exp, 0)
            .ok_or(AuthError::InvalidToken("expiration out of range"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(IssuedToken {
            token: self.key.sign(&payload)?,
            expiration_timestamp,
            expires_at_unix: exp,
        })
    }

    /// Check `token`: signature, issuer, time window, and that it names at least one of
    /// `audiences` (an empty list accepts any audience).
    pub fn verify(&self, token: &str, audiences: &[String]) -> Result<Claims, AuthError> {
        self.verify_at(token, audiences, now_unix())
    }

    /// [`verify`](Self::verify) as if the time were `now` (unix seconds).
    pub fn verify_at(
        &self,
        token: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<Claims, AuthError> {
        let payload = self.key.verify(token)?;
        claims::validate(&payload, &self.issuer, audiences, now, LEEWAY_SECONDS)
    }

    /// A legacy (non-expiring, Secret-bound) token for the token controller to store.
    pub fn issue_legacy(&self, claims: &LegacyClaims) -> Result<String, AuthError> {
        if claims.namespace.is_empty()
            || claims.service_account_name.is_empty()
            || claims.secret_name.is_empty()
        {
            return Err(AuthError::InvalidToken(
                "namespace, service account and secret names are required",
            ));
        }
        self.key.sign(&legacy::payload(claims))
    }

    /// Check a legacy token's signature and claims. Whether its Secret still holds it is the
    /// caller's check.
    pub fn verify_legacy(&self, token: &str) -> Result<LegacyClaims, AuthError> {
        legacy::validate(&self.key.verify(token)?)
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self, jwks_url: &str) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_url,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// `/openid/v1/jwks`: the public signing key.
    pub fn jwks(&self) -> Value {
        let (x, y) = self.key.coordinates();
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.key.kid(),
            "crv": "P-256",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }
}

/// A random (version 4) UUID for `jti`, so each token can be told apart in audit logs.
fn new_jti() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
