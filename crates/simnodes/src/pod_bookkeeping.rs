//! Per-pod timers and the counters the pod loop logs instead of a line per pod.

use std::collections::HashMap;
use std::time::Duration;

use tokio_util::time::{DelayQueue, delay_queue};

use crate::pod_writes::PodKey;

#[derive(Default)]
pub struct Timers {
    pub queue: DelayQueue<PodKey>,
    keys: HashMap<PodKey, delay_queue::Key>,
}

impl Timers {
    pub fn schedule(&mut self, key: PodKey, after: Duration) {
        self.cancel(&key);
        let handle = self.queue.insert(key.clone(), after);
        self.keys.insert(key, handle);
    }

    /// Forget the handle of a timer that fired.
    pub fn fired(&mut self, key: &PodKey) {
        self.keys.remove(key);
    }

    pub fn cancel(&mut self, key: &PodKey) {
        if let Some(handle) = self.keys.remove(key) {
            self.queue.remove(&handle);
        }
    }
}

#[derive(Default)]
pub struct Stats {
    pub status_writes: u64,
    pub deleted: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub no_address: u64,
}

impl Stats {
    pub fn report(&mut self, pods: usize, pending: usize, in_flight: usize) {
        let s = self;
        if s.status_writes + s.deleted + s.failures + s.no_address == 0 {
            return;
        }
        tracing::info!(
            pods,
            status_writes = s.status_writes,
            deletes = s.deleted,
            pending,
            in_flight,
            "simulated pods"
        );
        if let Some(err) = s.last_error.take() {
            tracing::warn!(failures = s.failures, last = %err, "pod writes failed; retrying");
        }
        if s.no_address > 0 {
            tracing::warn!(
                pods = s.no_address,
                "pods waiting for a free address on their node"
            );
        }
        *s = Stats::default();
    }
}
