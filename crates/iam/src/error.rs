use keelson_aws_core::AwsError;
use keelson_store::StoreError;

/// Everything IAM and STS can fail with. API-level refusals carry the [`AwsError`] IAM would
/// answer; the rest are internal failures, answered as `ServiceFailure`.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{}: {}", .0.code, .0.message)]
    Api(AwsError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stored record {key} does not decode: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("the IAM state changed under this request too many times; try again")]
    Contended,
}

impl IamError {
    pub fn api(status: u16, code: &str, message: impl Into<String>) -> IamError {
        IamError::Api(AwsError::new(status, code, message))
    }

    pub fn no_such_entity(message: impl Into<String>) -> IamError {
        IamError::api(404, "NoSuchEntity", message)
    }

    pub fn already_exists(message: impl Into<String>) -> IamError {
        IamError::api(409, "EntityAlreadyExists", message)
    }

    pub fn validation(message: impl Into<String>) -> IamError {
        IamError::api(400, "ValidationError", message)
    }

    pub fn malformed_policy(message: impl Into<String>) -> IamError {
        IamError::api(400, "MalformedPolicyDocument", message)
    }

    pub fn delete_conflict(message: impl Into<String>) -> IamError {
        IamError::api(409, "DeleteConflict", message)
    }

    pub fn access_denied(message: impl Into<String>) -> IamError {
        IamError::api(403, "AccessDenied", message)
    }

    /// The wire error: API refusals as they are, internal failures as a 500 whose message says
    /// nothing about the store (the details go to the log).
    pub fn into_aws(self) -> AwsError {
        match self {
            IamError::Api(error) => error,
            IamError::Contended => AwsError::new(503, "ServiceUnavailable", self.to_string()),
            other => {
                tracing::error!(error = %other, "IAM request failed");
                AwsError::new(500, "ServiceFailure", "internal failure")
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, IamError>;
