//! The etcd backend against a real etcd: the store semantics etcd has to be coaxed into
//! (conditional writes, error mapping, compaction, watches, leases, namespaces).

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use keelson_store::{EventKind, RangeRequest, Store, StoreError, WatchStream};
use support::{EtcdServer, within};

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

#[tokio::test]
async fn create_update_delete_compare_mod_revisions() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let start = store.current_revision().await.unwrap();

    let created = store.create("/a", value("1"), None).await.unwrap();
    assert_eq!(
        (
            created.create_revision,
            created.mod_revision,
            created.version
        ),
        (start + 1, start + 1, 1)
    );
    assert_eq!(created.key, "/a");

    let Err(StoreError::AlreadyExists { current }) = store.create("/a", value("x"), None).await
    else {
        panic!("a second create must fail with AlreadyExists");
    };
    assert_eq!(*current, created);

    let updated = store
        .update("/a", value("2"), created.mod_revision, None)
        .await
        .unwrap();
    assert_eq!(
        (
            updated.create_revision,
            updated.mod_revision,
            updated.version
        ),
        (start + 1, start + 2, 2)
    );
    assert_eq!(updated.value, value("2"));

    let Err(StoreError::Conflict { expected, current }) = store
        .update("/a", value("3"), created.mod_revision, None)
        .await
    else {
        panic!("a stale update must conflict");
    };
    assert_eq!(
        (expected, *current),
        (created.mod_revision, updated.clone())
    );
    assert!(matches!(
        store.update("/missing", value("x"), 0, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update("/missing", value("x"), 5, None).await,
        Err(StoreError::NotFound)
    ));

    let Err(StoreError::Conflict { .. }) = store.delete("/a", Some(created.mod_revision)).await
    else {
        panic!("a stale delete must conflict");
    };
    assert!(matches!(
        store.delete("/missing", None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete("/missing", Some(0)).await,
        Err(StoreError::NotFound)
    ));
    // None of the refused operations moved the revision.
    assert_eq!(store.current_revision().await.unwrap(), start + 2);

    let (deleted, revision) = store
        .delete("/a", Some(updated.mod_revision))
        .await
        .unwrap();
    assert_eq!((deleted, revision), (updated, start + 3));
    let recreated = store.create("/a", value("again"), None).await.unwrap();
    assert_eq!(
        (recreated.create_revision, recreated.version),
        (start + 4, 1)
    );
    let (deleted, revision) = store.delete("/a", None).await.unwrap();
    assert_eq!((deleted, revision), (recreated, start + 5));
    assert_eq!(store.get("/a", None).await.unwrap(), (None, start + 5));
}

#[tokio::test]
async fn ranges_honour_limit_count_keys_only_and_bounds() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    for key in ["/p/a", "/p/b", "/p/c", "/p/d", "/q/a"] {
        store.create(key, value(key), None).await.unwrap();
    }

    let all = store.range(RangeRequest::prefix("/p/")).await.unwrap();
    let keys: Vec<_> = all.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/a", "/p/b", "/p/c", "/p/d"]);
    assert_eq!((all.count, all.more), (4, false));
    assert_eq!(all.kvs[0].value, value("/p/a"));

    let page = store
        .range(RangeRequest {
            limit: Some(2),
            ..RangeRequest::prefix("/p/")
        })
        .await
        .unwrap();
    assert_eq!((page.kvs.len(), page.count, page.more), (2, 4, true));

    let bounded = RangeRequest {
        start: "/p/b".into(),
        end: Some("/p/d".into()),
        ..Default::default()
    };
    let bounded = store.range(bounded).await.unwrap();
    let keys: Vec<_> = bounded.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/b", "/p/c"]);

    let single = RangeRequest {
        start: "/q/a".into(),
        keys_only: true,
        ..Default::default()
    };
    let single = store.range(single).await.unwrap();
    assert_eq!((single.kvs.len(), single.kvs[0].key.as_str()), (1, "/q/a"));
    assert!(
        single.kvs[0].value.is_empty(),
        "keys_only returns empty values"
    );

    let everything = store.range(RangeRequest::prefix("")).await.unwrap();
    assert_eq!(everything.count, 5);
    assert_eq!(everything.revision, store.current_revision().await.unwrap());
}

#[tokio::test]
async fn namespaces_isolate_stores_sharing_one_etcd() {
    let etcd = EtcdServer::start().await;
    let first = etcd.store("/first").await;
    let second = etcd.store("/second").await;
    first.create("/k", value("1"), None).await.unwrap();
    second.create("/k", value("2"), None).await.unwrap();

    assert_eq!(
        first.get("/k", None).await.unwrap().0.unwrap().value,
        value("1")
    );
    let listed = second.range(RangeRequest::prefix("")).await.unwrap();
    assert_eq!(listed.kvs.len(), 1);
    assert_eq!(
        (listed.kvs[0].key.as_str(), &listed.kvs[0].value),
        ("/k", &value("2"))
    );

    // The whole etcd key space, seen through the empty namespace.
    let root = etcd.store("").await;
    let keys: Vec<_> = root
        .range(RangeRequest::prefix(""))
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, ["/first/k", "/second/k"]);
}

#[tokio::test]
async fn past_reads_compaction_and_future_revisions() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let v1 = store.create("/k", value("1"), None).await.unwrap();
    let v2 = store
        .update("/k", value("2"), v1.mod_revision, None)
        .await
        .unwrap();
    let v3 = store
        .update("/k", value("3"), v2.mod_revision, None)
        .await
        .unwrap();

    let (old, served_at) = store.get("/k", Some(v1.mod_revision)).await.unwrap();
    assert_eq!((old.unwrap(), served_at), (v1.clone(), v1.mod_revision));
    let old_range = RangeRequest {
        revision: Some(v2.mod_revision),
        ..RangeRequest::prefix("/")
    };
    let old_range = store.range(old_range).await.unwrap();
    assert_eq!(
        (old_range.kvs, old_range.revision),
        (vec![v2.clone()], v2.mod_revision)
    );

    let future = v3.mod_revision + 10;
    let Err(StoreError::FutureRevision { requested, current }) =
        store.get("/k", Some(future)).await
    else {
        panic!("a read past the current revision must fail with FutureRevision");
    };
    assert_eq!((requested, current), (future, v3.mod_revision));

    store.compact(v3.mod_revision).await.unwrap();
    let Err(StoreError::Compacted {
        requested,
        compacted,
    }) = store.get("/k", Some(v1.mod_revision)).await
    else {
        panic!("a read below the compaction point must fail with Compacted");
    };
    assert_eq!((requested, compacted), (v1.mod_revision, v3.mod_revision));
    let compacted_range = RangeRequest {
        revision: Some(v2.mod_revision),
        ..RangeRequest::prefix("/")
    };
    assert!(matches!(
        store.range(compacted_range).await,
        Err(StoreError::Compacted { .. })
    ));
    // The compaction point itself stays readable.
    assert_eq!(
        store
            .get("/k", Some(v3.mod_revision))
            .await
            .unwrap()
            .0
            .unwrap(),
        v3
    );
}

async fn next_event(stream: &mut WatchStream) -> keelson_store::WatchEvent {
    within(10, stream.next())
        .await
        .expect("watch stream ended")
        .expect("watch event")
}

#[tokio::test]
async fn watches_replay_history_in_order_then_follow_live_changes() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let before = store.current_revision().await.unwrap();
    let a = store.create("/w/a", value("1"), None).await.unwrap();
    store.create("/other", value("x"), None).await.unwrap();
    let a2 = store
        .update("/w/a", value("2"), a.mod_revision, None)
        .await
        .unwrap();
    let (_, deleted_at) = store.delete("/w/a", None).await.unwrap();

    let mut watch = store.watch("/w/", before).await.unwrap();
    let created = next_event(&mut watch).await;
    assert_eq!(
        (created.kind, &created.kv, &created.prev),
        (EventKind::Put, &a, &None)
    );
    let updated = next_event(&mut watch).await;
    assert_eq!(
        (updated.kind, &updated.kv, updated.prev.as_ref()),
        (EventKind::Put, &a2, Some(&a))
    );
    let deleted = next_event(&mut watch).await;
    assert_eq!(deleted.kind, EventKind::Delete);
    assert_eq!(
        (
            deleted.kv.key.as_str(),
            deleted.revision(),
            deleted.kv.value.is_empty()
        ),
        ("/w/a", deleted_at, true)
    );
    assert_eq!(deleted.prev.as_ref(), Some(&a2));

    let live = store.create("/w/b", value("live"), None).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!((event.kind, event.kv), (EventKind::Put, live));

    // Starting after a revision replays only what follows it.
    let mut late = store.watch("/w/", a2.mod_revision).await.unwrap();
    assert_eq!(next_event(&mut late).await.revision(), deleted_at);
}

#[tokio::test]
async fn watching_from_a_compacted_revision_fails() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let before = store.current_revision().await.unwrap();
    let a = store.create("/w/a", value("1"), None).await.unwrap();
    let a2 = store
        .update("/w/a", value("2"), a.mod_revision, None)
        .await
        .unwrap();
    store.compact(a2.mod_revision).await.unwrap();

    let Err(StoreError::Compacted {
        requested,
        compacted,
    }) = within(10, store.watch("/w/", before)).await
    else {
        panic!("a watch from below the compaction point must fail with Compacted");
    };
    assert_eq!((requested, compacted), (before + 1, a2.mod_revision));

    // From the compaction point on, history is still there.
    let mut watch = store.watch("/w/", a2.mod_revision - 1).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv, a2);
}

#[tokio::test]
async fn a_watch_from_the_future_waits_for_that_revision() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let now = store.current_revision().await.unwrap();
    let mut watch = store.watch("/", now + 1).await.unwrap();
    store.create("/skipped", value("x"), None).await.unwrap();
    let seen = store.create("/seen", value("y"), None).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv, seen);
}

#[tokio::test]
async fn leases_keep_alive_revoke_and_expire() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;

    let lease = store.lease_grant(30).await.unwrap();
    let kv = store
        .create("/leased", value("1"), Some(lease))
        .await
        .unwrap();
    assert_eq!(kv.lease, lease);
    assert_eq!(
        store.get("/leased", None).await.unwrap().0.unwrap().lease,
        lease
    );
    assert_eq!(store.lease_keep_alive(lease).await.unwrap(), 30);
    store.lease_revoke(lease).await.unwrap();
    assert_eq!(store.get("/leased", None).await.unwrap().0, None);

    assert!(
        matches!(store.lease_keep_alive(lease).await, Err(StoreError::LeaseNotFound(id)) if id == lease)
    );
    assert!(
        matches!(store.lease_revoke(lease).await, Err(StoreError::LeaseNotFound(id)) if id == lease)
    );
    assert!(matches!(
        store.create("/orphan", value("1"), Some(lease)).await,
        Err(StoreError::LeaseNotFound(id)) if id == lease
    ));

    // etcd rounds very short TTLs up to its minimum (2 s with default timing), then deletes
    // the keys with an ordinary, watchable delete.
    let short = store.lease_grant(1).await.unwrap();
    let doomed = store
        .create("/doomed", value("1"), Some(short))
        .await
        .unwrap();
    let mut watch = store.watch("/doomed", doomed.mod_revision).await.unwrap();
    let expired = within(15, watch.next()).await.unwrap().unwrap();
    assert_eq!(
        (expired.kind, expired.kv.key.as_str()),
        (EventKind::Delete, "/doomed")
    );
    assert_eq!(store.get("/doomed", None).await.unwrap().0, None);
}

#[tokio::test]
async fn oversized_writes_are_too_large() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/ns").await;
    let big = Bytes::from(vec![b'x'; 3 * 1024 * 1024]);
    let Err(StoreError::TooLarge { size, limit }) = store.create("/big", big, None).await else {
        panic!("a 3 MiB value must be refused as TooLarge");
    };
    assert!(size > limit, "size {size} should exceed limit {limit}");
    // Just over etcd's request limit, but under gRPC's message limit: etcd's own check.
    let over = Bytes::from(vec![b'x'; 1536 * 1024 + 1]);
    assert!(matches!(
        store.create("/over", over, None).await,
        Err(StoreError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn connecting_to_nothing_fails_within_the_timeout() {
    let options = keelson_store_etcd::EtcdOptions {
        // Port 9 (discard) on loopback: nothing listens there.
        endpoints: vec!["http://127.0.0.1:9".into()],
        prefix: String::new(),
        connect_timeout: Duration::from_millis(500),
    };
    let started = std::time::Instant::now();
    let result = within(10, keelson_store_etcd::EtcdStore::connect(options)).await;
    assert!(matches!(result, Err(StoreError::Backend(_))));
    assert!(started.elapsed() < Duration::from_secs(5));
}
