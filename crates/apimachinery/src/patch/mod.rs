//! The three PATCH formats of the Kubernetes API, on wire-form JSON:
//!
//! - [`json_patch`]: RFC 6902 (`application/json-patch+json`).
//! - [`merge_patch`]: RFC 7386 (`application/merge-patch+json`).
//! - [`strategic_merge_patch`]: Kubernetes' strategic merge patch
//!   (`application/strategic-merge-patch+json`) for built-in kinds, with merge keys from
//!   [`BuiltinPatchMeta`].
//!
//! Server-side apply lives in [`crate::apply`]. Everything here is pure and returns
//! errors as values; malformed input never panics.

mod gofmt;
mod json_patch;
mod merge_patch;
mod strategic;

#[cfg(test)]
mod tests;

pub use json_patch::{MAX_COPY_BYTES, MAX_OPERATIONS, json_patch};
pub use merge_patch::merge_patch;
pub use strategic::{
    BuiltinPatchMeta, ListStrategy, PatchSchema, strategic_merge_patch, strategic_merge_patch_with,
};

/// Why a patch could not be applied. Messages are upstream's texts; the doc of each
/// variant gives the status upstream answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The JSON patch body is not a list of operations (400).
    #[error("{0}")]
    InvalidJsonPatch(String),
    /// More operations than upstream accepts (413).
    #[error("The allowed maximum operations in a JSON patch is {limit}, got {count}")]
    TooManyOperations { limit: usize, count: usize },
    /// An operation does not apply to the document, or a `test` failed (422).
    #[error("{0}")]
    JsonPatchFailed(String),
    /// `copy` operations would grow the document by more than upstream allows (422).
    #[error(
        "Unable to complete the copy, the accumulated size increase of copy is {size}, exceeding the limit {limit}"
    )]
    CopySizeExceeded { size: usize, limit: usize },
    /// The strategic merge patch (or the document) is malformed for the kind (400).
    #[error("{0}")]
    InvalidStrategicMergePatch(String),
    /// Strategic merge patch of a kind without patch metadata, i.e. a custom resource
    /// (upstream answers 415 Unsupported Media Type).
    #[error("strategic merge patch format is not supported")]
    StrategicMergePatchUnsupported,
}
