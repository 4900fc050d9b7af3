//! Kubernetes strategic merge patch, transcribed from upstream's
//! `strategicpatch.StrategicMergeMapPatch` (server side: parallel lists are merged and
//! unmatched nulls ignored), including its directives:
//!
//! - `$patch: replace | delete` on maps, `$patch: replace | delete` items in merged lists,
//! - `$retainKeys: [...]`: drop live keys not listed,
//! - `$deleteFromPrimitiveList/<field>: [...]`: remove values from a merged primitive list,
//! - `$setElementOrder/<field>: [...]`: the final order of a merged list,
//! - `null` deletes a key.

mod errors;
mod merge;
mod meta;
mod order;

use serde_json::{Map, Value};

use super::PatchError;
pub use meta::{BuiltinPatchMeta, ListStrategy, PatchSchema};

pub(crate) const DIRECTIVE: &str = "$patch";
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        || key.starts_with(SET_ELEMENT_ORDER)
}

/// Upstream decodes the patched map into the kind's Go struct, which drops directive
/// keys that the merge leaves behind (e.g. inside lists that are replaced rather than
/// merged). We store JSON, so drop them here.
fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_directive_key(k));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn as_map(value: &Value) -> Result<Map<String, Value>, PatchError> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        // Go's json.Unmarshal of `null` into a map leaves it empty.
        Value::Null => Ok(Map::new()),
        _ => Err(errors::bad_json_doc()),
    }
}

/// Applies a strategic merge patch to `doc` (both wire-form JSON objects) for a
/// built-in kind. Fails with [`PatchError::StrategicMergePatchUnsupported`] when
/// `meta` is not a built-in kind (see [`BuiltinPatchMeta::is_known`]).
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    meta: &BuiltinPatchMeta,
) -> Result<Value, PatchError> {
    if !meta.is_known() {
        return Err(PatchError::StrategicMergePatchUnsupported);
    }
    strategic_merge_patch_with(doc, patch, meta)
}

/// [`strategic_merge_patch`] with any schema (e.g. one built from an OpenAPI schema).
pub fn strategic_merge_patch_with(
    doc: &Value,
    patch: &Value,
    meta: &dyn PatchSchema,
) -> Result<Value, PatchError> {
    let original = as_map(doc)?;
    let patch = as_map(patch)?;
    let mut merger = merge::Merger {
        meta,
        path: Vec::new(),
    };
    let mut result = Value::Object(merger.merge_map(Some(original), patch)?);
    strip_directives(&mut result);
    Ok(result)
}
