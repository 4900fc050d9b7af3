//! Group commit. Writers apply their change to the in-memory index under the state lock and
//! enqueue the batch (so the queue is in revision order). One log-writer thread drains
//! everything queued, appends it with one write, calls `sync_data` once, then publishes the
//! batches (committed revision + watch events) and acknowledges every writer. Under load the
//! queue fills while the previous fsync runs, so one fsync covers many writes.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::{files, snapshot};
use crate::StoreError;
use crate::mvcc::{Change, CommitBatch, Journal, Shared, State};

/// Upper bound on submissions per fsync, so a burst still gets acknowledged in bounded time.
const MAX_GROUP: usize = 4096;

/// Counters of the log writer, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Operations acknowledged through the log.
    pub submissions: u64,
    /// `sync_data` calls on the log (one per group).
    pub fsyncs: u64,
    /// Snapshots written.
    pub snapshots: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    submissions: AtomicU64,
    fsyncs: AtomicU64,
    snapshots: AtomicU64,
}

impl Counters {
    pub fn read(&self) -> WalStats {
        WalStats {
            submissions: self.submissions.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            snapshots: self.snapshots.load(Ordering::Relaxed),
        }
    }
}

struct Submission {
    batch: CommitBatch,
    durable: oneshot::Sender<Result<(), StoreError>>,
}

/// The embedded store's journal: the sending side of the log-writer thread.
pub(super) struct WalJournal {
    queue: Mutex<Option<mpsc::Sender<Submission>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub counters: Arc<Counters>,
}

impl Journal for WalJournal {
    fn submit(
        &self,
        _shared: &Shared,
        state: &mut State,
        batch: CommitBatch,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError> {
        let (durable, wait) = oneshot::channel();
        let queue = self.queue.lock();
        let sent = queue
            .as_ref()
            .map(|q| q.send(Submission { batch, durable }));
        if !matches!(sent, Some(Ok(()))) {
            // The change is already in the index but will never reach the log.
            state.poisoned = Some("the store is closed".into());
            return Err(StoreError::Closed);
        }
        Ok(Some(wait))
    }
}

impl WalJournal {
    /// Stop accepting writes, let the writer finish what is queued, and wait for it to exit.
    pub fn close(&self) {
        self.queue.lock().take();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

/// The log-writer thread's state: the open segment and when to take a snapshot.
pub(super) struct LogWriter {
    pub dir: PathBuf,
    pub segment: File,
    pub segment_seq: u64,
    pub segment_len: u64,
    pub snapshot_after_bytes: u64,
    pub shared: Arc<Shared>,
    pub counters: Arc<Counters>,
    /// The first write or fsync error. After one, the segment may end in a partial record, so
    /// nothing more is appended and every later submission fails too.
    pub failure: Option<(io::ErrorKind, String)>,
    /// The snapshot being written in the background, if any (at most one at a time).
    pub snapshot_job: Option<SnapshotJob>,
    /// A snapshot is due (log too long, or a compaction freed history).
    pub snapshot_wanted: bool,
}

impl LogWriter {
    pub fn start(self) -> Result<WalJournal, StoreError> {
        let (queue, incoming) = mpsc::channel();
        let counters = self.counters.clone();
        let thread = std::thread::Builder::new()
            .name("keelson-store-wal".into())
            .spawn(move || self.run(incoming))?;
        Ok(WalJournal {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
            counters,
        })
    }

    fn run(mut self, incoming: mpsc::Receiver<Submission>) {
        let mut buffer = Vec::new();
        let mut group = Vec::new();
        // Ends when the journal is closed and everything queued has been handled.
        while let Ok(first) = incoming.recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match incoming.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            buffer.clear();
            let mut compacted = false;
            for submission in &group {
                for change in &submission.batch.changes {
                    compacted |= matches!(change, Change::Compact { .. });
                    super::record::encode_record(change, &mut buffer);
                }
            }
            let written = self.append(&buffer);
            self.finish_group(&mut group, written);
            self.snapshot_wanted |= compacted || self.segment_len >= self.snapshot_after_bytes;
            self.reap_snapshot(false);
            if self.snapshot_wanted && self.snapshot_job.is_none() && self.failure.is_none() {
                self.start_snapshot();
            }
        }
        self.reap_snapshot(true);
    }

    fn append(&mut self, buffer: &[u8]) -> io::Result<()> {
        if let Some((kind, message)) = &self.failure {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let result = self.write_and_sync(buffer);
        if let Err(err) = &result {
            self.failure = Some((err.kind(), err.to_string()));
        }
        result
    }

    fn write_and_sync(&mut self, buffer: &[u8]) -> io::Result<()> {
        if buffer.is_empty() {
            // Only barriers in this group: everything before them is already durable.
            return Ok(());
        }
        self.segment.write_all(buffer)?;
        self.segment.sync_data()?;
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.segment_len += buffer.len() as u64;
        Ok(())
    }

    fn finish_group(&self, group: &mut Vec<Submission>, written: io::Result<()>) {
        let mut acks = Vec::with_capacity(group.len());
        {
            let mut state = self.shared.state.lock();
            for submission in group.drain(..) {
                if written.is_ok() {
                    self.shared.publish(&mut state, submission.batch);
                }
                acks.push(submission.durable);
            }
            if let Err(err) = &written {
                // Memory is now ahead of the disk; refuse everything from here on rather than
                // serve data that a restart would lose.
                tracing::error!(error = %err, "writing the store log failed");
                state.poisoned = Some(format!("log write failed: {err}"));
            }
        }
        self.counters
            .submissions
            .fetch_add(acks.len() as u64, Ordering::Relaxed);
        for ack in acks {
            let result = match &written {
                Ok(()) => Ok(()),
                Err(err) => Err(StoreError::Io(io::Error::new(err.kind(), err.to_string()))),
            };
            let _ = ack.send(result);
        }
    }

    /// Start a new segment and write a snapshot of everything before it in the background,
    /// so writers are not held up by writing the whole state. The snapshot is encoded here,
    /// between groups, so it matches the segment boundary exactly.
    fn start_snapshot(&mut self) {
        let next_seq = self.segment_seq + 1;
        let encoded = snapshot::encode(&self.shared.state.lock(), next_seq);
        match files::create_segment(&self.dir, next_seq) {
            Ok(segment) => {
                self.segment = segment;
                self.segment_seq = next_seq;
                self.segment_len = files::SEGMENT_MAGIC.len() as u64;
                self.snapshot_wanted = false;
                match SnapshotJob::spawn(self.dir.clone(), encoded, next_seq) {
                    Ok(job) => self.snapshot_job = Some(job),
                    Err(err) => tracing::warn!(error = %err, "starting a store snapshot failed"),
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "starting a new store log segment failed; keeping the current one");
                let _ = std::fs::remove_file(files::segment_path(&self.dir, next_seq));
            }
        }
    }

    /// Collect the background snapshot if it is done (or, with `wait`, once it is). Only a
    /// durable snapshot makes the segments before it unnecessary.
    fn reap_snapshot(&mut self, wait: bool) {
        let Some(job) = self.snapshot_job.take() else {
            return;
        };
        if !wait && !job.thread.is_finished() {
            self.snapshot_job = Some(job);
            return;
        }
        match job.thread.join() {
            Ok(Ok(())) => {
                self.counters.snapshots.fetch_add(1, Ordering::Relaxed);
                if let Err(err) = files::remove_segments_before(&self.dir, job.first_segment) {
                    tracing::warn!(error = %err, "removing old store log segments failed");
                }
            }
            // The older snapshot and segments are still there, so nothing is lost.
            Ok(Err(err)) => tracing::warn!(error = %err, "writing a store snapshot failed"),
            Err(_) => tracing::warn!("the store snapshot thread panicked"),
        }
    }
}

/// A snapshot being written by its own thread, owned (and joined) by the log writer.
pub(super) struct SnapshotJob {
    thread: JoinHandle<io::Result<()>>,
    /// The segment replay starts from once this snapshot is in place.
    first_segment: u64,
}

impl SnapshotJob {
    fn spawn(dir: PathBuf, encoded: Vec<u8>, first_segment: u64) -> io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("keelson-store-snapshot".into())
            .spawn(move || snapshot::write(&dir, &encoded))?;
        Ok(Self {
            thread,
            first_segment,
        })
    }
}
