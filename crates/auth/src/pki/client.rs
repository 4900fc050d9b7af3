//! Reading the identity out of a client certificate that rustls has already verified.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{AuthError, UserInfo};

/// The user a verified client certificate names, as upstream's x509 authenticator reads it:
/// the subject CN is the username and each O is a group. The server adds
/// `system:authenticated` itself.
pub fn user_from_client_cert(der: &[u8]) -> Result<UserInfo, AuthError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| AuthError::Certificate(e.to_string()))?;
    let subject = cert.subject();
    let username = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())
        .ok_or_else(|| AuthError::Certificate("client certificate has no common name".into()))?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_string)
        .collect();
    Ok(UserInfo {
        username,
        groups,
        ..UserInfo::default()
    })
}
