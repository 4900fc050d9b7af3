//! The MVCC core shared by the in-memory and embedded backends: the versioned index, the watch
//! hub, the lease table and the write path. A backend is this core plus a [`Journal`] that
//! decides when a batch of changes is durable (at once in memory; after fsync on disk).

mod change;
mod delegate;
mod engine;
mod leases;
mod reaper;
mod state;
mod watch;

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{broadcast, oneshot};

pub(crate) use change::{Change, CommitBatch};
pub(crate) use delegate::delegate_store_to_engine;
pub(crate) use engine::Engine;
pub(crate) use reaper::LeaseReaper;
pub(crate) use state::State;

use crate::{StoreError, WatchEvent};

/// etcd's default request size limit; larger values are refused with `TooLarge`.
pub(crate) const MAX_ENTRY_BYTES: usize = 1536 * 1024;

/// Default number of events a watcher may fall behind before it is cancelled.
pub(crate) const DEFAULT_WATCH_BUFFER: usize = 16 * 1024;

/// State plus the broadcast hub. Publishing happens under the state lock, which is what lets a
/// new watcher join without gaps or duplicates.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    hub: broadcast::Sender<WatchEvent>,
}

impl Shared {
    pub fn new(state: State, watch_buffer: usize) -> Arc<Self> {
        let (hub, _) = broadcast::channel(watch_buffer.max(1));
        Arc::new(Self {
            state: Mutex::new(state),
            hub,
        })
    }

    /// Make a batch visible: advance the committed revision and wake the watchers. The caller
    /// holds the state lock and publishes batches in revision order.
    pub fn publish(&self, state: &mut State, batch: CommitBatch) {
        state.committed = state.committed.max(batch.head);
        for event in batch.events {
            // An error only means nobody is watching right now.
            let _ = self.hub.send(event);
        }
    }
}

/// Receives committed batches from the engine.
pub(crate) trait Journal: Send + Sync + 'static {
    /// Called with the state lock held, in revision order. Returns `None` if the batch is
    /// already published, or a receiver that resolves once it is durable and published.
    fn submit(
        &self,
        shared: &Shared,
        state: &mut State,
        batch: CommitBatch,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError>;
}

/// The in-memory journal: every batch is "durable" as soon as it is applied.
pub(crate) struct ImmediateJournal;

impl Journal for ImmediateJournal {
    fn submit(
        &self,
        shared: &Shared,
        state: &mut State,
        batch: CommitBatch,
    ) -> Result<Option<oneshot::Receiver<Result<(), StoreError>>>, StoreError> {
        shared.publish(state, batch);
        Ok(None)
    }
}
