use bytes::Bytes;

/// A store revision. The first write on an empty store gets revision 2 (etcd's convention: an
/// empty store is at revision 1).
pub type Revision = i64;

/// A lease identifier (non-zero).
pub type LeaseId = i64;

/// One version of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision of the write that created this key (since its last deletion).
    pub create_revision: Revision,
    /// The revision of the last write to this key.
    pub mod_revision: Revision,
    /// Number of writes since creation, starting at 1.
    pub version: i64,
    /// Attached lease, or 0.
    pub lease: LeaseId,
}

/// A range read: keys in `[start, end)` in byte order, or every key with prefix `start` when
/// `end` is `None` and `prefix` is set.
#[derive(Clone, Debug, Default)]
pub struct RangeRequest {
    pub start: String,
    /// Exclusive end key. `None` with `prefix = false` means the single key `start`.
    pub end: Option<String>,
    /// Treat `start` as a prefix (overrides `end`).
    pub prefix: bool,
    /// Read at this revision (`None` = current).
    pub revision: Option<Revision>,
    /// At most this many keys (`None` or 0 = unlimited).
    pub limit: Option<usize>,
    /// Return only keys and metadata, with empty values.
    pub keys_only: bool,
}

impl RangeRequest {
    /// Every key starting with `prefix`, at the current revision.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self {
            start: prefix.into(),
            prefix: true,
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// Whether more keys matched than `limit` allowed.
    pub more: bool,
    /// Total number of keys in the range (ignoring `limit`).
    pub count: usize,
    /// The revision the read was served at.
    pub revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change. For `Put`, `kv` is the new version; for `Delete`, `kv` has the key, an empty
/// value and `mod_revision` set to the deletion's revision. `prev` is the version before the
/// change, when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}
