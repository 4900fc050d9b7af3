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

#[cfg(test)]
mod tests {
    use super::*;

    /// The server keeps these in an `Arc` shared across tasks and converts `AuthError` into
    /// its own error type, so they must stay thread-safe.
    #[test]
    fn shared_types_are_thread_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<AuthError>();
        assert_send_sync::<pki::ClusterPki>();
        assert_send_sync::<serviceaccount::TokenIssuer>();
        assert_send_sync::<rbac::Authorizer>();
    }

    #[test]
    fn user_info_round_trips_through_json() {
        let user = UserInfo {
            username: "alice".into(),
            uid: "u1".into(),
            groups: vec!["devs".into()],
            extra: BTreeMap::from([("scopes".to_string(), vec!["a".to_string()])]),
        };
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["username"], "alice");
        assert_eq!(serde_json::from_value::<UserInfo>(json).unwrap(), user);
    }
}
