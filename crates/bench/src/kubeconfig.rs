//! The parts of the admin kubeconfig the bench needs: server URL, cluster CA and the client
//! certificate, all inline (the control plane writes them as `*-data`).

use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use crate::BenchError;

#[derive(Clone, Debug)]
pub struct Credentials {
    pub server: String,
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    clusters: Vec<Named<Cluster>>,
    users: Vec<Named<User>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user")]
    #[serde(rename = "context")]
    item: T,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    ca: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "client-certificate-data")]
    cert: String,
    #[serde(rename = "client-key-data")]
    key: String,
}

pub fn load(path: &Path) -> Result<Credentials, BenchError> {
    let text = std::fs::read_to_string(path)
        .map_err(BenchError::io(format!("reading {}", path.display())))?;
    parse(&text).map_err(|reason| BenchError::Kubeconfig {
        path: path.to_path_buf(),
        reason,
    })
}

pub fn parse(text: &str) -> Result<Credentials, String> {
    let config: Kubeconfig = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    // Follow the current context when there is one; otherwise the first cluster and user.
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == config.current_context)
        .map(|c| &c.item);
    let cluster = match context {
        Some(c) => config.clusters.iter().find(|n| n.name == c.cluster),
        None => config.clusters.first(),
    }
    .ok_or("no cluster")?;
    let user = match context {
        Some(c) => config.users.iter().find(|n| n.name == c.user),
        None => config.users.first(),
    }
    .ok_or("no user")?;
    let b64 = |field: &str, v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|e| format!("{field}: {e}"))
    };
    Ok(Credentials {
        server: cluster.item.server.clone(),
        ca_pem: b64("certificate-authority-data", &cluster.item.ca)?,
        cert_pem: b64("client-certificate-data", &user.item.cert)?,
        key_pem: b64("client-key-data", &user.item.key)?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_inline_credentials() {
        let text = r#"
apiVersion: v1
kind: Config
current-context: admin@keelson
clusters:
- name: other
  cluster: {server: "https://10.0.0.1", certificate-authority-data: "eA=="}
- name: keelson
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0E=
contexts:
- name: admin@keelson
  context: {cluster: keelson, user: admin}
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"#;
        let c = parse(text).unwrap();
        assert_eq!(c.server, "https://127.0.0.1:6443");
        assert_eq!(c.ca_pem, b"CA");
        assert_eq!(c.cert_pem, b"CERT");
        assert_eq!(c.key_pem, b"KEY");
        assert!(parse("clusters: []\nusers: []\n").is_err());
    }
}
