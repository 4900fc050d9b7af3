//! Compaction: reads and watches below the compaction point fail with `Compacted`; at and
//! above it they still work.

use futures::StreamExt;

use super::{EVENT_TIMEOUT, bytes, next_event};
use crate::{RangeRequest, Store, StoreError};

pub(super) async fn compaction(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}k");
    let v1 = store.create(&key, bytes("v1"), None).await.expect("create");
    let v2 = store
        .update(&key, bytes("v2"), v1.mod_revision, None)
        .await
        .expect("update");
    let v3 = store
        .update(&key, bytes("v3"), v2.mod_revision, None)
        .await
        .expect("update");

    store.compact(v2.mod_revision).await.expect("compact");

    match store.get(&key, Some(v1.mod_revision)).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, v1.mod_revision, "Compacted.requested");
            // etcd's error does not carry the compaction point, so a backend may report less.
            assert!(
                compacted <= v3.mod_revision,
                "Compacted.compacted = {compacted}"
            );
        }
        other => panic!("get below the compaction point: expected Compacted, got {other:?}"),
    }
    let (at_point, _) = store
        .get(&key, Some(v2.mod_revision))
        .await
        .expect("get at the compaction point");
    assert_eq!(
        at_point.as_ref(),
        Some(&v2),
        "the version visible at the compaction point is kept"
    );
    let (latest, _) = store.get(&key, None).await.expect("get");
    assert_eq!(latest.as_ref(), Some(&v3));

    let below = RangeRequest {
        revision: Some(v1.mod_revision),
        ..RangeRequest::prefix(prefix)
    };
    match store.range(below).await {
        Err(StoreError::Compacted { .. }) => {}
        other => panic!("range below the compaction point: expected Compacted, got {other:?}"),
    }
    // A backend may refuse the watch at once or report it as the stream's first item.
    match store.watch(prefix, v1.mod_revision - 1).await {
        Err(StoreError::Compacted { .. }) => {}
        Err(other) => panic!("watch below the compaction point: expected Compacted, got {other}"),
        Ok(mut stream) => match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Ok(Some(Err(StoreError::Compacted { .. }))) => {}
            other => panic!("watch below the compaction point: expected Compacted, got {other:?}"),
        },
    }
    let mut watch = store
        .watch(prefix, v2.mod_revision - 1)
        .await
        .expect("watch from the compaction point");
    for expected in [&v2, &v3] {
        let event = next_event(&mut watch, "watch from the compaction point", EVENT_TIMEOUT).await;
        assert_eq!(
            &event.kv, expected,
            "watch from the compaction point replays the retained versions"
        );
    }
    match store.compact(v1.mod_revision).await {
        Err(StoreError::Compacted { .. }) => {}
        other => panic!("compacting below the compaction point: expected Compacted, got {other:?}"),
    }
}
