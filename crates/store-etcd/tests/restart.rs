//! Durability across an etcd crash: acknowledged writes survive a SIGKILL and restart on the
//! same data directory, watches on the dead member fail instead of hanging, and a store
//! connected before the crash reconnects by itself.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use keelson_store::{RangeRequest, Store};
use support::{EtcdServer, within};

#[tokio::test]
async fn writes_survive_an_etcd_restart() {
    let mut etcd = EtcdServer::start().await;
    let store = etcd.store("/restart").await;
    let mut written = Vec::new();
    for i in 0..20 {
        written.push(
            store
                .create(&format!("/k/{i:02}"), Bytes::from(format!("v{i}")), None)
                .await
                .unwrap(),
        );
    }
    let updated = store
        .update(
            "/k/00",
            Bytes::from_static(b"changed"),
            written[0].mod_revision,
            None,
        )
        .await
        .unwrap();
    written[0] = updated;
    let revision = store.current_revision().await.unwrap();
    let mut watch = store.watch("/k/", revision).await.unwrap();

    etcd.kill();
    // A watch on the dead member ends with an error rather than hanging.
    match within(15, watch.next()).await {
        Some(Err(_)) => {}
        other => panic!("a watch on a killed etcd should fail, got {other:?}"),
    }
    assert!(
        within(15, watch.next()).await.is_none(),
        "the watch stream ends after its error"
    );
    etcd.restart().await;

    let fresh = etcd.store("/restart").await;
    assert_eq!(fresh.current_revision().await.unwrap(), revision);
    let listed = fresh.range(RangeRequest::prefix("/k/")).await.unwrap();
    assert_eq!(listed.kvs, written);

    // The store from before the crash reconnects on its own (after a few failed attempts).
    let mut reconnected = None;
    for _ in 0..100 {
        match store.current_revision().await {
            Ok(revision) => {
                reconnected = Some(revision);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        reconnected,
        Some(revision),
        "the old client did not reconnect"
    );
    let next = store
        .create("/k/after", Bytes::from_static(b"x"), None)
        .await
        .unwrap();
    assert_eq!(next.mod_revision, revision + 1);
}
