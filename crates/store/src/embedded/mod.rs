//! The embedded, on-disk backend: the MVCC core kept in memory, made durable by an append-only
//! write-ahead log with group commit, and compacted into snapshots.
//!
//! Directory layout: `LOCK` (held exclusively while open), `snapshot` (optional) and
//! `wal-<seq>.log` segments. The modules `record` (log record format), `writer` (group commit)
//! and `snapshot` describe each part.

mod files;
mod record;
mod recovery;
mod snapshot;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use writer::WalStats;

use crate::StoreError;
use crate::mvcc::{DEFAULT_WATCH_BUFFER, Engine, LeaseReaper, Shared, delegate_store_to_engine};
use writer::{LogWriter, WalJournal};

/// Tuning knobs of [`EmbeddedStore`]; `Default` is what production uses.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Number of events a watcher may fall behind before it is cancelled.
    pub watch_buffer: usize,
    /// Start a new log segment with a snapshot once the current one grows past this size.
    pub snapshot_after_log_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            watch_buffer: DEFAULT_WATCH_BUFFER,
            snapshot_after_log_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The default on-disk [`crate::Store`]. A write acknowledged with `Ok` has been fsynced.
pub struct EmbeddedStore {
    engine: Engine,
    reaper: LeaseReaper,
    journal: Arc<WalJournal>,
    dir: PathBuf,
    /// Held for the store's lifetime; dropping it releases the directory.
    _lock: File,
}

impl EmbeddedStore {
    /// Open (creating if needed) the store in directory `path`. Leases found on disk get their
    /// full TTL again from now, as in etcd.
    pub async fn open(
        path: impl AsRef<Path>,
        options: EmbeddedOptions,
    ) -> Result<Arc<Self>, StoreError> {
        let dir = path.as_ref().to_path_buf();
        let opened = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
                std::fs::create_dir_all(&dir)?;
                let lock = files::lock_dir(&dir)?;
                Ok((lock, recovery::recover(&dir)?))
            })
            .await
            .map_err(|err| StoreError::Backend(format!("opening the store panicked: {err}")))??
        };
        let (lock, recovered) = opened;
        let shared = Shared::new(recovered.state, options.watch_buffer);
        let journal = Arc::new(
            LogWriter {
                dir: dir.clone(),
                segment: recovered.segment,
                segment_seq: recovered.segment_seq,
                segment_len: recovered.segment_len,
                snapshot_after_bytes: options.snapshot_after_log_bytes,
                shared: shared.clone(),
                counters: Default::default(),
                failure: None,
                snapshot_job: None,
                snapshot_wanted: false,
            }
            .start()?,
        );
        let engine = Engine {
            shared,
            journal: journal.clone(),
        };
        let store = Self {
            engine,
            reaper: LeaseReaper::default(),
            journal,
            dir,
            _lock: lock,
        };
        // Leases recovered from disk must keep expiring.
        store.reaper.ensure_started(&store.engine);
        Ok(Arc::new(store))
    }

    /// Counters of the log writer (writes acknowledged, fsyncs, snapshots).
    pub fn wal_stats(&self) -> WalStats {
        self.journal.counters.read()
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Flush and stop the log writer before the directory lock is released, so a store
        // reopened right after this never races with a writer still appending.
        self.journal.close();
    }
}

delegate_store_to_engine!(EmbeddedStore);
