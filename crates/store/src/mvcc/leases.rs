//! The lease table: TTLs, deadlines and the keys attached to each lease.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::LeaseId;

#[derive(Debug)]
pub(crate) struct Lease {
    pub ttl: i64,
    pub deadline: Instant,
    /// Keys whose current version carries this lease.
    pub keys: BTreeSet<String>,
}

#[derive(Debug)]
pub(crate) struct LeaseTable {
    pub leases: HashMap<LeaseId, Lease>,
    /// Next id to hand out; kept above every id ever seen so ids are not reused.
    pub next_id: LeaseId,
}

impl Default for LeaseTable {
    fn default() -> Self {
        Self {
            leases: HashMap::new(),
            next_id: 1,
        }
    }
}

fn ttl_duration(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

impl LeaseTable {
    pub fn allocate_id(&mut self) -> LeaseId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Insert (or, on log replay, re-insert) a lease; its TTL starts now.
    pub fn grant(&mut self, id: LeaseId, ttl: i64) {
        self.next_id = self.next_id.max(id + 1);
        let keys = self.leases.remove(&id).map(|l| l.keys).unwrap_or_default();
        self.leases.insert(
            id,
            Lease {
                ttl,
                deadline: Instant::now() + ttl_duration(ttl),
                keys,
            },
        );
    }

    pub fn keep_alive(&mut self, id: LeaseId) -> Option<i64> {
        let lease = self.leases.get_mut(&id)?;
        lease.deadline = Instant::now() + ttl_duration(lease.ttl);
        Some(lease.ttl)
    }

    pub fn contains(&self, id: LeaseId) -> bool {
        self.leases.contains_key(&id)
    }

    pub fn attach(&mut self, id: LeaseId, key: &str) {
        if let Some(lease) = self.leases.get_mut(&id) {
            lease.keys.insert(key.to_owned());
        }
    }

    pub fn detach(&mut self, id: LeaseId, key: &str) {
        if let Some(lease) = self.leases.get_mut(&id) {
            lease.keys.remove(key);
        }
    }

    pub fn expired(&self, now: Instant) -> Vec<LeaseId> {
        self.leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}
