use std::path::PathBuf;

/// Everything that can stop a benchmark run. Individual failed requests under load are counted,
/// not raised; these are the failures that make a measurement impossible.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig { path: PathBuf, reason: String },
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("{method} {path}: HTTP {status}: {body}")]
    Status {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    #[error("decoding a response to {path}: {reason}")]
    Decode { path: String, reason: String },
    #[error("store: {0}")]
    Store(#[from] keelson_store::StoreError),
    #[error("etcd: {0}")]
    Etcd(String),
    #[error("control plane: {0}")]
    ControlPlane(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("a benchmark task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Invalid(String),
}

impl BenchError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }
}
