//! The one place where API errors become `metav1.Status` responses.

use http::StatusCode;
use serde_json::{Value, json};

/// One invalid field, reported as a `StatusCause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// Every way a Kubernetes API request can fail, each with upstream's code and reason.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden {
        message: String,
        resource: String,
        group: String,
        name: String,
    },
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        group: String,
        resource: String,
        name: String,
    },
    #[error("the server could not find the requested resource")]
    NotFoundPath,
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        group: String,
        resource: String,
        name: String,
    },
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {reason}")]
    Conflict {
        group: String,
        resource: String,
        name: String,
        reason: String,
    },
    #[error("{message}")]
    ApplyConflict {
        group: String,
        kind: String,
        name: String,
        message: String,
        causes: Vec<FieldCause>,
    },
    #[error("{0}")]
    Gone(String),
    #[error("{message}")]
    Expired {
        message: String,
        continue_token: Option<String>,
    },
    #[error("the request is too large")]
    TooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{kind} \"{name}\" is invalid: {}", summarize(.causes))]
    Invalid {
        group: String,
        kind: String,
        name: String,
        causes: Vec<FieldCause>,
    },
    #[error("{message}")]
    NamespaceTerminating { namespace: String, message: String },
    #[error("{0}")]
    TooManyRequests(String),
    #[error("Internal error occurred: {0}")]
    Internal(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("{0}")]
    Timeout(String),
}

fn summarize(causes: &[FieldCause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl From<keelson_store::StoreError> for ApiError {
    fn from(err: keelson_store::StoreError) -> Self {
        use keelson_store::StoreError as E;
        match err {
            E::Compacted {
                requested,
                compacted,
            } => ApiError::Expired {
                message: format!("too old resource version: {requested} ({compacted})"),
                continue_token: None,
            },
            E::TooLarge { .. } => ApiError::TooLarge,
            E::Closed => ApiError::ServiceUnavailable("storage is shutting down".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::NamespaceTerminating { .. } => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound { .. } | ApiError::NotFoundPath => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone(_) | ApiError::Expired { .. } => StatusCode::GONE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } | ApiError::NamespaceTerminating { .. } => "Forbidden",
            ApiError::NotFound { .. } | ApiError::NotFoundPath => "NotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Gone(_) => "Gone",
            ApiError::Expired { .. } => "Expired",
            ApiError::TooLarge => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Timeout(_) => "Timeout",
        }
    }

    /// The `metav1.Status` body for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        let details = match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            }
            | ApiError::AlreadyExists {
                group,
                resource,
                name,
            }
            | ApiError::Conflict {
                group,
                resource,
                name,
                ..
            } => Some(json!({"name": name, "group": group, "kind": resource})),
            ApiError::Forbidden {
                resource,
                group,
                name,
                ..
            } => Some(json!({"name": name, "group": group, "kind": resource})),
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            }
            | ApiError::ApplyConflict {
                group,
                kind,
                name,
                causes,
                ..
            } => Some(json!({
                "name": name, "group": group, "kind": kind,
                "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>(),
            })),
            ApiError::TooManyRequests(_) => Some(json!({"retryAfterSeconds": 1})),
            _ => None,
        };
        if let Some(mut details) = details {
            if let Some(obj) = details.as_object_mut() {
                obj.retain(|_, v| !matches!(v, Value::String(s) if s.is_empty()));
            }
            status["details"] = details;
        }
        if let ApiError::Expired {
            continue_token: Some(token),
            ..
        } = self
        {
            status["metadata"] = json!({"continue": token});
        }
        status
    }
}

/// A successful deletion answer when the object is already gone.
pub fn success_status(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": group, "kind": resource, "uid": uid},
    })
}
