//! OpenAPI v3 and v2 documents for the kinds the API server serves, and structural-schema
//! handling of custom resources (defaulting, pruning, validation) plus unknown-field detection
//! for built-in kinds.
//!
//! Sans-IO: resource descriptions and JSON in, JSON (or protobuf bytes) out.
//! - Built-in kinds' schemas are generated from keelson-proto's field table (module `builtin`).
//! - [`v3_index`], [`v3_group_version_document`], [`v2_document`], [`v2_protobuf`]: documents.
//! - [`unknown_fields`]: fields of a built-in object its kind does not have.
//! - [`schema`]: apiextensions' structural schema semantics for custom resources.

mod builtin;
mod document;
mod error;
pub mod schema;
mod v2_proto;

pub use builtin::unknown::unknown_fields;
pub use document::{v2_document, v3_group_version_document, v3_index};
pub use error::OpenApiError;
pub use v2_proto::v2_protobuf;
