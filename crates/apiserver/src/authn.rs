//! Authentication: x509 client certificates, service-account tokens and bootstrap tokens, then
//! impersonation. Anonymous requests are refused (except the public health and version paths).

pub mod aws;

use std::collections::BTreeMap;

use base64::Engine;

use http::HeaderMap;
use serde_json::Value;

use crate::object::storage_key;
use crate::server::ApiServer;
use crate::status::ApiError;

/// The authenticated caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    pub fn anonymous() -> User {
        User {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
            ..User::default()
        }
    }

    fn authenticated(mut self) -> User {
        if !self.groups.iter().any(|g| g == "system:authenticated") {
            self.groups.push("system:authenticated".into());
        }
        self
    }

    pub fn to_auth(&self) -> keelson_auth::UserInfo {
        keelson_auth::UserInfo {
            username: self.name.clone(),
            uid: self.uid.clone(),
            groups: self.groups.clone(),
            extra: self.extra.clone(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut user = serde_json::json!({"username": self.name, "groups": self.groups});
        if !self.uid.is_empty() {
            user["uid"] = Value::String(self.uid.clone());
        }
        if !self.extra.is_empty() {
            user["extra"] = serde_json::to_value(&self.extra).unwrap_or_default();
        }
        user
    }
}

/// What the TLS layer learnt about the connection. The client certificate is read once per
/// connection, not per request: an HTTP/2 connection carries thousands of requests.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    client: ClientCertificate,
}

#[derive(Clone, Debug, Default)]
enum ClientCertificate {
    #[default]
    Absent,
    /// Verified against the cluster CA by rustls and read into a user.
    User(User),
    /// Verified by rustls but unusable as an identity: every request on it is refused.
    Unusable,
}

impl Peer {
    pub fn from_certificate(der: Option<&[u8]>) -> Peer {
        let client = match der.map(keelson_auth::pki::user_from_client_cert) {
            None => ClientCertificate::Absent,
            Some(Ok(info)) => ClientCertificate::User(
                User {
                    name: info.username,
                    uid: info.uid,
                    groups: info.groups,
                    extra: info.extra,
                }
                .authenticated(),
            ),
            Some(Err(_)) => ClientCertificate::Unusable,
        };
        Peer { client }
    }
}

pub async fn authenticate(
    server: &ApiServer,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<Option<User>, ApiError> {
    if let Some(token) = bearer_token(headers) {
        if let Some(user) = aws::authenticate(server, &token).await {
            return user.map(|user| Some(user.authenticated()));
        }
        return authenticate_token(server, &token)
            .map(|user| Some(user.authenticated()))
            .ok_or(ApiError::Unauthorized);
    }
    match &peer.client {
        ClientCertificate::Absent => Ok(None),
        ClientCertificate::User(user) => Ok(Some(user.clone())),
        ClientCertificate::Unusable => Err(ApiError::Unauthorized),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// Resolve a bearer token to a user, or `None` if it is not valid.
pub fn authenticate_token(server: &ApiServer, token: &str) -> Option<User> {
    if keelson_auth::bootstrap::looks_like_bootstrap_token(token) {
        return authenticate_bootstrap_token(server, token);
    }
    let claims = match server
        .service_accounts
        .verify(token, &server.config.api_audiences)
    {
        Ok(claims) => claims,
        Err(_) => return authenticate_legacy_token(server, token),
    };
    // A token stays valid only while its service account (and bound pod) exist.
    let sa_key = storage_key(
        "",
        "serviceaccounts",
        Some(&claims.namespace),
        &claims.service_account_name,
    );
    let sa = server
        .cache
        .get("", "serviceaccounts", &sa_key)?
        .value()
        .ok()?;
    if !claims.service_account_uid.is_empty()
        && sa["metadata"]["uid"].as_str() != Some(&claims.service_account_uid)
    {
        return None;
    }
    let mut extra = BTreeMap::new();
    if let Some((pod_name, pod_uid)) = &claims.pod {
        let pod_key = storage_key("", "pods", Some(&claims.namespace), pod_name);
        let pod = server.cache.get("", "pods", &pod_key)?.value().ok()?;
        if pod["metadata"]["uid"].as_str() != Some(pod_uid) {
            return None;
        }
        extra.insert(
            "authentication.kubernetes.io/pod-name".into(),
            vec![pod_name.clone()],
        );
        extra.insert(
            "authentication.kubernetes.io/pod-uid".into(),
            vec![pod_uid.clone()],
        );
    }
    Some(User {
        name: format!(
            "system:serviceaccount:{}:{}",
            claims.namespace, claims.service_account_name
        ),
        uid: claims.service_account_uid.clone(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{}", claims.namespace),
        ],
        extra,
    })
}

/// A legacy token is honoured while its Secret still holds it (same bytes) and names the
/// service account it was issued for, and that account still exists with the same uid.
fn authenticate_legacy_token(server: &ApiServer, token: &str) -> Option<User> {
    let claims = server.service_accounts.verify_legacy(token).ok()?;
    let secret_key = storage_key("", "secrets", Some(&claims.namespace), &claims.secret_name);
    let secret = server.cache.get("", "secrets", &secret_key)?.value().ok()?;
    let stored = secret["data"]["token"].as_str()?;
    let stored = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .ok()?;
    let annotations = &secret["metadata"]["annotations"];
    if secret["type"] != "kubernetes.io/service-account-token"
        || stored != token.as_bytes()
        || annotations["kubernetes.io/service-account.name"] != claims.service_account_name.as_str()
    {
        return None;
    }
    let sa_key = storage_key(
        "",
        "serviceaccounts",
        Some(&claims.namespace),
        &claims.service_account_name,
    );
    let sa = server
        .cache
        .get("", "serviceaccounts", &sa_key)?
        .value()
        .ok()?;
    if sa["metadata"]["uid"].as_str() != Some(claims.service_account_uid.as_str()) {
        return None;
    }
    let mut extra = BTreeMap::new();
    extra.insert(
        "authentication.kubernetes.io/credential-id".into(),
        vec![format!(
            "secret-uid={}",
            secret["metadata"]["uid"].as_str().unwrap_or_default()
        )],
    );
    Some(User {
        name: format!(
            "system:serviceaccount:{}:{}",
            claims.namespace, claims.service_account_name
        ),
        uid: claims.service_account_uid,
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{}", claims.namespace),
        ],
        extra,
    })
}

fn authenticate_bootstrap_token(server: &ApiServer, token: &str) -> Option<User> {
    let (id, _) = token.split_once('.')?;
    let key = storage_key(
        "",
        "secrets",
        Some("kube-system"),
        &format!("bootstrap-token-{id}"),
    );
    let secret = server.cache.get("", "secrets", &key)?.value().ok()?;
    let info =
        keelson_auth::bootstrap::authenticate(token, &secret, chrono::Utc::now().timestamp())
            .ok()?;
    Some(User {
        name: info.username,
        uid: info.uid,
        groups: info.groups,
        extra: info.extra,
    })
}

/// Apply `Impersonate-*` headers if the caller may impersonate what they name.
pub fn impersonate(server: &ApiServer, user: User, headers: &HeaderMap) -> Result<User, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let target_users = values("impersonate-user");
    let target_groups = values("impersonate-group");
    let target_uid = values("impersonate-uid");
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-")
            && let Ok(v) = value.to_str()
        {
            let key = percent_decode(key);
            extra.entry(key).or_default().push(v.to_string());
        }
    }
    if target_users.is_empty() {
        if target_groups.is_empty() && target_uid.is_empty() && extra.is_empty() {
            return Ok(user);
        }
        return Err(ApiError::BadRequest(
            "requested impersonation is invalid: impersonating groups, uids or extra requires a user".into(),
        ));
    }
    let target = &target_users[0];
    let (resource, group, namespace, name) = match target.strip_prefix("system:serviceaccount:") {
        Some(rest) => {
            let (ns, sa) = rest.split_once(':').unwrap_or((rest, ""));
            ("serviceaccounts", "", Some(ns.to_string()), sa.to_string())
        }
        None => ("users", "", None, target.clone()),
    };
    crate::authz::authorize_impersonation(
        server,
        &user,
        resource,
        group,
        namespace.as_deref(),
        &name,
    )?;
    for group_name in &target_groups {
        crate::authz::authorize_impersonation(server, &user, "groups", "", None, group_name)?;
    }
    for uid in &target_uid {
        crate::authz::authorize_impersonation(
            server,
            &user,
            "uids",
            "authentication.k8s.io",
            None,
            uid,
        )?;
    }
    for (key, values) in &extra {
        for value in values {
            crate::authz::authorize_impersonation(
                server,
                &user,
                &format!("userextras/{key}"),
                "authentication.k8s.io",
                None,
                value,
            )?;
        }
    }
    let mut groups = target_groups;
    if let Some(ns) = &namespace {
        groups.push("system:serviceaccounts".into());
        groups.push(format!("system:serviceaccounts:{ns}"));
    }
    Ok(User {
        name: target.clone(),
        uid: target_uid.first().cloned().unwrap_or_default(),
        groups,
        extra,
    }
    .authenticated())
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("k={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
