//! Configuration of one control plane's API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Config {
    /// Where credentials (CA, keys, kubeconfigs) live.
    pub data_dir: PathBuf,
    pub listen: Vec<SocketAddr>,
    /// Minor version of Kubernetes served, e.g. 33 for 1.33.
    pub kubernetes_minor: u32,
    /// Extra names and addresses for the serving certificate.
    pub extra_sans: Vec<String>,
    /// Audiences accepted in (and given to) service-account tokens.
    pub api_audiences: Vec<String>,
    /// Service-account token issuer (`iss`), also served at /.well-known/openid-configuration.
    pub issuer: String,
    pub cluster_name: String,
    /// The first address of the service CIDR, given to the `kubernetes` Service.
    pub kubernetes_service_ip: String,
    /// Where ClusterIPs come from (upstream's --service-cluster-ip-range, default 10.96.0.0/12
    /// as kubeadm sets it).
    pub service_cidr: (std::net::Ipv4Addr, u8),
    /// Upstream's --service-node-port-range.
    pub node_port_range: std::ops::RangeInclusive<u16>,
    /// The cluster's AWS authentication file (`--aws-auth-config`): when set, bearer tokens in
    /// aws-iam-authenticator's format sign users in, as on EKS.
    pub aws_auth_config: Option<PathBuf>,
}

/// Versions of Kubernetes a control plane can serve.
pub const SUPPORTED_MINORS: &[u32] = &[32, 33];

impl Config {
    pub fn new(data_dir: PathBuf, listen: Vec<SocketAddr>, kubernetes_minor: u32) -> Config {
        let issuer = "https://kubernetes.default.svc.cluster.local".to_string();
        Config {
            data_dir,
            listen,
            kubernetes_minor,
            extra_sans: Vec::new(),
            api_audiences: vec![issuer.clone()],
            issuer,
            cluster_name: "keelson".into(),
            kubernetes_service_ip: "10.96.0.1".into(),
            service_cidr: (std::net::Ipv4Addr::new(10, 96, 0, 0), 12),
            node_port_range: 30000..=32767,
            aws_auth_config: None,
        }
    }

    pub fn advertise_address(&self) -> String {
        self.listen
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    pub fn server_url(&self) -> String {
        let addr = self
            .listen
            .first()
            .copied()
            .unwrap_or_else(|| ([127, 0, 0, 1], 6443).into());
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        match addr {
            SocketAddr::V6(_) if !addr.ip().is_unspecified() => {
                format!("https://[{host}]:{}", addr.port())
            }
            _ => format!("https://{host}:{}", addr.port()),
        }
    }

    pub fn issuer_jwks_url(&self) -> String {
        format!("{}/openid/v1/jwks", self.server_url())
    }

    /// `/version`: kubectl's dispatcher on our machines picks `kubectl.1.<minor>` from it.
    pub fn version_info(&self) -> Value {
        json!({
            "major": "1",
            "minor": self.kubernetes_minor.to_string(),
            "gitVersion": format!("v1.{}.0", self.kubernetes_minor),
            "gitCommit": env!("CARGO_PKG_VERSION"),
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "keelson",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
        })
    }
}
