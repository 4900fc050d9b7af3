//! Bridge to keelson-proto's generated field table of built-in kinds.
//!
//! keelson-proto keeps its table crate-private (only `kinds()` is public), so this module
//! compiles the same generated file against a copy of the type definitions it expects. The
//! definitions below must match `crates/proto/src/schema/mod.rs`; any drift is a compile error
//! here, not a silent mismatch. Once keelson-proto exports the table, this file shrinks to a
//! `pub use`.

// The generated file defines every field of the table; we only read the JSON-side ones.
#![allow(dead_code)]

#[path = "../../../proto/src/schema/generated.rs"]
mod generated;

pub(crate) use generated::{KINDS, MESSAGES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    String,
    Bool,
    Int32,
    Int64,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Scalar(Scalar),
    /// Index into [`MESSAGES`].
    Message(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    Single,
    Repeated,
    /// `map<key, ty>`; JSON keys are strings whatever the key scalar.
    Map(Scalar),
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    Time,
    MicroTime,
    Quantity,
    IntOrString,
    /// RawExtension, FieldsV1: arbitrary embedded JSON.
    RawJson,
    /// A Go named slice: JSON is the array of its single repeated field.
    NamedSlice,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub num: u32,
    /// JSON name; empty for inline (embedded) structs.
    pub json: &'static str,
    pub ty: Ty,
    pub card: Card,
    pub omitempty: bool,
    pub pointer: bool,
    /// An embedded struct whose fields are promoted into the parent's JSON object.
    pub inline: bool,
}

#[derive(Debug)]
pub(crate) struct Message {
    /// Fully qualified protobuf name, e.g. `k8s.io.api.apps.v1.Deployment`.
    pub name: &'static str,
    pub special: Special,
    pub fields: &'static [Field],
}

pub(crate) fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message of a served built-in kind.
pub(crate) fn lookup_kind(group: &str, version: &str, kind: &str) -> Option<u16> {
    KINDS
        .iter()
        .find(|(api_version, k, _)| {
            *k == kind && split_api_version(api_version) == (group, version)
        })
        .map(|(_, _, index)| *index)
}

/// `apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1").
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The JSON-visible fields of a message, with inline structs flattened into their parent.
pub(crate) fn json_fields(index: u16) -> Vec<&'static Field> {
    let mut out = Vec::new();
    for field in message(index).fields {
        match (field.inline, field.ty) {
            (true, Ty::Message(inner)) => out.extend(json_fields(inner)),
            _ => out.push(field),
        }
    }
    out
}

/// Upstream's OpenAPI definition name: `k8s.io.api.apps.v1.Deployment` ->
/// `io.k8s.api.apps.v1.Deployment`.
pub(crate) fn definition_name(index: u16) -> String {
    let name = message(index).name;
    match name.strip_prefix("k8s.io.") {
        Some(rest) => format!("io.k8s.{rest}"),
        None => name.to_string(),
    }
}
