//! The field table of every message reachable from the served kinds, generated (by a script
//! not kept in this repository) from upstream's generated.proto files (wire shape) joined with the Go
//! structs behind them (JSON name, omitempty, pointer, inline): the proto alone cannot say that
//! `Volume.volumeSource` is flattened into `Volume`, or that `replicas: 0` must survive while
//! `paused: false` is dropped.

mod generated;

use generated::DELETE_OPTIONS;
pub use generated::{KINDS, MESSAGES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Bool,
    Int32,
    Int64,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Scalar(Scalar),
    /// Index into the message table.
    Message(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    Single,
    Repeated,
    /// `map<key, ty>`; entries are messages {1: key, 2: value} on the wire.
    Map(Scalar),
}

/// Messages whose JSON form is not an object of their fields (custom Go marshalers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    None,
    /// metav1.Time: RFC 3339 in UTC with seconds; protobuf nanos are ignored like upstream.
    Time,
    /// metav1.MicroTime: RFC 3339 in UTC with 6 fractional digits.
    MicroTime,
    /// resource.Quantity: its `string` field.
    Quantity,
    /// intstr.IntOrString: a number or a string depending on `type`.
    IntOrString,
    /// runtime.RawExtension, metav1.FieldsV1: raw bytes that are themselves JSON.
    RawJson,
    /// A Go named slice (`type ExtraValue []string`): JSON is the array of `items`.
    NamedSlice,
}

#[derive(Debug)]
pub struct Field {
    pub num: u32,
    /// JSON name; empty for inline (embedded) structs.
    pub json: &'static str,
    pub ty: Ty,
    pub card: Card,
    pub omitempty: bool,
    /// A Go pointer: present on the wire means set, even to the zero value.
    pub pointer: bool,
    /// An embedded struct whose fields are promoted into the parent's JSON object.
    pub inline: bool,
}

#[derive(Debug)]
pub struct Message {
    /// Fully qualified protobuf name, e.g. `k8s.io.api.apps.v1.Deployment`.
    pub name: &'static str,
    pub special: Special,
    pub fields: &'static [Field],
}

pub(crate) fn message(index: u16) -> &'static Message {
    // Indices come only from the generated table, which the tests check for consistency.
    &MESSAGES[usize::from(index)]
}

/// The message type of a served kind. DeleteOptions is registered in every group version
/// (metav1.AddToGroupVersion), so it is accepted under any apiVersion.
pub(crate) fn lookup_kind(api_version: &str, kind: &str) -> Option<u16> {
    if kind == "DeleteOptions" && !api_version.is_empty() {
        return Some(DELETE_OPTIONS);
    }
    KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, index)| *index)
}

/// Every (apiVersion, kind) with a schema, for callers that want to advertise or test them.
pub fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|(v, k, _)| (*v, *k))
}

#[cfg(test)]
pub(crate) fn all_messages() -> &'static [Message] {
    MESSAGES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for msg in all_messages() {
            for f in msg.fields {
                if let Ty::Message(i) = f.ty {
                    assert!(usize::from(i) < MESSAGES.len(), "{}.{}", msg.name, f.json);
                }
                assert_eq!(f.inline, f.json.is_empty(), "{}.{}", msg.name, f.num);
            }
            if msg.special == Special::NamedSlice {
                assert_eq!(msg.fields.len(), 1, "{}", msg.name);
                assert_eq!(msg.fields[0].card, Card::Repeated, "{}", msg.name);
            }
        }
        for (api_version, kind, index) in KINDS {
            let name = message(*index).name;
            assert!(
                name.ends_with(&format!(".{kind}")),
                "{api_version} {kind} -> {name}"
            );
        }
        assert_eq!(
            message(DELETE_OPTIONS).name,
            "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"
        );
        assert!(lookup_kind("v1", "ConfigMap").is_some());
        assert!(lookup_kind("policy/v1", "Eviction").is_some());
        assert!(lookup_kind("autoscaling/v2", "HorizontalPodAutoscaler").is_some());
        assert!(lookup_kind("", "DeleteOptions").is_none());
    }
}
