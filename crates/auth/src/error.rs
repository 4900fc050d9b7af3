use std::path::PathBuf;

/// Every failure this crate reports.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    CertGeneration(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("invalid PEM in {0}")]
    Pem(String),
    #[error("invalid certificate: {0}")]
    Certificate(String),
    #[error("invalid key: {0}")]
    Key(String),
    #[error("kubeconfig serialization failed: {0}")]
    Kubeconfig(#[from] serde_yaml::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("signing failed")]
    Signing,
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("invalid bootstrap token: {0}")]
    InvalidBootstrapToken(&'static str),
}
