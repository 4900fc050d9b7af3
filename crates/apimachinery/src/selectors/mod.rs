//! Label and field selectors, following k8s.io/apimachinery's `labels` and `fields`
//! packages: the same syntax, the same matching, the same canonical strings and the
//! same error texts.
//!
//! - [`LabelSelector`]: `labelSelector=` strings and `metav1.LabelSelector` objects.
//! - [`FieldSelector`]: `fieldSelector=` strings.
//! - [`field_value`]: the selectable fields of each built-in kind.

mod field;
mod label;
mod metav1;
mod parse;
mod selectable;
mod validation;

#[cfg(test)]
mod tests;

pub use field::{FieldOperator, FieldSelector, FieldTerm, escape_value, unescape_value};
pub use label::{LabelSelector, Operator, Requirement};
pub use selectable::field_value;

/// Why a selector could not be parsed or evaluated. Every variant is a client error
/// (400 Bad Request); the message is upstream's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector string or `metav1.LabelSelector` is invalid, e.g.
    /// `unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt`.
    #[error("{0}")]
    InvalidLabelSelector(String),
    /// A field selector string is malformed, e.g.
    /// `invalid selector: 'a'; can't understand 'a'`.
    #[error("{0}")]
    InvalidFieldSelector(String),
    /// The kind does not allow selecting on this field.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}
