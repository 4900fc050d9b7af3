//! Typed reads and compare-and-swap writes of IAM's records.

use bytes::Bytes;
use keelson_store::{RangeRequest, Revision, Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{IamError, Result};

/// How often a read-modify-write is retried when another writer got there first.
const CAS_ATTEMPTS: usize = 16;

fn decode<T: DeserializeOwned>(key: &str, value: &[u8]) -> Result<T> {
    serde_json::from_slice(value).map_err(|source| IamError::Corrupt {
        key: key.to_string(),
        source,
    })
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("IAM records serialise"))
}

pub async fn get<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<(T, Revision)>> {
    let (kv, _) = store.get(key, None).await?;
    kv.map(|kv| Ok((decode(key, &kv.value)?, kv.mod_revision)))
        .transpose()
}

/// Creates `key`; `Ok(None)` when it already exists.
pub async fn create<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    lease: Option<i64>,
) -> Result<Option<Revision>> {
    match store.create(key, encode(value), lease).await {
        Ok(kv) => Ok(Some(kv.mod_revision)),
        Err(StoreError::AlreadyExists { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads `key`, applies `change` and writes it back if nobody wrote in between, retrying
/// otherwise. `missing` is the error when the key does not exist.
pub async fn modify<T, F>(
    store: &dyn Store,
    key: &str,
    missing: impl Fn() -> IamError,
    mut change: F,
) -> Result<(T, Revision)>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(&mut T) -> Result<()>,
{
    for _ in 0..CAS_ATTEMPTS {
        let Some((mut value, revision)) = get::<T>(store, key).await? else {
            return Err(missing());
        };
        change(&mut value)?;
        match store.update(key, encode(&value), revision, None).await {
            Ok(kv) => return Ok((value, kv.mod_revision)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound) => return Err(missing()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(IamError::Contended)
}

/// Deletes `key` if it is still at `revision`; `Ok(false)` when it changed or vanished.
pub async fn delete_at(
    store: &dyn Store,
    key: &str,
    revision: Revision,
) -> Result<Option<Revision>> {
    match store.delete(key, Some(revision)).await {
        Ok((_, deleted_at)) => Ok(Some(deleted_at)),
        Err(StoreError::Conflict { .. } | StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn list<T: DeserializeOwned>(store: &dyn Store, prefix: &str) -> Result<Vec<T>> {
    let response = store.range(RangeRequest::prefix(prefix)).await?;
    response
        .kvs
        .iter()
        .map(|kv| decode(&kv.key, &kv.value))
        .collect()
}
