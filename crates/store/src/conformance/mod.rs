//! The backend conformance suite. Every [`Store`] implementation runs [`run_all`]; it panics
//! with a message naming the broken expectation.
//!
//! The cases only touch keys under fresh sub-prefixes of the caller's prefix and never assume
//! the store is empty or at revision 1, so the suite can run against a shared etcd.

mod compaction;
mod concurrent;
mod kv;
mod lease;
mod range;
mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;

use crate::{Store, WatchEvent, WatchStream};

/// Run every case against `store`, using keys under `prefix`.
pub async fn run_all(store: Arc<dyn Store>, prefix: &str) {
    // TTL expiry is mostly waiting, so it runs alongside the other cases.
    let expiry = tokio::spawn(lease::expiry_deletes_keys(
        store.clone(),
        fresh_prefix(prefix, "lease-ttl"),
    ));

    kv::create_update_delete(&*store, &fresh_prefix(prefix, "kv")).await;
    kv::future_revisions_are_refused(&*store, &fresh_prefix(prefix, "future")).await;
    range::ranges(&*store, &fresh_prefix(prefix, "range")).await;
    watch::watch_replays_then_follows(&*store, &fresh_prefix(prefix, "watch")).await;
    lease::grant_keep_alive_revoke(&*store, &fresh_prefix(prefix, "lease")).await;
    concurrent::concurrent_writers(store.clone(), &fresh_prefix(prefix, "concurrent")).await;
    // Last: compaction is store-wide, and would cut the history other cases read.
    compaction::compaction(&*store, &fresh_prefix(prefix, "compact")).await;

    if let Err(err) = expiry.await {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// A sub-prefix no earlier run used, so leftovers in a shared store cannot interfere.
fn fresh_prefix(prefix: &str, case: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{case}-{nanos:x}-{n}/")
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The next watch event, or a panic naming `what` after `timeout`.
async fn next_event(stream: &mut WatchStream, what: &str, timeout: Duration) -> WatchEvent {
    match tokio::time::timeout(timeout, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("{what}: watch failed: {err}"),
        Ok(None) => panic!("{what}: watch stream ended"),
        Err(_) => panic!("{what}: no watch event within {timeout:?}"),
    }
}

const EVENT_TIMEOUT: Duration = Duration::from_secs(5);
