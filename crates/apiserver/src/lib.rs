//! The Kubernetes API server of a Keelson control plane.
//!
//! One [`server::ApiServer`] serves one cluster: HTTPS with client-certificate and token
//! authentication, RBAC, discovery, OpenAPI, and the REST semantics of every built-in and custom
//! resource over a [`keelson_store::Store`]. Reads and watches come from an in-memory
//! [`cache::WatchCache`] fed by one store watch.
//!
//! Architecture invariant: this crate is the only Kubernetes component that holds a `Store`.
//! Errors reach clients as `metav1.Status` through [`status::ApiError`] only.

mod admission;
mod authn;
mod authz;
mod bootstrap;
mod cache;
pub mod codec;
mod discovery;
mod disruption;
mod fields;
mod handler;
pub mod metrics;
mod nonresource;
mod object;
mod openapi;
mod partial;
mod patching;
mod read;
pub mod registry;
pub mod request;
pub mod response;
mod reviews;
mod strategy;
mod subresources;
mod table;
mod watch;
mod watchers;
mod write;

pub mod config;
pub mod server;
pub mod status;

pub use authn::aws::{AwsAuthError, load_cluster_auth_config};
pub use config::Config;
pub use metrics::resident_bytes;
pub use server::{ApiServer, RunningServer, start};

/// Failures to start or run the server (request errors are [`status::ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("storage: {0}")]
    Store(#[from] keelson_store::StoreError),
    #[error("credentials: {0}")]
    Auth(#[from] keelson_auth::AuthError),
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    AwsAuth(#[from] AwsAuthError),
}

/// Write `DIR/admin.kubeconfig`: a client certificate in group system:masters and the cluster
/// CA inline. Returns its path.
pub fn write_admin_kubeconfig(
    server: &ApiServer,
    server_url: &str,
) -> Result<std::path::PathBuf, ServerError> {
    let kubeconfig = server
        .pki
        .admin_kubeconfig(server_url, &server.config.cluster_name)?;
    let path = server.config.data_dir.join("admin.kubeconfig");
    write_private(&path, kubeconfig.as_bytes())?;
    Ok(path)
}

/// A kubeconfig for an in-process component (controller manager, scheduler) that reaches this
/// server as `user` with a fresh client certificate, like any other client. Kept in memory only.
pub fn component_kubeconfig(
    server: &ApiServer,
    server_url: &str,
    user: &str,
) -> Result<String, ServerError> {
    let (cert, key) = server.pki.issue_client_cert(user, &[])?;
    let spec = keelson_auth::kubeconfig::KubeconfigSpec {
        server_url,
        cluster_name: &server.config.cluster_name,
        user_name: user,
        ca_pem: server.pki.ca_pem(),
        client_cert_pem: &cert,
        client_key_pem: &key,
    };
    Ok(keelson_auth::kubeconfig::render(&spec)?)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
