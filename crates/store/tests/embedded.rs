//! The embedded backend: the conformance suite, durability across reopen and kill -9, torn-tail
//! recovery, group commit and snapshots.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use keelson_store::embedded::{EmbeddedOptions, EmbeddedStore};
use keelson_store::{RangeRequest, Store, StoreError};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    keelson_store::conformance::run_all(store, "/conformance/").await;
}

/// Mirrors how the control plane opens its store: `Default::default()` options and the result
/// used as an `Arc<dyn Store>` in a match with other backends. If this compiles, so does it.
async fn open_like_the_control_plane(dir: &Path, embedded: bool) -> Result<Arc<dyn Store>, String> {
    Ok(match embedded {
        true => EmbeddedStore::open(dir, Default::default())
            .await
            .map_err(|e| format!("opening: {e}"))?,
        false => Arc::new(keelson_store::memory::MemStore::new()),
    })
}

#[tokio::test]
async fn open_returns_something_callers_can_use_as_a_dyn_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_like_the_control_plane(dir.path(), true).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 1);
}

#[tokio::test]
async fn reopen_keeps_data_revision_leases_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (lease, compacted, revision);
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap();
        lease = store.lease_grant(300).await.unwrap();
        let a = store
            .create("/a", Bytes::from_static(b"1"), None)
            .await
            .unwrap();
        store
            .update("/a", Bytes::from_static(b"2"), a.mod_revision, None)
            .await
            .unwrap();
        store
            .create("/b", Bytes::from_static(b"x"), None)
            .await
            .unwrap();
        store.delete("/b", None).await.unwrap();
        store
            .create("/leased", Bytes::from_static(b"l"), Some(lease))
            .await
            .unwrap();
        compacted = a.mod_revision + 1;
        store.compact(compacted).await.unwrap();
        store
            .create("/c", Bytes::from_static(b"3"), None)
            .await
            .unwrap();
        revision = store.current_revision().await.unwrap();
    }
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        revision,
        "revision survives reopen"
    );
    let all = store.range(RangeRequest::prefix("/")).await.unwrap();
    let keys: Vec<_> = all
        .kvs
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_ref()))
        .collect();
    assert_eq!(keys, [("/a", &b"2"[..]), ("/c", b"3"), ("/leased", b"l")]);
    assert!(matches!(
        store.get("/a", Some(compacted - 1)).await,
        Err(StoreError::Compacted { .. })
    ));
    assert_eq!(
        store.get("/b", Some(revision - 2)).await.unwrap().0,
        None,
        "history above the compaction point"
    );
    assert_eq!(
        store.lease_keep_alive(lease).await.unwrap(),
        300,
        "leases survive reopen"
    );
    let next = store.create("/d", Bytes::new(), None).await.unwrap();
    assert_eq!(
        next.mod_revision,
        revision + 1,
        "revisions continue after reopen"
    );
    store.lease_revoke(lease).await.unwrap();
    assert_eq!(store.get("/leased", None).await.unwrap().0, None);
}

#[tokio::test]
async fn a_torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap();
        for i in 0..10 {
            store
                .create(&format!("/k{i}"), Bytes::from(vec![b'v'; 100]), None)
                .await
                .unwrap();
        }
    }
    let log = segments(dir.path()).pop().expect("a log segment");
    let intact_len = std::fs::metadata(&log).unwrap().len();
    // A record header promising more bytes than follow: what a crash mid-append leaves.
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
    drop(file);

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        intact_len,
        "the torn tail is cut off"
    );
    assert_eq!(
        store.range(RangeRequest::prefix("/")).await.unwrap().count,
        10
    );
    store.create("/after", Bytes::new(), None).await.unwrap();
    drop(store);
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.range(RangeRequest::prefix("/")).await.unwrap().count,
        11,
        "writes after recovery persist"
    );
}

#[tokio::test]
async fn a_corrupt_record_in_the_tail_is_truncated_too() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap();
        store
            .create("/a", Bytes::from_static(b"aaaa"), None)
            .await
            .unwrap();
        store
            .create("/b", Bytes::from_static(b"bbbb"), None)
            .await
            .unwrap();
    }
    let log = segments(dir.path()).pop().unwrap();
    let mut data = std::fs::read(&log).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff; // flip a byte of the last record's value: its crc no longer matches
    std::fs::write(&log, data).unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert!(store.get("/a", None).await.unwrap().0.is_some());
    assert_eq!(
        store.get("/b", None).await.unwrap().0,
        None,
        "the damaged last record is dropped"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert!(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .is_err()
    );
    drop(store);
    EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .expect("reopen after close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    store
                        .create(&format!("/t{task}/{i}"), Bytes::from_static(b"v"), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = store.wal_stats();
    assert_eq!(stats.submissions, 64 * 20);
    assert!(
        stats.fsyncs * 2 <= stats.submissions,
        "group commit should batch concurrent writes: {} fsyncs for {} writes",
        stats.fsyncs,
        stats.submissions
    );
}

#[tokio::test]
async fn snapshots_replace_old_segments_and_reopen_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        snapshot_after_log_bytes: 8 * 1024,
        ..EmbeddedOptions::default()
    };
    let revision;
    {
        let store = EmbeddedStore::open(dir.path(), options.clone())
            .await
            .unwrap();
        for i in 0..200 {
            store
                .create(&format!("/k{i:03}"), Bytes::from(vec![b'x'; 200]), None)
                .await
                .unwrap();
        }
        for i in 0..50 {
            store.delete(&format!("/k{i:03}"), None).await.unwrap();
        }
        revision = store.current_revision().await.unwrap();
    }
    assert!(dir.path().join("snapshot").exists());
    assert_eq!(
        segments(dir.path()).len(),
        1,
        "segments older than the snapshot are deleted"
    );
    let store = EmbeddedStore::open(dir.path(), options).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), revision);
    let all = store.range(RangeRequest::prefix("/")).await.unwrap();
    assert_eq!(all.count, 150);
    assert_eq!(all.kvs[0].key, "/k050");
    // History survives the snapshot too: before its deletion, /k000 existed.
    assert!(
        store
            .get("/k000", Some(revision - 50))
            .await
            .unwrap()
            .0
            .is_some()
    );
}

const CRASH_WRITER_DIR: &str = "KEELSON_STORE_CRASH_WRITER_DIR";
const CRASH_TEST: &str = "acknowledged_writes_survive_kill_9";

/// The child half of the crash test: write keys forever, printing each acknowledged one.
fn run_crash_writer(dir: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir, EmbeddedOptions::default())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let writers: Vec<_> = (0..16)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        if Instant::now() > deadline {
                            return;
                        }
                        let key = format!("/w{writer}/{i}");
                        store
                            .create(&key, Bytes::from(key.clone()), None)
                            .await
                            .unwrap();
                        println!("acked {key}");
                    }
                })
            })
            .collect();
        for writer in writers {
            let _ = writer.await;
        }
    });
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Ok(dir) = std::env::var(CRASH_WRITER_DIR) {
        run_crash_writer(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CRASH_TEST, "--nocapture", "--test-threads", "1"])
        .env(CRASH_WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("re-run the test binary as the writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < 3000 {
        let Some(line) = lines.next() else { break };
        if let Some(key) = line.unwrap().strip_prefix("acked ") {
            acked.push(key.to_owned());
        }
    }
    child.kill().expect("SIGKILL the writer"); // `Child::kill` is SIGKILL on unix
    child.wait().unwrap();
    // Lines already in the pipe were acknowledged before the kill, too.
    for line in lines {
        if let Some(key) = line.unwrap().strip_prefix("acked ") {
            acked.push(key.to_owned());
        }
    }
    assert!(
        acked.len() >= 500,
        "the writer acknowledged only {} keys before exiting",
        acked.len()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap();
        for key in &acked {
            let (kv, _) = store.get(key, None).await.unwrap();
            assert_eq!(
                kv.map(|kv| kv.value),
                Some(Bytes::from(key.clone())),
                "acknowledged {key} was lost"
            );
        }
    });
}

#[tokio::test]
async fn dropping_the_store_stops_its_writer_and_lease_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let lease = store.lease_grant(60).await.unwrap();
    store
        .create("/leased", Bytes::new(), Some(lease))
        .await
        .unwrap();
    let mut watch = store.watch("", 1).await.unwrap();
    drop(store);
    let mut saw_closed = false;
    while let Ok(Some(item)) =
        tokio::time::timeout(Duration::from_secs(2), futures::StreamExt::next(&mut watch)).await
    {
        saw_closed |= matches!(item, Err(StoreError::Closed));
    }
    assert!(
        saw_closed,
        "the watch should end with Closed once the store is dropped"
    );
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    assert!(reopened.get("/leased", None).await.unwrap().0.is_some());
}
