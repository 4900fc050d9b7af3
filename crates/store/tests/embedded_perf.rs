//! Throughput and reopen-time checks for the embedded store. Ignored by default (they take
//! tens of seconds and mean something only in release mode):
//! `cargo nextest run -p keelson-store --release --run-ignored only --test embedded_perf --no-capture`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use keelson_store::embedded::{EmbeddedOptions, EmbeddedStore};
use keelson_store::{RangeRequest, Store};

const WRITERS: usize = 256;
const VALUE: [u8; 1024] = [b'v'; 1024];

/// Create `total` keys of 1 KiB from `WRITERS` concurrent tasks; returns creates per second.
async fn create_concurrently(store: &Arc<EmbeddedStore>, first: usize, total: usize) -> f64 {
    let started = Instant::now();
    let per_writer = total / WRITERS;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let key = format!("/registry/perf/{:08}", first + writer * per_writer + i);
                    store
                        .create(&key, Bytes::from_static(&VALUE), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_writer * WRITERS) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow; run in release mode"]
async fn throughput_with_256_writers_and_reopen_of_150k_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let rate = create_concurrently(&store, 0, 25_600).await;
    let stats = store.wal_stats();
    eprintln!(
        "creates/s with {WRITERS} writers: {rate:.0} ({} writes in {} fsyncs, {} snapshots)",
        stats.submissions, stats.fsyncs, stats.snapshots
    );
    let rate_more = create_concurrently(&store, 25_600, 150_000 - 25_600).await;
    let stats = store.wal_stats();
    eprintln!(
        "creates/s while filling to 150k keys: {rate_more:.0} ({} snapshots so far)",
        stats.snapshots
    );
    drop(store);

    let started = Instant::now();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let reopen = started.elapsed();
    let count = store
        .range(RangeRequest {
            keys_only: true,
            ..RangeRequest::prefix("/registry/perf/")
        })
        .await
        .unwrap()
        .count;
    eprintln!("reopen of {count} keys of 1 KiB: {reopen:?}");
    assert_eq!(count, 149_760);
    assert!(
        rate >= 5_000.0,
        "{rate:.0} creates/s is below the 5,000/s target"
    );
    assert!(reopen.as_secs_f64() < 2.0, "reopen took {reopen:?}");
}
