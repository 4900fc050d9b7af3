//! Create, conditional update and delete, and reads at past revisions.

use super::bytes;
use crate::{Store, StoreError};

pub(super) async fn create_update_delete(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}k");
    let start = store.current_revision().await.expect("current_revision");

    let created = store
        .create(&key, bytes("v1"), None)
        .await
        .expect("create of an absent key");
    assert!(
        created.mod_revision > start,
        "create: revision {} not above {start}",
        created.mod_revision
    );
    assert_eq!(
        created.create_revision, created.mod_revision,
        "create: create_revision != mod_revision"
    );
    assert_eq!(
        (created.version, created.lease, created.value.as_ref()),
        (1, 0, &b"v1"[..]),
        "create: {created:?}"
    );
    let now = store.current_revision().await.expect("current_revision");
    assert!(
        now >= created.mod_revision,
        "current revision {now} below the write's {}",
        created.mod_revision
    );

    match store.create(&key, bytes("again"), None).await {
        Err(StoreError::AlreadyExists { current }) => {
            assert_eq!(*current, created, "AlreadyExists carries the value")
        }
        other => panic!("create of an existing key: expected AlreadyExists, got {other:?}"),
    }

    let updated = store
        .update(&key, bytes("v2"), created.mod_revision, None)
        .await
        .expect("update with the right revision");
    assert!(
        updated.mod_revision > created.mod_revision,
        "update: revision did not increase"
    );
    assert_eq!(
        updated.create_revision, created.create_revision,
        "update changed create_revision"
    );
    assert_eq!(
        (updated.version, updated.value.as_ref()),
        (2, &b"v2"[..]),
        "update: {updated:?}"
    );

    match store
        .update(&key, bytes("v3"), created.mod_revision, None)
        .await
    {
        Err(StoreError::Conflict { expected, current }) => {
            assert_eq!(expected, created.mod_revision, "Conflict.expected");
            assert_eq!(*current, updated, "Conflict carries the current value");
        }
        other => panic!("update with a stale revision: expected Conflict, got {other:?}"),
    }
    let missing = format!("{prefix}missing");
    match store.update(&missing, bytes("x"), 1, None).await {
        Err(StoreError::NotFound) => {}
        other => panic!("update of an absent key: expected NotFound, got {other:?}"),
    }
    match store.delete(&key, Some(created.mod_revision)).await {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(*current, updated),
        other => panic!("delete with a stale revision: expected Conflict, got {other:?}"),
    }

    let (current, served_at) = store.get(&key, None).await.expect("get");
    assert_eq!(
        current.as_ref(),
        Some(&updated),
        "get returns the latest version"
    );
    assert!(
        served_at >= updated.mod_revision,
        "get served at {served_at}, before the update"
    );
    let (past, served_at) = store
        .get(&key, Some(created.mod_revision))
        .await
        .expect("get at a past revision");
    assert_eq!(
        past.as_ref(),
        Some(&created),
        "get at the create's revision returns the first version"
    );
    // The in-process backends report the requested revision; etcd reports its current one.
    assert!(
        served_at >= created.mod_revision,
        "get at a past revision served at {served_at}"
    );

    let (deleted, deleted_at) = store
        .delete(&key, Some(updated.mod_revision))
        .await
        .expect("conditional delete");
    assert_eq!(deleted, updated, "delete returns the deleted version");
    assert!(
        deleted_at > updated.mod_revision,
        "delete: revision did not increase"
    );
    assert_eq!(
        store.get(&key, None).await.expect("get").0,
        None,
        "deleted key still readable"
    );
    let (before_delete, _) = store
        .get(&key, Some(deleted_at - 1))
        .await
        .expect("get before the delete");
    assert_eq!(
        before_delete.as_ref(),
        Some(&updated),
        "the version before the delete is gone from history"
    );
    match store.delete(&key, None).await {
        Err(StoreError::NotFound) => {}
        other => panic!("delete of an absent key: expected NotFound, got {other:?}"),
    }

    let recreated = store
        .create(&key, bytes("v4"), None)
        .await
        .expect("create after delete");
    assert_eq!(
        recreated.version, 1,
        "a recreated key starts again at version 1"
    );
    assert!(
        recreated.create_revision > deleted_at,
        "a recreated key has a new create_revision"
    );
    let (gone, _) = store
        .delete(&key, None)
        .await
        .expect("unconditional delete");
    assert_eq!(gone, recreated);
}

pub(super) async fn future_revisions_are_refused(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}k");
    let written = store.create(&key, bytes("v"), None).await.expect("create");
    let future = written.mod_revision + 1_000_000;
    match store.get(&key, Some(future)).await {
        Err(StoreError::FutureRevision { requested, current }) => {
            assert_eq!(requested, future, "FutureRevision.requested");
            assert!(
                // 0 allowed: etcd's error does not say what the current revision is.
                current < future,
                "FutureRevision.current = {current}"
            );
        }
        other => panic!("get at a future revision: expected FutureRevision, got {other:?}"),
    }
    let request = crate::RangeRequest {
        revision: Some(future),
        ..crate::RangeRequest::prefix(prefix)
    };
    match store.range(request).await {
        Err(StoreError::FutureRevision { .. }) => {}
        other => panic!("range at a future revision: expected FutureRevision, got {other:?}"),
    }
}
