//! Rendering kubeconfig files with every credential inline, so a single file is enough to
//! reach the cluster.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::AuthError;

/// What goes into a client-certificate kubeconfig.
#[derive(Clone, Copy, Debug)]
pub struct KubeconfigSpec<'a> {
    pub server_url: &'a str,
    /// Names the cluster entry and the (current) context.
    pub cluster_name: &'a str,
    pub user_name: &'a str,
    pub ca_pem: &'a str,
    pub client_cert_pem: &'a str,
    pub client_key_pem: &'a str,
}

/// The kubeconfig as YAML.
pub fn render(spec: &KubeconfigSpec<'_>) -> Result<String, AuthError> {
    let b64 = |pem: &str| STANDARD.encode(pem.as_bytes());
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": spec.cluster_name,
            "cluster": {
                "server": spec.server_url,
                "certificate-authority-data": b64(spec.ca_pem),
            },
        }],
        "users": [{
            "name": spec.user_name,
            "user": {
                "client-certificate-data": b64(spec.client_cert_pem),
                "client-key-data": b64(spec.client_key_pem),
            },
        }],
        "contexts": [{
            "name": spec.cluster_name,
            "context": {"cluster": spec.cluster_name, "user": spec.user_name},
        }],
        "current-context": spec.cluster_name,
        "preferences": {},
    });
    Ok(serde_yaml::to_string(&config)?)
}
