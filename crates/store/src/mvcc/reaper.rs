//! The lease expiry task. Owned by a store: started on first need, aborted when the store is
//! dropped. It holds only a weak reference to the store's state, so it never keeps a dropped
//! store alive.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::{Engine, Journal, Shared};
use crate::StoreError;

const SCAN_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub(crate) struct LeaseReaper {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl LeaseReaper {
    /// Start the expiry task if it is not running yet. Must be called within a tokio runtime.
    pub fn ensure_started(&self, engine: &Engine) {
        let mut task = self.task.lock();
        if task.is_some() {
            return;
        }
        let shared = Arc::downgrade(&engine.shared);
        let journal = engine.journal.clone();
        *task = Some(tokio::spawn(expire_leases(shared, journal)));
    }
}

impl Drop for LeaseReaper {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

async fn expire_leases(shared: Weak<Shared>, journal: Arc<dyn Journal>) {
    let mut ticker = tokio::time::interval(SCAN_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let engine = Engine {
            shared,
            journal: journal.clone(),
        };
        let expired = engine.shared.state.lock().leases.expired(Instant::now());
        for lease in expired {
            match engine.lease_revoke(lease).await {
                Ok(()) | Err(StoreError::LeaseNotFound(_)) => {}
                Err(StoreError::Closed) => return,
                Err(err) => tracing::warn!(lease, error = %err, "revoking an expired lease failed"),
            }
        }
    }
}
