//! Upstream's strategic merge patch error texts (k8s.io/apimachinery `mergepatch`).

use serde_json::Value;

use crate::patch::PatchError;
use crate::patch::gofmt::{go_fmt, go_type_name};

pub(super) type SmpResult<T> = Result<T, PatchError>;

pub(super) fn invalid(message: String) -> PatchError {
    PatchError::InvalidStrategicMergePatch(message)
}

pub(super) fn bad_json_doc() -> PatchError {
    invalid("invalid JSON document".to_string())
}

pub(super) fn no_merge_key(map: &Value, key: &str) -> PatchError {
    invalid(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt(map)
    ))
}

/// `ErrBadArgType(expected, actual)`: `expected` is the Go type name wanted.
pub(super) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    invalid(format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    ))
}

pub(super) fn bad_patch_type(directive: &Value, map: &Value) -> PatchError {
    invalid(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(directive),
        go_fmt(map)
    ))
}

pub(super) fn bad_primitive_list_format() -> PatchError {
    invalid("invalid patch format of primitive list".to_string())
}

pub(super) fn bad_retain_keys_format() -> PatchError {
    invalid("invalid patch format of retainKeys".to_string())
}

pub(super) fn bad_set_element_order_format() -> PatchError {
    invalid("invalid patch format of setElementOrder list".to_string())
}
