//! Errors of protobuf body decoding; each one means the API server answers 400 BadRequest.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    /// The body does not start with the `k8s\0` magic of Kubernetes' protobuf envelope.
    #[error("protobuf body does not start with the Kubernetes magic prefix \"k8s\\x00\"")]
    BadMagic,
    /// The body ended inside a field (length, varint or fixed-size value).
    #[error("protobuf body is truncated at {path}")]
    Truncated { path: String },
    /// Malformed protobuf: wrong wire type, overlong varint, unsupported group, bad key.
    #[error("invalid protobuf data at {path}: {reason}")]
    InvalidWireData { path: String, reason: &'static str },
    /// A decoded value that upstream's JSON serializer would refuse (e.g. IntOrString type 7).
    #[error("invalid value at {path}: {reason}")]
    InvalidValue { path: String, reason: String },
    /// The envelope names a kind we have no schema for.
    #[error("no protobuf schema for kind {kind:?} in apiVersion {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    /// The envelope declares an encoding or inner content type other than plain protobuf.
    #[error("unsupported protobuf envelope: {0}")]
    UnsupportedEnvelope(String),
    /// Nesting deeper than any built-in kind needs; refused instead of risking the stack.
    #[error("protobuf body nests deeper than {limit} messages at {path}")]
    TooDeep { path: String, limit: usize },
}
