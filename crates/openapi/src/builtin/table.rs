//! keelson-proto's generated field table of built-in kinds, and the lookups this crate needs.

pub(crate) use keelson_proto::table::{Card, Field, KINDS, MESSAGES, Message, Scalar, Special, Ty};

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
