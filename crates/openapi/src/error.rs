//! The crate's error type.

/// What can go wrong in this crate. Everything else (validation, unknown fields) is data,
/// reported as values rather than errors.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The v2 document could not be converted to its protobuf form.
    #[error("cannot encode the OpenAPI v2 document as protobuf: {0}")]
    Protobuf(String),
}
