//! What server-side apply needs to know about a type's schema: how each list and map
//! merges. Paths are the field names from the object root; list items do not add a
//! step (`spec.containers[*].image` is `["spec", "containers", "image"]`), while
//! entries of free-form maps do (`metadata.labels.app`).

use serde_json::Value;

/// The group and kind of the object being applied (`""` is the core group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupKind<'a> {
    pub group: &'a str,
    pub kind: &'a str,
}

impl<'a> GroupKind<'a> {
    /// Reads `apiVersion` and `kind` of an object in wire form.
    pub fn of(object: &'a Value) -> Self {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        GroupKind { group, kind }
    }
}

/// One key field of a list-map, with the schema default used when an item omits it
/// (e.g. `protocol: TCP` for ports).
#[derive(Debug, Clone, PartialEq)]
pub struct ListMapKey {
    pub name: String,
    pub default: Option<Value>,
}

impl ListMapKey {
    pub fn new(name: &str) -> Self {
        ListMapKey {
            name: name.to_string(),
            default: None,
        }
    }

    pub fn with_default(name: &str, default: Value) -> Self {
        ListMapKey {
            name: name.to_string(),
            default: Some(default),
        }
    }
}

/// `x-kubernetes-list-type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    /// Replaced as a whole and owned as one field (the default).
    Atomic,
    /// A set of scalars; each value is owned separately (`v:` elements).
    Set,
    /// Items are identified by key fields and merged one by one (`k:` elements).
    Map(Vec<ListMapKey>),
}

impl ListType {
    /// A list-map keyed by fields without defaults.
    pub fn map_by(keys: &[&str]) -> Self {
        ListType::Map(keys.iter().map(|k| ListMapKey::new(k)).collect())
    }
}

/// How an object-valued field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    /// An object with declared fields (a Go struct, OpenAPI `properties`): fields merge
    /// one by one, and the object itself is only owned when it is empty.
    Struct,
    /// A free-form map (`map[string]T`, `additionalProperties`, or untyped data): entries
    /// merge one by one and each entry is owned as a whole (hence `"."` markers).
    Granular,
    /// `x-kubernetes-map-type: atomic` / `+structType=atomic`: replaced as a whole.
    Atomic,
}

/// Schema knowledge for server-side apply.
pub trait ListMeta {
    /// How the list at `path` merges.
    fn list_type(&self, gk: GroupKind<'_>, path: &[&str]) -> ListType;

    /// How the object at `path` merges (`path` is empty for the root).
    fn map_type(&self, gk: GroupKind<'_>, path: &[&str]) -> MapType;

    /// Whether `field` is a declared field of the object at `map_path`. Declared fields
    /// of a struct are not owned as a whole; undeclared ones (free-form entries, unknown
    /// fields kept by `x-kubernetes-preserve-unknown-fields`) are.
    fn is_declared_field(&self, gk: GroupKind<'_>, map_path: &[&str], field: &str) -> bool {
        let _ = field;
        self.map_type(gk, map_path) == MapType::Struct
    }

    /// Whether the field at `path` is serialized even in a zero object (a Go field
    /// without `omitempty`, like `PodSpec.containers`). Upstream compares creations
    /// against such a zero object, so creators own these fields' contents but not the
    /// fields themselves (no `"."` marker).
    fn always_serialized(&self, gk: GroupKind<'_>, path: &[&str]) -> bool {
        let _ = (gk, path);
        false
    }
}

/// ObjectMeta rules, shared by every kind (and by pod templates). `path` is relative
/// to a `metadata` object.
pub(crate) fn object_meta_list_type(path: &[&str]) -> ListType {
    match path {
        ["finalizers"] => ListType::Set,
        ["ownerReferences"] => ListType::map_by(&["uid"]),
        _ => ListType::Atomic,
    }
}

pub(crate) fn object_meta_map_type(path: &[&str]) -> MapType {
    match path {
        ["labels"] | ["annotations"] => MapType::Granular,
        _ => MapType::Struct,
    }
}

/// The schema upstream uses when it knows nothing about a type ("deduced"): every
/// object is a free-form map and every list is atomic.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeducedListMeta;

impl ListMeta for DeducedListMeta {
    fn list_type(&self, _gk: GroupKind<'_>, _path: &[&str]) -> ListType {
        ListType::Atomic
    }

    fn map_type(&self, _gk: GroupKind<'_>, _path: &[&str]) -> MapType {
        MapType::Granular
    }
}
