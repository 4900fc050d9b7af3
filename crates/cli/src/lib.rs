//! The AWS client behind `keelson`'s command line (`keelson get-token`, `create cluster`,
//! `get clusters`, `delete cluster`, `utils write-kubeconfig`): the AWS CLI's credential chain,
//! SigV4-signed calls to STS and to the EKS API, eksctl's ClusterConfig, and kubeconfig files
//! in the shape `aws eks update-kubeconfig` writes. It talks to Keelson only through the
//! public AWS APIs, so it works against AWS too.

pub mod cluster_config;
pub mod credentials;
pub mod eks;
mod error;
mod http_client;
pub mod kubeconfig;
pub mod output;
pub mod session;
pub mod sts;
pub mod token;
pub mod workflow;

pub use error::CliError;

/// The process environment, as a lookup (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The base URL of an endpoint, ending in exactly one `/`.
pub fn base_url(endpoint: &str) -> String {
    format!("{}/", endpoint.trim_end_matches('/'))
}
