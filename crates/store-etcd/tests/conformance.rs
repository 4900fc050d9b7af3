//! The shared backend conformance suite, against a real etcd.

mod support;

use std::sync::Arc;

use support::{EtcdServer, within};

/// Through a key namespace, as stores sharing one etcd run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_a_namespace() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("/keelson-conformance").await;
    within(
        120,
        keelson_store::conformance::run_all(Arc::new(store), "/conformance/"),
    )
    .await;
}

/// With no namespace: keys are etcd's keys unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_without_a_namespace() {
    let etcd = EtcdServer::start().await;
    let store = etcd.store("").await;
    within(
        120,
        keelson_store::conformance::run_all(Arc::new(store), "/conformance/"),
    )
    .await;
}
