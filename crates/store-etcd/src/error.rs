//! The one place where etcd's errors become [`StoreError`]s.
//!
//! etcd reports most conditions as a gRPC status whose message is one of its fixed
//! `etcdserver: ...` strings, so they are recognised by message. Several of them leave out
//! facts the [`StoreError`] carries (the compaction point, the current revision, the lease);
//! [`EtcdStore::map_error`] looks those up or takes them from the caller's [`Facts`].

use keelson_store::{LeaseId, Revision, StoreError};

use crate::EtcdStore;

/// etcd's default `--max-request-bytes` (1.5 MiB), reported as the limit when etcd's own
/// "request is too large" message does not say which limit was hit.
const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// What went wrong, as far as the etcd error alone tells.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Compacted,
    FutureRevision,
    LeaseNotFound,
    /// `size` and `limit` are known when gRPC's message-size check (not etcd's) refused it.
    TooLarge {
        size: Option<usize>,
        limit: Option<usize>,
    },
    Backend(String),
}

/// Facts about the failed request that etcd's error messages leave out.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Facts {
    /// The revision the request read at (or, for `compact`, compacted to).
    pub(crate) revision: Option<Revision>,
    /// The lease the request named.
    pub(crate) lease: Option<LeaseId>,
    /// Bytes of key and value the request wrote.
    pub(crate) size: usize,
    /// etcd's compaction point, looked up after a `Compacted` failure.
    pub(crate) compacted: Option<Revision>,
    /// etcd's current revision, looked up after a `FutureRevision` failure.
    pub(crate) current: Option<Revision>,
}

impl Facts {
    pub(crate) fn read_at(revision: Option<Revision>) -> Self {
        Self {
            revision,
            ..Self::default()
        }
    }

    pub(crate) fn write(size: usize, lease: Option<LeaseId>) -> Self {
        Self {
            size,
            lease,
            ..Self::default()
        }
    }

    pub(crate) fn lease(lease: LeaseId) -> Self {
        Self {
            lease: Some(lease),
            ..Self::default()
        }
    }
}

/// Recognise an etcd client error.
pub(crate) fn classify(err: &etcd_client::Error) -> Failure {
    match err {
        etcd_client::Error::GRpcStatus(status) => classify_message(status.message())
            .unwrap_or_else(|| {
                Failure::Backend(format!("etcd: {:?}: {}", status.code(), status.message()))
            }),
        // etcd-client's own check of the first keep-alive response (TTL <= 0).
        etcd_client::Error::LeaseKeepAliveError(message) if message.contains("lease not found") => {
            Failure::LeaseNotFound
        }
        other => Failure::Backend(format!("etcd: {other}")),
    }
}

fn classify_message(message: &str) -> Option<Failure> {
    if message.contains("required revision has been compacted") {
        Some(Failure::Compacted)
    } else if message.contains("required revision is a future revision") {
        Some(Failure::FutureRevision)
    } else if message.contains("requested lease not found") {
        Some(Failure::LeaseNotFound)
    } else if message.contains("request is too large") {
        Some(Failure::TooLarge {
            size: None,
            limit: None,
        })
    } else if message.contains("larger than max") {
        // gRPC's size check: "grpc: received message larger than max (2097669 vs. 2097152)".
        let (size, limit) = parse_sizes(message).unzip();
        Some(Failure::TooLarge { size, limit })
    } else {
        None
    }
}

/// The `(N vs. M)` of gRPC's message-size error.
fn parse_sizes(message: &str) -> Option<(usize, usize)> {
    let inside = message.rsplit_once('(')?.1.split_once(')')?.0;
    let (size, limit) = inside.split_once(" vs. ")?;
    Some((size.trim().parse().ok()?, limit.trim().parse().ok()?))
}

/// The [`StoreError`] for an etcd error, given what is known about the request.
pub(crate) fn store_error(err: &etcd_client::Error, facts: &Facts) -> StoreError {
    match classify(err) {
        Failure::Compacted => {
            let requested = facts.revision.unwrap_or_default();
            // etcd only says "compacted"; the compaction point is above `requested`.
            let compacted = facts.compacted.unwrap_or(requested + 1);
            StoreError::Compacted {
                requested,
                compacted,
            }
        }
        Failure::FutureRevision => {
            let requested = facts.revision.unwrap_or_default();
            let current = facts.current.unwrap_or(requested - 1);
            StoreError::FutureRevision { requested, current }
        }
        Failure::LeaseNotFound => StoreError::LeaseNotFound(facts.lease.unwrap_or_default()),
        Failure::TooLarge { size, limit } => StoreError::TooLarge {
            size: size.unwrap_or(facts.size),
            limit: limit.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
        },
        Failure::Backend(message) => StoreError::Backend(message),
    }
}

impl EtcdStore {
    /// [`store_error`], after looking up the revisions the error message leaves out.
    pub(crate) async fn map_error(&self, err: etcd_client::Error, mut facts: Facts) -> StoreError {
        match classify(&err) {
            Failure::Compacted => {
                if let Some(requested) = facts.revision {
                    facts.compacted = self.compaction_point(requested).await;
                }
            }
            Failure::FutureRevision => facts.current = self.probe_revision(None).await.ok(),
            _ => {}
        }
        store_error(&err, &facts)
    }

    /// `result`, with an etcd error mapped by [`Self::map_error`].
    pub(crate) async fn checked<T>(
        &self,
        result: Result<T, etcd_client::Error>,
        facts: Facts,
    ) -> Result<T, StoreError> {
        match result {
            Ok(value) => Ok(value),
            Err(err) => Err(self.map_error(err, facts).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_messages_are_recognised() {
        let cases = [
            (
                "etcdserver: mvcc: required revision has been compacted",
                Failure::Compacted,
            ),
            (
                "etcdserver: mvcc: required revision is a future revision",
                Failure::FutureRevision,
            ),
            (
                "etcdserver: requested lease not found",
                Failure::LeaseNotFound,
            ),
            (
                "etcdserver: request is too large",
                Failure::TooLarge {
                    size: None,
                    limit: None,
                },
            ),
            (
                "grpc: received message larger than max (2097669 vs. 2097152)",
                Failure::TooLarge {
                    size: Some(2097669),
                    limit: Some(2097152),
                },
            ),
        ];
        for (message, failure) in cases {
            assert_eq!(classify_message(message), Some(failure), "{message}");
        }
        assert_eq!(classify_message("etcdserver: no leader"), None);
    }

    #[test]
    fn missing_facts_have_conservative_defaults() {
        let err = etcd_client::Error::LeaseKeepAliveError("lease not found".into());
        assert!(matches!(
            store_error(&err, &Facts::lease(7)),
            StoreError::LeaseNotFound(7)
        ));
    }
}
