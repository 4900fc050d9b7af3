//! The cluster PKI: a CA, the API server's serving certificate, the service-account signing key
//! and the admin client certificate, kept as PEM files in one directory.

mod certs;
mod client;
mod files;
mod tls;

use std::path::{Path, PathBuf};

pub use client::user_from_client_cert;

use crate::AuthError;
use crate::serviceaccount::TokenIssuer;
use certs::{CaSigner, Generated};
use files::{CERT_MODE, KEY_MODE};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVING_CERT: &str = "apiserver.crt";
pub const SERVING_KEY: &str = "apiserver.key";
pub const SA_KEY: &str = "sa.key";
pub const SA_PUB: &str = "sa.pub";
pub const ADMIN_CERT: &str = "admin.crt";
pub const ADMIN_KEY: &str = "admin.key";

pub const CA_COMMON_NAME: &str = "keelson-ca";
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// The loaded PKI. The serving, admin and service-account keys are held in memory as PEM; the
/// CA key is read from disk only when a certificate has to be issued.
pub struct ClusterPki {
    dir: PathBuf,
    ca_cert_pem: String,
    ca_cert_der: Vec<u8>,
    serving_cert_pem: String,
    serving_key_pem: String,
    sa_key_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
}

impl std::fmt::Debug for ClusterPki {
    // Keys are deliberately left out so a stray `{:?}` never logs them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A certificate and key pair read from disk, if both files exist.
fn load_pair(dir: &Path, cert: &str, key: &str) -> Result<Option<Generated>, AuthError> {
    match (
        files::read_optional(dir, cert)?,
        files::read_optional(dir, key)?,
    ) {
        (Some(cert_pem), Some(key_pem)) => Ok(Some(Generated { cert_pem, key_pem })),
        _ => Ok(None),
    }
}

/// Write a key first and its certificate second: a crash in between leaves a certificate
/// missing, which the next start treats as "generate again".
fn store_pair(dir: &Path, cert: &str, key: &str, pair: &Generated) -> Result<(), AuthError> {
    files::write_atomic(dir, key, &pair.key_pem, KEY_MODE)?;
    files::write_atomic(dir, cert, &pair.cert_pem, CERT_MODE)
}

impl ClusterPki {
    /// Load the PKI from `dir`, generating whatever is missing, expired or (for the serving
    /// certificate) issued for a different set of `sans`.
    pub fn load_or_create(dir: &Path, sans: &[String]) -> Result<ClusterPki, AuthError> {
        files::ensure_private_dir(dir)?;

        // The CA: reuse it unless it is missing or expired; a new CA invalidates every leaf.
        let mut ca_regenerated = false;
        let ca = match load_pair(dir, CA_CERT, CA_KEY)? {
            Some(ca) if certs::ca_is_current(&certs::pem_to_der(&ca.cert_pem)?)? => ca,
            _ => {
                let ca = certs::generate_ca(CA_COMMON_NAME)?;
                store_pair(dir, CA_CERT, CA_KEY, &ca)?;
                ca_regenerated = true;
                ca
            }
        };
        let ca_cert_der = certs::pem_to_der(&ca.cert_pem)?;
        let signer = CaSigner::new(&ca.cert_pem, &ca.key_pem)?;

        let desired = certs::desired_sans(sans);
        let serving = match load_pair(dir, SERVING_CERT, SERVING_KEY)? {
            Some(pair)
                if !ca_regenerated && {
                    let der = certs::pem_to_der(&pair.cert_pem)?;
                    certs::leaf_is_current(&der, &ca_cert_der)?
                        && certs::cert_sans(&der)? == desired
                } =>
            {
                pair
            }
            _ => {
                let pair = signer.serving_cert(&desired)?;
                store_pair(dir, SERVING_CERT, SERVING_KEY, &pair)?;
                pair
            }
        };

        let admin = match load_pair(dir, ADMIN_CERT, ADMIN_KEY)? {
            Some(pair)
                if !ca_regenerated
                    && certs::leaf_is_current(
                        &certs::pem_to_der(&pair.cert_pem)?,
                        &ca_cert_der,
                    )? =>
            {
                pair
            }
            _ => {
                let pair = signer.client_cert(ADMIN_USER, &[ADMIN_GROUP])?;
                store_pair(dir, ADMIN_CERT, ADMIN_KEY, &pair)?;
                pair
            }
        };

        // The signing key outlives CA rotations: replacing it would invalidate every issued token.
        let sa_key_pem = match files::read_optional(dir, SA_KEY)? {
            Some(pem) => pem,
            None => {
                let key = certs::generate_key()?;
                files::write_atomic(dir, SA_KEY, &key.serialize_pem(), KEY_MODE)?;
                files::write_atomic(dir, SA_PUB, &key.public_key_pem(), CERT_MODE)?;
                key.serialize_pem()
            }
        };

        Ok(ClusterPki {
            dir: dir.to_path_buf(),
            ca_cert_pem: ca.cert_pem,
            ca_cert_der,
            serving_cert_pem: serving.cert_pem,
            serving_key_pem: serving.key_pem,
            sa_key_pem,
            admin_cert_pem: admin.cert_pem,
            admin_key_pem: admin.key_pem,
        })
    }

    /// The directory the PEM files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (PEM), published as the kube-root-ca.crt ConfigMap.
    pub fn ca_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_cert_der
    }

    /// The serving certificate (PEM).
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving_cert_pem
    }

    /// The admin client certificate (PEM): CN kubernetes-admin, O system:masters.
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin_cert_pem
    }

    /// The admin client key (PKCS#8 PEM).
    pub fn admin_key_pem(&self) -> &str {
        &self.admin_key_pem
    }

    /// Issue a client certificate signed by the cluster CA, e.g. for a component's kubeconfig.
    /// At most one group (see `CaSigner::client_cert`). Returns (certificate PEM, key PEM).
    pub fn issue_client_cert(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<(String, String), AuthError> {
        let pair = self.signer()?.client_cert(user, groups)?;
        Ok((pair.cert_pem, pair.key_pem))
    }

    fn signer(&self) -> Result<CaSigner, AuthError> {
        let key = files::read_optional(&self.dir, CA_KEY)?.ok_or_else(|| {
            AuthError::Key(format!("{} missing from {}", CA_KEY, self.dir.display()))
        })?;
        CaSigner::new(&self.ca_cert_pem, &key)
    }

    /// The service-account token issuer for `issuer` (the `iss` claim), signing with this PKI's
    /// service-account key.
    pub fn token_issuer(&self, issuer: &str) -> Result<TokenIssuer, AuthError> {
        TokenIssuer::from_pem(issuer, &self.sa_key_pem)
    }

    /// rustls server configuration: the serving certificate, client certificates optional but
    /// verified against the cluster CA when presented, ALPN h2 then http/1.1.
    pub fn server_tls_config(&self) -> Result<rustls::ServerConfig, AuthError> {
        tls::server_config(
            &self.ca_cert_der,
            &self.serving_cert_pem,
            &self.serving_key_pem,
        )
    }

    /// A kubeconfig for the admin user, all credentials inline.
    pub fn admin_kubeconfig(
        &self,
        server_url: &str,
        cluster_name: &str,
    ) -> Result<String, AuthError> {
        crate::kubeconfig::render(&crate::kubeconfig::KubeconfigSpec {
            server_url,
            cluster_name,
            user_name: ADMIN_USER,
            ca_pem: &self.ca_cert_pem,
            client_cert_pem: &self.admin_cert_pem,
            client_key_pem: &self.admin_key_pem,
        })
    }
}

#[cfg(test)]
mod tests;
