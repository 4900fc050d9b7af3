//! Bootstrap tokens (`<id>.<secret>`) backed by `kube-system/bootstrap-token-<id>` Secrets, as
//! upstream's bootstrap authenticator checks them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::{AuthError, UserInfo};

pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
pub const USER_PREFIX: &str = "system:bootstrap:";

const ID_LEN: usize = 6;
const SECRET_LEN: usize = 16;

fn token_chars(part: &str, len: usize) -> bool {
    part.len() == len
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `token` has the shape `[a-z0-9]{6}.[a-z0-9]{16}`, so it is tried as a bootstrap token
/// rather than a JWT.
pub fn looks_like_bootstrap_token(token: &str) -> bool {
    token
        .split_once('.')
        .is_some_and(|(id, secret)| token_chars(id, ID_LEN) && token_chars(secret, SECRET_LEN))
}

/// A Secret data field, base64-decoded.
fn data_field(secret: &Value, key: &str) -> Option<String> {
    let encoded = secret["data"][key].as_str()?;
    String::from_utf8(STANDARD.decode(encoded).ok()?).ok()
}

/// Compare without an early exit so the time taken leaks nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Upstream only accepts extra groups under `system:bootstrappers:`, so a token can never
/// claim e.g. `system:masters`.
fn valid_extra_group(group: &str) -> bool {
    group
        .strip_prefix("system:bootstrappers:")
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 256
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
                && rest
                    .bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Authenticate `token` against its Secret (as JSON, `data` base64-encoded) at `now_unix`.
pub fn authenticate(token: &str, secret: &Value, now_unix: i64) -> Result<UserInfo, AuthError> {
    if !looks_like_bootstrap_token(token) {
        return Err(AuthError::InvalidBootstrapToken("malformed token"));
    }
    let (id, token_secret) = token.split_at(ID_LEN);
    let token_secret = &token_secret[1..];

    if secret["type"].as_str() != Some(SECRET_TYPE) {
        return Err(AuthError::InvalidBootstrapToken(
            "secret has the wrong type",
        ));
    }
    if secret["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Err(AuthError::InvalidBootstrapToken("secret is being deleted"));
    }
    if secret["metadata"]["name"]
        .as_str()
        .is_some_and(|name| name != format!("bootstrap-token-{id}"))
    {
        return Err(AuthError::InvalidBootstrapToken(
            "secret name does not match token id",
        ));
    }
    let stored_id =
        data_field(secret, "token-id").ok_or(AuthError::InvalidBootstrapToken("no token-id"))?;
    let stored_secret = data_field(secret, "token-secret")
        .ok_or(AuthError::InvalidBootstrapToken("no token-secret"))?;
    let id_ok = constant_time_eq(stored_id.as_bytes(), id.as_bytes());
    let secret_ok = constant_time_eq(stored_secret.as_bytes(), token_secret.as_bytes());
    if !(id_ok & secret_ok) {
        return Err(AuthError::InvalidBootstrapToken("token does not match"));
    }
    if data_field(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(AuthError::InvalidBootstrapToken(
            "not usable for authentication",
        ));
    }
    if let Some(expiration) = data_field(secret, "expiration") {
        let expires = chrono::DateTime::parse_from_rfc3339(expiration.trim())
            .map_err(|_| AuthError::InvalidBootstrapToken("unparseable expiration"))?;
        if now_unix >= expires.timestamp() {
            return Err(AuthError::InvalidBootstrapToken("expired"));
        }
    }
    let mut groups = vec![BOOTSTRAPPERS_GROUP.to_string()];
    if let Some(extra) = data_field(secret, "auth-extra-groups") {
        for group in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !valid_extra_group(group) {
                return Err(AuthError::InvalidBootstrapToken(
                    "invalid auth-extra-groups",
                ));
            }
            if !groups.iter().any(|g| g == group) {
                groups.push(group.to_string());
            }
        }
    }
    Ok(UserInfo {
        username: format!("{USER_PREFIX}{id}"),
        groups,
        ..UserInfo::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = json!({
            "token-id": b64("abcdef"),
            "token-secret": b64("0123456789abcdef"),
            "usage-bootstrap-authentication": b64("true"),
            "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token"),
        });
        for (k, v) in extra {
            data[*k] = json!(b64(v));
        }
        json!({"type": SECRET_TYPE, "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}, "data": data})
    }

    const TOKEN: &str = "abcdef.0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn token_shape() {
        assert!(looks_like_bootstrap_token(TOKEN));
        assert!(!looks_like_bootstrap_token("abcdef.0123456789abcde"));
        assert!(!looks_like_bootstrap_token("ABCDEF.0123456789abcdef"));
        assert!(!looks_like_bootstrap_token("abcdef0123456789abcdef"));
        assert!(!looks_like_bootstrap_token("eyJhbGciOiJFUzI1NiJ9.eyJ9.sig"));
        assert!(!looks_like_bootstrap_token("abcdef.0123456789abcdef.x"));
    }

    #[test]
    fn valid_token_authenticates() {
        let user = authenticate(TOKEN, &secret(&[]), NOW).unwrap();
        assert_eq!(user.username, "system:bootstrap:abcdef");
        assert_eq!(
            user.groups,
            vec![
                "system:bootstrappers",
                "system:bootstrappers:kubeadm:default-node-token"
            ]
        );
    }

    #[test]
    fn wrong_secret_rejected() {
        assert!(authenticate("abcdef.0123456789abcdee", &secret(&[]), NOW).is_err());
    }

    #[test]
    fn wrong_type_rejected() {
        let mut s = secret(&[]);
        s["type"] = json!("Opaque");
        assert!(authenticate(TOKEN, &s, NOW).is_err());
    }

    #[test]
    fn usage_required() {
        assert!(
            authenticate(
                TOKEN,
                &secret(&[("usage-bootstrap-authentication", "false")]),
                NOW
            )
            .is_err()
        );
        let mut s = secret(&[]);
        s["data"]
            .as_object_mut()
            .unwrap()
            .remove("usage-bootstrap-authentication");
        assert!(authenticate(TOKEN, &s, NOW).is_err());
    }

    #[test]
    fn expiration_enforced() {
        let s = secret(&[("expiration", "2027-02-01T00:00:00Z")]);
        assert!(authenticate(TOKEN, &s, NOW).is_ok()); // NOW is Jan 2027
        let past = secret(&[("expiration", "2020-01-01T00:00:00Z")]);
        assert!(authenticate(TOKEN, &past, NOW).is_err());
        let garbage = secret(&[("expiration", "tomorrow")]);
        assert!(authenticate(TOKEN, &garbage, NOW).is_err());
    }

    #[test]
    fn extra_groups_must_be_bootstrappers() {
        assert!(
            authenticate(
                TOKEN,
                &secret(&[("auth-extra-groups", "system:masters")]),
                NOW
            )
            .is_err()
        );
        let ok = secret(&[(
            "auth-extra-groups",
            "system:bootstrappers:a, system:bootstrappers:b",
        )]);
        assert_eq!(authenticate(TOKEN, &ok, NOW).unwrap().groups.len(), 3);
    }

    #[test]
    fn mismatched_secret_name_rejected() {
        let mut s = secret(&[]);
        s["metadata"]["name"] = json!("bootstrap-token-zzzzzz");
        assert!(authenticate(TOKEN, &s, NOW).is_err());
    }
}
