//! The in-memory backend against the conformance suite, plus what only it can show cheaply.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use keelson_store::memory::MemStore;
use keelson_store::{Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    keelson_store::conformance::run_all(Arc::new(MemStore::new()), "/conformance/").await;
}

#[tokio::test]
async fn revisions_start_at_one_and_grow_by_one_per_mutation() {
    let store = MemStore::new();
    assert_eq!(store.current_revision().await.unwrap(), 1);
    let a = store
        .create("a", Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    assert_eq!(a.mod_revision, 2, "the first write gets revision 2");
    assert!(store.create("a", Bytes::new(), None).await.is_err());
    assert!(store.update("a", Bytes::new(), 99, None).await.is_err());
    assert_eq!(
        store.current_revision().await.unwrap(),
        2,
        "failed writes do not bump the revision"
    );
    let b = store
        .update("a", Bytes::from_static(b"2"), 2, None)
        .await
        .unwrap();
    assert_eq!(b.mod_revision, 3);
    let (_, deleted_at) = store.delete("a", None).await.unwrap();
    assert_eq!(deleted_at, 4);
    assert_eq!(store.current_revision().await.unwrap(), 4);
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_cancelled() {
    let store = MemStore::with_watch_buffer(4);
    let mut watch = store.watch("", 1).await.unwrap();
    for i in 0..20 {
        store
            .create(&format!("k{i}"), Bytes::new(), None)
            .await
            .unwrap();
    }
    match watch.next().await {
        Some(Err(StoreError::WatchLagged)) => {}
        other => panic!("expected WatchLagged, got {other:?}"),
    }
    assert!(
        watch.next().await.is_none(),
        "the stream ends after WatchLagged"
    );
}

#[tokio::test]
async fn watches_end_when_the_store_is_dropped() {
    let store = MemStore::new();
    let mut watch = store.watch("", 1).await.unwrap();
    drop(store);
    assert!(matches!(watch.next().await, Some(Err(StoreError::Closed))));
    assert!(watch.next().await.is_none());
}

#[tokio::test]
async fn keep_alive_postpones_expiry() {
    let store = MemStore::new();
    let lease = store.lease_grant(1).await.unwrap();
    store
        .create("/leased", Bytes::new(), Some(lease))
        .await
        .unwrap();
    for _ in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(store.lease_keep_alive(lease).await.unwrap(), 1);
    }
    assert!(
        store.get("/leased", None).await.unwrap().0.is_some(),
        "kept-alive lease expired"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while store.get("/leased", None).await.unwrap().0.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "lease did not expire after keep-alives stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(matches!(
        store.lease_keep_alive(lease).await,
        Err(StoreError::LeaseNotFound(_))
    ));
}

/// Stricter than the conformance suite (which etcd also runs): the in-process backends report
/// the revision a past read was served at, and the compaction point in `Compacted`.
#[tokio::test]
async fn past_reads_report_their_revision_and_compaction_point() {
    let store = MemStore::new();
    let a = store
        .create("/a", Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    let b = store
        .update("/a", Bytes::from_static(b"2"), a.mod_revision, None)
        .await
        .unwrap();
    assert_eq!(
        store.get("/a", Some(a.mod_revision)).await.unwrap().1,
        a.mod_revision
    );
    let request = keelson_store::RangeRequest {
        revision: Some(a.mod_revision),
        ..keelson_store::RangeRequest::prefix("/")
    };
    assert_eq!(store.range(request).await.unwrap().revision, a.mod_revision);
    store.compact(b.mod_revision).await.unwrap();
    match store.get("/a", Some(a.mod_revision)).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!((requested, compacted), (a.mod_revision, b.mod_revision));
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
    match store.get("/a", Some(100)).await {
        Err(StoreError::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (100, 3))
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_store_stops_its_lease_task() {
    let store = MemStore::new();
    let lease = store.lease_grant(60).await.unwrap(); // starts the expiry task
    store
        .create("/leased", Bytes::new(), Some(lease))
        .await
        .unwrap();
    let mut watch = store.watch("", 1).await.unwrap();
    assert!(watch.next().await.unwrap().is_ok());
    drop(store);
    // The expiry task holds only a weak reference, so the store's state (and its watch hub)
    // is gone once the store is dropped.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(2), watch.next()).await;
    assert!(
        matches!(closed, Ok(Some(Err(StoreError::Closed)))),
        "got {closed:?}"
    );
}
