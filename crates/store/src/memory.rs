//! The in-memory backend: the MVCC core with a journal that commits immediately. For tests and
//! for callers that do not need durability.

use std::sync::Arc;

use crate::mvcc::{
    DEFAULT_WATCH_BUFFER, Engine, ImmediateJournal, LeaseReaper, Shared, State,
    delegate_store_to_engine,
};

/// An in-memory [`crate::Store`]. Cheap to create; everything is lost when it is dropped.
pub struct MemStore {
    engine: Engine,
    reaper: LeaseReaper,
}

impl MemStore {
    pub fn new() -> Self {
        Self::with_watch_buffer(DEFAULT_WATCH_BUFFER)
    }

    /// A store whose watchers are cancelled with [`crate::StoreError::WatchLagged`] once they
    /// fall `watch_buffer` events behind.
    pub fn with_watch_buffer(watch_buffer: usize) -> Self {
        let engine = Engine {
            shared: Shared::new(State::default(), watch_buffer),
            journal: Arc::new(ImmediateJournal),
        };
        Self {
            engine,
            reaper: LeaseReaper::default(),
        }
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

delegate_store_to_engine!(MemStore);
