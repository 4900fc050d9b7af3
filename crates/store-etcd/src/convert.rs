//! etcd's key-values and events as the store's types.

use bytes::Bytes;
use etcd_client::{Event, EventType, ResponseHeader};
use keelson_store::{EventKind, KeyValue, Revision, StoreError, WatchEvent};

use crate::namespace::Namespace;

/// A key-value borrowed from an etcd response (copies the value).
pub(crate) fn key_value(
    ns: &Namespace,
    kv: &etcd_client::KeyValue,
) -> Result<KeyValue, StoreError> {
    Ok(KeyValue {
        key: ns.strip(kv.key().to_vec())?,
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    })
}

/// A key-value taken out of an etcd response (moves the value: range reads can be large).
pub(crate) fn owned_key_value(
    ns: &Namespace,
    kv: etcd_client::KeyValue,
) -> Result<KeyValue, StoreError> {
    let (create_revision, mod_revision, version, lease) = (
        kv.create_revision(),
        kv.mod_revision(),
        kv.version(),
        kv.lease(),
    );
    let (key, value) = kv.into_key_value();
    Ok(KeyValue {
        key: ns.strip(key)?,
        value: Bytes::from(value),
        create_revision,
        mod_revision,
        version,
        lease,
    })
}

/// A watch event. etcd's delete events already have the store's shape: the key, an empty
/// value and the deletion's revision as `mod_revision`.
pub(crate) fn watch_event(ns: &Namespace, event: &Event) -> Result<WatchEvent, StoreError> {
    let kind = match event.event_type() {
        EventType::Put => EventKind::Put,
        EventType::Delete => EventKind::Delete,
    };
    let kv = event
        .kv()
        .ok_or_else(|| StoreError::Corrupt("etcd watch event without a key-value".into()))?;
    let prev = event
        .prev_kv()
        .map(|prev| key_value(ns, prev))
        .transpose()?;
    Ok(WatchEvent {
        kind,
        kv: key_value(ns, kv)?,
        prev,
    })
}

/// The store revision an etcd response was served at.
pub(crate) fn header_revision(header: Option<&ResponseHeader>) -> Result<Revision, StoreError> {
    header
        .map(ResponseHeader::revision)
        .ok_or_else(|| StoreError::Backend("etcd response without a header".into()))
}
