//! apiextensions' structural-schema semantics for custom resources: defaulting, pruning and
//! validation against a CRD version's `openAPIV3Schema`, all on `serde_json::Value`.
//!
//! CEL rules (`x-kubernetes-validations`) are not evaluated.

mod defaults;
mod path;
mod prune;
mod validate;

pub use defaults::apply_defaults;
pub use prune::prune;
pub use validate::{ValidationError, validate};
