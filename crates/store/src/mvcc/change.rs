//! The unit of durability: what one mutation changed, in a form both the watch hub (events) and
//! the embedded store's log (records) can consume.

use crate::{KeyValue, LeaseId, Revision, WatchEvent};

/// One state change. Replaying the changes of every committed batch in order rebuilds the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// `kv` becomes the current version of `kv.key` at `kv.mod_revision`.
    Put(KeyValue),
    /// `key` is deleted at `revision`.
    Delete {
        key: String,
        revision: Revision,
    },
    LeaseGrant {
        id: LeaseId,
        ttl: i64,
    },
    LeaseRevoke {
        id: LeaseId,
    },
    Compact {
        revision: Revision,
    },
}

/// Everything one store operation produced, handed to the journal while the state lock is held
/// so that batches reach the journal in revision order.
#[derive(Debug, Default)]
pub(crate) struct CommitBatch {
    pub changes: Vec<Change>,
    pub events: Vec<WatchEvent>,
    /// The store's head revision after this batch; readers see it once the batch is committed.
    pub head: Revision,
}
