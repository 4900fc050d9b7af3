//! Reads and conditional writes: each is one etcd `Range`, `DeleteRange` or `Txn` request.

use bytes::Bytes;
use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
    TxnResponse,
};
use keelson_store::{KeyValue, LeaseId, RangeRequest, RangeResponse, Revision, StoreError};

use crate::EtcdStore;
use crate::convert::{header_revision, key_value, owned_key_value};
use crate::error::Facts;

impl EtcdStore {
    /// Txn: if the key has never been created (or was deleted), put it; otherwise read it.
    pub(crate) async fn create_key(
        &self,
        key: &str,
        value: Bytes,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        let raw = self.ns.key(key);
        let facts = Facts::write(raw.len() + value.len(), lease);
        let txn = Txn::new()
            .when([Compare::create_revision(raw.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                raw.clone(),
                value.clone(),
                Some(put_options(lease)),
            )])
            .or_else([TxnOp::get(raw, None)]);
        let response = self.checked(self.kv_client().txn(txn).await, facts).await?;
        let revision = header_revision(response.header())?;
        if !response.succeeded() {
            let current = self.read_back(&response)?.ok_or_else(|| vanished(key))?;
            return Err(StoreError::AlreadyExists {
                current: Box::new(current),
            });
        }
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
            lease: lease.unwrap_or(0),
        })
    }

    /// Txn: if the key exists at `expected` put it (returning the previous version, for its
    /// create revision and version); otherwise read it to tell absent from conflicting.
    pub(crate) async fn update_key(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        lease: Option<LeaseId>,
    ) -> Result<KeyValue, StoreError> {
        let raw = self.ns.key(key);
        let facts = Facts::write(raw.len() + value.len(), lease);
        let txn = Txn::new()
            .when(exists_at(&raw, expected))
            .and_then([TxnOp::put(
                raw.clone(),
                value.clone(),
                Some(put_options(lease).with_prev_key()),
            )])
            .or_else([TxnOp::get(raw, None)]);
        let response = self.checked(self.kv_client().txn(txn).await, facts).await?;
        let revision = header_revision(response.header())?;
        if !response.succeeded() {
            return Err(self.refusal(&response, expected)?);
        }
        let previous = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Put(put) => put.prev_key().cloned(),
            _ => None,
        });
        let previous = previous.ok_or_else(|| vanished(key))?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: previous.create_revision(),
            mod_revision: revision,
            version: previous.version() + 1,
            lease: lease.unwrap_or(0),
        })
    }

    /// A plain delete, or a Txn comparing `mod_revision` first; both return the deleted version.
    pub(crate) async fn delete_key(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<(KeyValue, Revision), StoreError> {
        let raw = self.ns.key(key);
        let delete_options = DeleteOptions::new().with_prev_key();
        let (revision, deleted) = match expected {
            None => {
                let mut response = self
                    .checked(
                        self.kv_client().delete(raw, Some(delete_options)).await,
                        Facts::default(),
                    )
                    .await?;
                (
                    header_revision(response.header())?,
                    response.take_prev_kvs().into_iter().next(),
                )
            }
            Some(expected) => {
                let txn = Txn::new()
                    .when(exists_at(&raw, expected))
                    .and_then([TxnOp::delete(raw.clone(), Some(delete_options))])
                    .or_else([TxnOp::get(raw, None)]);
                let response = self
                    .checked(self.kv_client().txn(txn).await, Facts::default())
                    .await?;
                if !response.succeeded() {
                    return Err(self.refusal(&response, expected)?);
                }
                let deleted = response.op_responses().into_iter().find_map(|op| match op {
                    TxnOpResponse::Delete(mut delete) => delete.take_prev_kvs().into_iter().next(),
                    _ => None,
                });
                (header_revision(response.header())?, deleted)
            }
        };
        // Deleting an absent key changes nothing in etcd (no revision) and returns no previous
        // version; with a `mod_revision` compare it cannot get this far.
        let deleted = deleted.ok_or(StoreError::NotFound)?;
        Ok((owned_key_value(&self.ns, deleted)?, revision))
    }

    pub(crate) async fn get_key(
        &self,
        key: &str,
        revision: Option<Revision>,
    ) -> Result<(Option<KeyValue>, Revision), StoreError> {
        let mut options = GetOptions::new();
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let result = self.kv_client().get(self.ns.key(key), Some(options)).await;
        let mut response = self.checked(result, Facts::read_at(revision)).await?;
        let served_at = served_at(revision, header_revision(response.header())?);
        let kv = response
            .take_kvs()
            .into_iter()
            .next()
            .map(|kv| owned_key_value(&self.ns, kv))
            .transpose()?;
        Ok((kv, served_at))
    }

    pub(crate) async fn range_keys(
        &self,
        request: RangeRequest,
    ) -> Result<RangeResponse, StoreError> {
        let (key, options) = self.range_options(&request);
        let result = self.kv_client().get(key, Some(options)).await;
        let mut response = self
            .checked(result, Facts::read_at(request.revision))
            .await?;
        let revision = served_at(request.revision, header_revision(response.header())?);
        let (more, count) = (response.more(), response.count());
        let kvs = response
            .take_kvs()
            .into_iter()
            .map(|kv| owned_key_value(&self.ns, kv))
            .collect::<Result<Vec<_>, _>>()?;
        let count = usize::try_from(count)
            .map_err(|_| StoreError::Backend(format!("etcd returned count {count}")))?;
        Ok(RangeResponse {
            kvs,
            more,
            count,
            revision,
        })
    }

    fn range_options(&self, request: &RangeRequest) -> (Vec<u8>, GetOptions) {
        let mut options = GetOptions::new();
        let key = if request.prefix {
            let (key, end) = self.ns.prefix_range(&request.start);
            options = options.with_range(end);
            key
        } else {
            if let Some(end) = &request.end {
                options = options.with_range(self.ns.key(end));
            }
            self.ns.key(&request.start)
        };
        if let Some(limit) = request.limit.filter(|&limit| limit > 0) {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(revision) = request.revision {
            options = options.with_revision(revision);
        }
        if request.keys_only {
            options = options.with_keys_only();
        }
        (key, options)
    }

    pub(crate) async fn compact_to(&self, revision: Revision) -> Result<(), StoreError> {
        let result = self.kv_client().compact(revision, None).await;
        self.checked(result, Facts::read_at(Some(revision))).await?;
        Ok(())
    }

    /// The revision etcd serves reads at now (or `revision`, which fails if compacted or in
    /// the future), from a count-only read of one key. Returns the raw etcd error so the
    /// error mapping itself can use it.
    pub(crate) async fn probe_revision(
        &self,
        revision: Option<Revision>,
    ) -> Result<Revision, etcd_client::Error> {
        let mut options = GetOptions::new().with_count_only();
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self
            .kv_client()
            .get(self.ns.probe_key(), Some(options))
            .await?;
        response
            .header()
            .map(|header| header.revision())
            .ok_or_else(|| etcd_client::Error::Internal("etcd response without a header".into()))
    }

    /// The value a failed compare-and-swap read back.
    fn read_back(&self, response: &TxnResponse) -> Result<Option<KeyValue>, StoreError> {
        let current = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().cloned(),
            _ => None,
        });
        current.map(|kv| key_value(&self.ns, &kv)).transpose()
    }

    /// Why a compare on `mod_revision == expected` failed: the key is absent, or has moved on.
    fn refusal(
        &self,
        response: &TxnResponse,
        expected: Revision,
    ) -> Result<StoreError, StoreError> {
        Ok(match self.read_back(response)? {
            None => StoreError::NotFound,
            Some(current) => StoreError::Conflict {
                expected,
                current: Box::new(current),
            },
        })
    }
}

/// Compares that hold when `key` exists with `mod_revision == expected`. etcd compares an
/// absent key as if all its revisions were 0, so the version compare keeps `expected = 0`
/// from matching (and, for an update, creating) an absent key.
fn exists_at(key: &[u8], expected: Revision) -> [Compare; 2] {
    [
        Compare::mod_revision(key.to_vec(), CompareOp::Equal, expected),
        Compare::version(key.to_vec(), CompareOp::Greater, 0),
    ]
}

fn put_options(lease: Option<LeaseId>) -> PutOptions {
    match lease {
        Some(lease) => PutOptions::new().with_lease(lease),
        None => PutOptions::new(),
    }
}

/// A read at an explicit revision is served at that revision; etcd's header carries the
/// current one.
fn served_at(requested: Option<Revision>, header: Revision) -> Revision {
    requested.filter(|&revision| revision > 0).unwrap_or(header)
}

/// A transaction's compare and its read-back disagreed, which etcd's atomic Txn rules out.
fn vanished(key: &str) -> StoreError {
    StoreError::Backend(format!("etcd transaction on {key:?} returned no key-value"))
}
