//! Leases: grant, keep-alive, revoke, and expiry after the TTL.

use std::sync::Arc;
use std::time::Duration;

use super::{EVENT_TIMEOUT, bytes, next_event};
use crate::{EventKind, Store, StoreError};

pub(super) async fn grant_keep_alive_revoke(store: &dyn Store, prefix: &str) {
    let lease = store.lease_grant(60).await.expect("lease_grant");
    assert_ne!(lease, 0, "lease ids are non-zero");
    let (k1, k2, k3) = (
        format!("{prefix}k1"),
        format!("{prefix}k2"),
        format!("{prefix}k3"),
    );
    let first = store
        .create(&k1, bytes("v"), Some(lease))
        .await
        .expect("create with a lease");
    assert_eq!(first.lease, lease, "the created key carries the lease");
    let second = store
        .update(&k1, bytes("v2"), first.mod_revision, Some(lease))
        .await
        .expect("update keeping the lease");
    assert_eq!(second.lease, lease, "the updated key keeps the lease");
    store
        .create(&k2, bytes("v"), Some(lease))
        .await
        .expect("create a second key with the lease");
    store
        .create(&k3, bytes("v"), None)
        .await
        .expect("create a key without a lease");

    let ttl = store
        .lease_keep_alive(lease)
        .await
        .expect("lease_keep_alive");
    assert!(
        ttl > 0 && ttl <= 60,
        "keep-alive returned TTL {ttl}, granted 60"
    );

    let before = store.current_revision().await.expect("current_revision");
    let mut watch = store.watch(prefix, before).await.expect("watch");
    store.lease_revoke(lease).await.expect("lease_revoke");
    for key in [&k1, &k2] {
        assert_eq!(
            store.get(key, None).await.expect("get").0,
            None,
            "{key} survived its lease's revocation"
        );
    }
    assert!(
        store.get(&k3, None).await.expect("get").0.is_some(),
        "a key without the lease was deleted"
    );
    let mut deleted = Vec::new();
    for _ in 0..2 {
        let event = next_event(&mut watch, "revoke", EVENT_TIMEOUT).await;
        assert_eq!(
            event.kind,
            EventKind::Delete,
            "revoke produces delete events"
        );
        assert_eq!(
            event.prev.as_ref().map(|p| p.lease),
            Some(lease),
            "delete event's prev carries the lease"
        );
        deleted.push(event.kv.key);
    }
    deleted.sort();
    assert_eq!(
        deleted,
        [k1.clone(), k2.clone()],
        "revoke deletes exactly the attached keys"
    );

    match store.lease_keep_alive(lease).await {
        Err(StoreError::LeaseNotFound(id)) => assert_eq!(id, lease),
        other => panic!("keep-alive of a revoked lease: expected LeaseNotFound, got {other:?}"),
    }
    match store.lease_revoke(lease).await {
        Err(StoreError::LeaseNotFound(_)) => {}
        other => panic!("revoking a revoked lease: expected LeaseNotFound, got {other:?}"),
    }
    match store
        .create(&format!("{prefix}k4"), bytes("v"), Some(lease))
        .await
    {
        Err(StoreError::LeaseNotFound(_)) => {}
        other => panic!("create with a revoked lease: expected LeaseNotFound, got {other:?}"),
    }
}

/// A key attached to a 1 s lease is deleted (with a watch event) once the lease expires. The
/// backend may enforce a longer minimum TTL (etcd does), so allow several seconds.
pub(super) async fn expiry_deletes_keys(store: Arc<dyn Store>, prefix: String) {
    let lease = store.lease_grant(1).await.expect("lease_grant(1)");
    let key = format!("{prefix}ephemeral");
    let created = store
        .create(&key, bytes("v"), Some(lease))
        .await
        .expect("create with a short lease");
    let mut watch = store
        .watch(&prefix, created.mod_revision)
        .await
        .expect("watch");
    let event = next_event(&mut watch, "lease expiry", Duration::from_secs(8)).await;
    assert_eq!(
        (event.kind, event.kv.key.as_str()),
        (EventKind::Delete, key.as_str()),
        "lease expiry deletes the key"
    );
    assert_eq!(
        event.prev.as_ref(),
        Some(&created),
        "the expiry's delete event carries the value"
    );
    assert_eq!(
        store.get(&key, None).await.expect("get").0,
        None,
        "expired key still readable"
    );
    match store.lease_keep_alive(lease).await {
        Err(StoreError::LeaseNotFound(_)) => {}
        other => panic!("keep-alive of an expired lease: expected LeaseNotFound, got {other:?}"),
    }
}
