//! Server-side apply and `metadata.managedFields`, following upstream's
//! structured-merge-diff and k8s.io/apiserver field manager.
//!
//! - [`apply`] / [`apply_with`]: the `application/apply-patch+yaml` PATCH.
//! - [`update_managed_fields`] / [`update_managed_fields_with`]: ownership tracking
//!   for every other write (create, update, JSON/merge/strategic patch).
//! - [`FieldSet`]: owned field paths and their FieldsV1 encoding.
//! - [`ListMeta`]: how lists and maps merge ([`BuiltinListMeta`], [`CrdListMeta`],
//!   [`DeducedListMeta`]).
//!
//! Objects are wire-form JSON; everything is pure.

mod builtin;
mod conflict;
mod crd;
mod fieldset;
mod fieldsv1;
mod gojson;
mod listmeta;
mod managed;
mod merge;
mod typed;
mod updater;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use builtin::BuiltinListMeta;
pub use conflict::{
    Conflict, ConflictCause, FIELD_MANAGER_CONFLICT, conflict_causes, conflict_message,
    conflict_status,
};
pub use crd::CrdListMeta;
pub use fieldset::{FieldSet, Path, PathElement};
pub use fieldsv1::{parse_path_element_key, path_element_key};
pub use listmeta::{DeducedListMeta, GroupKind, ListMapKey, ListMeta, ListType, MapType};
pub use managed::{ManagedFields, ManagedSet, ManagerId, Operation};

use typed::{Schema, Walk};
use updater::Updater;

/// Why an apply (or a managedFields decode) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// The applied configuration changes fields other managers own; maps to a 409
    /// with [`conflict_status`].
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// Apply configurations may not carry managedFields (400).
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInApplyConfig,
    /// The applied apiVersion differs from the endpoint's (400).
    #[error(
        "Incorrect version specified in apply patch. Specified patch version: {specified}, expected: {expected}"
    )]
    VersionMismatch { specified: String, expected: String },
    /// The object does not fit its schema (e.g. a list-map item without keys) (400).
    #[error("{0}")]
    InvalidObject(String),
    /// The live object's managedFields cannot be decoded (500 upstream).
    #[error("failed to decode managed fields: {0}")]
    InvalidManagedFields(String),
    #[error("invalid FieldsV1: {0}")]
    InvalidFieldsV1(String),
}

/// Options of [`apply_with`].
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// `fieldManager` of the request.
    pub manager: &'a str,
    /// `force=true`: take conflicting fields instead of failing.
    pub force: bool,
    /// e.g. `Some("status")` for an apply to the status subresource.
    pub subresource: Option<&'a str>,
    /// Fields this endpoint resets and nobody may own through it (upstream's
    /// `ResetFieldsStrategy`, e.g. `status` on the main resource).
    pub ignored_fields: Option<&'a FieldSet>,
    /// RFC 3339 time recorded in the manager's entry.
    pub now: &'a str,
}

/// Options of [`update_managed_fields_with`].
#[derive(Debug, Clone, Copy)]
pub struct UpdateOptions<'a> {
    pub manager: &'a str,
    /// `Update` for every non-apply write.
    pub operation: Operation,
    pub subresource: Option<&'a str>,
    pub ignored_fields: Option<&'a FieldSet>,
    pub now: &'a str,
}

/// Server-side apply of `applied` (the request body, wire JSON) as `manager` onto
/// `live` (`None` to create). Returns the new object with managedFields updated.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    meta: &dyn ListMeta,
    now: &str,
) -> Result<Value, ApplyError> {
    let options = ApplyOptions {
        manager,
        force,
        subresource: None,
        ignored_fields: None,
        now,
    };
    apply_with(live, applied, &options, meta)
}

fn api_version_of(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}

/// [`apply`] with every knob upstream's field manager has.
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    options: &ApplyOptions<'_>,
    meta: &dyn ListMeta,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::InvalidObject(
            "apply configuration must be an object".into(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::ManagedFieldsInApplyConfig);
    }
    let api_version = api_version_of(applied);
    if let Some(expected) = live.map(api_version_of).filter(|v| !v.is_empty())
        && expected != api_version
    {
        return Err(ApplyError::VersionMismatch {
            specified: api_version.to_string(),
            expected: expected.to_string(),
        });
    }
    let empty = FieldSet::new();
    let updater = Updater {
        schema: Schema {
            meta,
            gk: GroupKind::of(applied),
        },
        ignored: options.ignored_fields.unwrap_or(&empty),
    };
    let subresource = options.subresource.unwrap_or("");
    let mut managed = match live {
        Some(live) => ManagedFields::from_object(live)?,
        None => ManagedFields::default(),
    };
    let live = live
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Default::default()));

    // An object written before anyone tracked fields: its current fields are
    // attributed to "before-first-apply" so they are neither pruned nor conflict-free.
    if managed.entries.is_empty() && live.as_object().is_some_and(|m| !m.is_empty()) {
        let id = ManagerId::new(
            "before-first-apply",
            Operation::Update,
            api_version,
            subresource,
        );
        let zero = Walk::new(updater.schema).zero_skeleton(&live);
        updater.update(&zero, &live, &mut managed, &id, api_version, options.now)?;
    }

    let id = ManagerId::new(options.manager, Operation::Apply, api_version, subresource);
    let new = updater.apply(
        &live,
        applied,
        &mut managed,
        &id,
        api_version,
        options.force,
    )?;
    if let Some(set) = managed.entries.get_mut(&id) {
        set.fields = set.fields.difference(updater::server_managed_fields());
    }
    managed.remove_empty();

    // Upstream only refreshes the applier's time when the object changed.
    let changed = !gojson::values_equal(&live, &new);
    let mut result = if changed { new } else { live };
    if changed && let Some(set) = managed.entries.get_mut(&id) {
        set.time = Some(options.now.to_string());
    }
    managed.store_in(&mut result);
    Ok(result)
}

/// Records a non-apply write (`old` → `new`; `old` is `None` on create) in `new`'s
/// managedFields: changed fields move to `manager`'s entry. Never fails: like
/// upstream, managedFields are dropped if they cannot be computed.
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: Operation,
    subresource: Option<&str>,
    meta: &dyn ListMeta,
    now: &str,
) -> Value {
    let options = UpdateOptions {
        manager,
        operation,
        subresource,
        ignored_fields: None,
        now,
    };
    update_managed_fields_with(old, new, &options, meta)
}

/// `managedFields: []` or `[{}]` in a write asks to reset tracking.
fn is_reset_request(managed_fields: Option<&Value>) -> bool {
    match managed_fields {
        Some(Value::Array(items)) => match items.as_slice() {
            [] => true,
            [only] => only.as_object().is_some_and(|m| m.is_empty()),
            _ => false,
        },
        _ => false,
    }
}

/// Which managedFields a write starts from: upstream lets writers to the main
/// resource replace them (or reset them), but falls back to the live ones when the
/// request's are missing or unreadable.
fn starting_managed_fields(
    old: Option<&Value>,
    new: &Value,
    is_subresource: bool,
) -> ManagedFields {
    let from_old = || {
        old.and_then(|o| ManagedFields::from_object(o).ok())
            .unwrap_or_default()
    };
    if is_subresource {
        return from_old();
    }
    let requested = new.pointer("/metadata/managedFields");
    if is_reset_request(requested) {
        return ManagedFields::default();
    }
    match ManagedFields::from_object(new) {
        Ok(managed) if !managed.entries.is_empty() => managed,
        _ => from_old(),
    }
}

/// [`update_managed_fields`] with every knob.
pub fn update_managed_fields_with(
    old: Option<&Value>,
    new: &Value,
    options: &UpdateOptions<'_>,
    meta: &dyn ListMeta,
) -> Value {
    let mut managed = starting_managed_fields(old, new, options.subresource.is_some());
    let mut result = without_managed_fields(new);

    // Objects that exist without managedFields stay untracked until the next apply.
    let old_uid = old
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if managed.entries.is_empty() && !old_uid.is_empty() {
        return result;
    }

    let empty = FieldSet::new();
    let updater = Updater {
        schema: Schema {
            meta,
            gk: GroupKind::of(new),
        },
        ignored: options.ignored_fields.unwrap_or(&empty),
    };
    let api_version = api_version_of(new);
    let old = match old {
        Some(old) => without_managed_fields(old),
        None => Walk::new(updater.schema).zero_skeleton(&result),
    };
    let id = ManagerId::new(
        options.manager,
        options.operation,
        api_version,
        options.subresource.unwrap_or(""),
    );
    if updater
        .update(&old, &result, &mut managed, &id, api_version, options.now)
        .is_err()
    {
        return result;
    }
    managed.cap_update_managers();
    managed.store_in(&mut result);
    result
}

/// The field set an object would give its applier (after dropping server-managed
/// fields), e.g. to show what an apply configuration claims.
pub fn applied_field_set(applied: &Value, meta: &dyn ListMeta) -> Result<FieldSet, ApplyError> {
    let schema = Schema {
        meta,
        gk: GroupKind::of(applied),
    };
    Ok(typed::field_set(applied, schema)?.difference(updater::server_managed_fields()))
}
