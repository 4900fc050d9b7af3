//! Kubernetes API types that the API server and its clients share, with no I/O:
//! - [`catalogue`]: which resources exist, their kinds, scopes, verbs, short names, subresources.
//! - [`printers`]: the columns `kubectl get` shows for each built-in kind (server-side Tables).
//! - [`validation`] and [`defaulting`]: upstream's rules for the fields people use.
//!
//! Objects are handled as `serde_json::Value` in their wire (JSON) form; the API server is
//! generic over kinds and this crate supplies the per-kind knowledge.

pub mod catalogue;
pub mod defaulting;
pub mod printers;
pub mod quantity;
pub mod validation;

pub use catalogue::{GroupVersionKind, ResourceInfo, Scope, SubresourceInfo};
