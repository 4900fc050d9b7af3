//! Two kinds of failure: [`EksError`] for the service's own machinery (store, files, processes),
//! and the AWS errors requests are answered with, built by the helpers here so every message and
//! status code matches what EKS answers.

use std::path::PathBuf;

use keelson_aws_core::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum EksError {
    #[error("store: {0}")]
    Store(#[from] keelson_store::StoreError),
    #[error("corrupt document {key}: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting {}: {source}", binary.display())]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
}

impl EksError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        EksError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Internal failures reach the caller as EKS's ServerException; the details go to the log.
impl From<EksError> for AwsError {
    fn from(error: EksError) -> AwsError {
        tracing::error!(%error, "EKS request failed");
        AwsError::new(500, "ServerException", "An internal error occurred.")
    }
}

pub(crate) type ApiResult<T> = Result<T, AwsError>;

pub(crate) fn cluster_not_found(name: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("No cluster found for name: {name}."),
    )
    .with("clusterName", name)
}

pub(crate) fn cluster_exists(name: &str) -> AwsError {
    AwsError::new(
        409,
        "ResourceInUseException",
        format!("Cluster already exists with name: {name}"),
    )
    .with("clusterName", name)
}

pub(crate) fn invalid_parameter(cluster: Option<&str>, message: impl Into<String>) -> AwsError {
    let error = AwsError::new(400, "InvalidParameterException", message);
    match cluster {
        Some(name) => error.with("clusterName", name),
        None => error,
    }
}

pub(crate) fn invalid_request(cluster: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequestException", message).with("clusterName", cluster)
}

pub(crate) fn resource_in_use(cluster: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ResourceInUseException", message).with("clusterName", cluster)
}

pub(crate) fn resource_not_found(cluster: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message).with("clusterName", cluster)
}

pub(crate) fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", message)
}

pub(crate) fn access_denied(caller_arn: &str, action: &str, resource: &str) -> AwsError {
    AwsError::new(
        403,
        "AccessDeniedException",
        format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
        ),
    )
}

/// The tag APIs have their own vocabulary.
pub(crate) fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "BadRequestException", message)
}

pub(crate) fn tag_resource_not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NotFoundException", message)
}
