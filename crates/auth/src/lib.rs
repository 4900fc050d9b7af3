//! Authentication and authorization for the keelson API server: the cluster PKI and admin
//! kubeconfig, service-account tokens (ES256 JWTs), bootstrap tokens, and RBAC evaluation with
//! upstream's bootstrap policy.

pub mod bootstrap;
mod error;
pub mod kubeconfig;
pub mod pki;
pub mod rbac;
pub mod serviceaccount;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::AuthError;

/// An authenticated identity, shaped like upstream's `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}
