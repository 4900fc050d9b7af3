use crate::{KeyValue, Revision};

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key already exists")]
    AlreadyExists { current: Box<KeyValue> },
    #[error("key not found")]
    NotFound,
    #[error("revision conflict: expected {expected}, found {}", current.mod_revision)]
    Conflict {
        expected: Revision,
        current: Box<KeyValue>,
    },
    #[error("required revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("lease {0} not found")]
    LeaseNotFound(i64),
    #[error("request too large: {size} bytes, limit {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("watcher fell too far behind and was cancelled")]
    WatchLagged,
    #[error("store is closed")]
    Closed,
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("backend error: {0}")]
    Backend(String),
}
