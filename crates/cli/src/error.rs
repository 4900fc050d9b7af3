use std::path::PathBuf;

/// Everything the command-line client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile {profile:?} to the shared credentials file"
    )]
    NoCredentials { profile: String },
    #[error("no region: pass --region or set AWS_REGION (or a region in the profile's config)")]
    NoRegion,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing the request: {0}")]
    Signing(String),
    #[error("calling {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    #[error("{service} did not answer in time ({endpoint})")]
    Timeout {
        service: &'static str,
        endpoint: String,
    },
    /// An AWS service's error answer, as the AWS CLI shows it.
    #[error("{service} {operation}: {code} ({status}): {message}")]
    Service {
        service: &'static str,
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer from {service}: {message}")]
    Answer {
        service: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    ClusterConfig { path: String, message: String },
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl CliError {
    /// The AWS error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CliError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}
