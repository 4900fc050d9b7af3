//! Cluster documents in the store: `<prefix>clusters/<name>` holds a [`ClusterRecord`],
//! `<prefix>tokens/<name>/<operation>/<token>` the first response to an idempotent request.
//! Every write is conditional on the revision read, so several service instances on one store
//! never lose each other's changes.

use std::sync::Arc;

use bytes::Bytes;
use keelson_aws_core::AwsError;
use keelson_store::{RangeRequest, Revision, Store, StoreError};
use serde_json::Value;

use crate::error::{ApiResult, EksError, cluster_not_found};
use crate::model::ClusterRecord;

#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
    prefix: String,
}

impl Records {
    pub fn new(store: Arc<dyn Store>, prefix: &str) -> Records {
        Records {
            store,
            prefix: prefix.to_string(),
        }
    }

    fn cluster_key(&self, name: &str) -> String {
        format!("{}clusters/{name}", self.prefix)
    }

    fn token_prefix(&self, cluster: &str) -> String {
        format!("{}tokens/{cluster}/", self.prefix)
    }

    fn token_key(&self, cluster: &str, operation: &str, token: &str) -> String {
        let token: String =
            percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!("{}{operation}/{token}", self.token_prefix(cluster))
    }

    pub async fn get(&self, name: &str) -> Result<Option<(ClusterRecord, Revision)>, EksError> {
        let key = self.cluster_key(name);
        let (kv, _) = self.store.get(&key, None).await?;
        kv.map(|kv| Ok((parse(&key, &kv.value)?, kv.mod_revision)))
            .transpose()
    }

    /// The cluster, or ResourceNotFoundException.
    pub async fn require(&self, name: &str) -> ApiResult<ClusterRecord> {
        match self.get(name).await? {
            Some((record, _)) => Ok(record),
            None => Err(cluster_not_found(name)),
        }
    }

    /// Creates the document; `Ok(Err(existing))` when the name is taken.
    pub async fn create(
        &self,
        record: &ClusterRecord,
    ) -> Result<Result<(), ClusterRecord>, EksError> {
        let key = self.cluster_key(&record.name);
        match self.store.create(&key, encode(record), None).await {
            Ok(_) => Ok(Ok(())),
            Err(StoreError::AlreadyExists { current }) => Ok(Err(parse(&key, &current.value)?)),
            Err(error) => Err(error.into()),
        }
    }

    /// Applies `change` to the current document and writes it back if nobody wrote in between,
    /// retrying on conflict. `change` may refuse with an AWS error, which is returned as is.
    pub async fn mutate<T>(
        &self,
        name: &str,
        mut change: impl FnMut(&mut ClusterRecord) -> ApiResult<T>,
    ) -> ApiResult<(T, ClusterRecord)> {
        let key = self.cluster_key(name);
        loop {
            let Some((mut record, revision)) = self.get(name).await? else {
                return Err(cluster_not_found(name));
            };
            let result = change(&mut record)?;
            match self
                .store
                .update(&key, encode(&record), revision, None)
                .await
            {
                Ok(_) => return Ok((result, record)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(cluster_not_found(name)),
                Err(error) => return Err(AwsError::from(EksError::from(error))),
            }
        }
    }

    /// Removes the cluster's document and its remembered responses.
    pub async fn delete(&self, name: &str) -> Result<(), EksError> {
        let tokens = self
            .store
            .range(RangeRequest {
                keys_only: true,
                ..RangeRequest::prefix(self.token_prefix(name))
            })
            .await?;
        for kv in tokens.kvs {
            ignore_missing(self.store.delete(&kv.key, None).await)?;
        }
        ignore_missing(self.store.delete(&self.cluster_key(name), None).await)
    }

    /// Every cluster, in name order.
    pub async fn list(&self) -> Result<Vec<ClusterRecord>, EksError> {
        let response = self
            .store
            .range(RangeRequest::prefix(format!("{}clusters/", self.prefix)))
            .await?;
        response
            .kvs
            .iter()
            .map(|kv| parse(&kv.key, &kv.value))
            .collect()
    }

    /// The response first given to (`cluster`, `operation`, `token`), if any.
    pub async fn replay(
        &self,
        cluster: &str,
        operation: &str,
        token: Option<&str>,
    ) -> Result<Option<Value>, EksError> {
        let Some(token) = token else { return Ok(None) };
        let key = self.token_key(cluster, operation, token);
        let (kv, _) = self.store.get(&key, None).await?;
        kv.map(|kv| parse(&key, &kv.value)).transpose()
    }

    /// Remembers the first response to an idempotent request; a concurrent first wins.
    pub async fn remember(
        &self,
        cluster: &str,
        operation: &str,
        token: Option<&str>,
        response: &Value,
    ) -> Result<(), EksError> {
        let Some(token) = token else { return Ok(()) };
        let key = self.token_key(cluster, operation, token);
        match self.store.create(&key, encode(response), None).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

fn ignore_missing<T>(result: Result<T, StoreError>) -> Result<(), EksError> {
    match result {
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn encode(value: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("records serialise"))
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, EksError> {
    serde_json::from_slice(bytes).map_err(|source| EksError::Corrupt {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterStatus, NetworkConfig, VpcConfig};
    use keelson_aws_core::access::AuthenticationMode;

    fn record(name: &str) -> ClusterRecord {
        ClusterRecord {
            name: name.into(),
            id: "ID".into(),
            arn: format!("arn:aws:eks:r:1:cluster/{name}"),
            created_at: 1.5,
            version: "1.33".into(),
            target_version: None,
            platform_version: "eks.1".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            status: ClusterStatus::Creating,
            port: 1,
            ca_pem: None,
            vpc: VpcConfig {
                subnet_ids: vec![],
                security_group_ids: vec![],
                endpoint_public_access: true,
                endpoint_private_access: false,
                public_access_cidrs: vec![],
            },
            network: NetworkConfig {
                service_ipv4_cidr: "10.100.0.0/16".into(),
                ip_family: "ipv4".into(),
                elastic_load_balancing: false,
            },
            logging: vec![],
            bootstrap_creator_admin: true,
            authentication_mode: AuthenticationMode::Api,
            upgrade_support_type: None,
            tags: Default::default(),
            client_request_token: None,
            health_issues: vec![],
            access_entries: vec![],
            updates: vec![],
            nodegroups: vec![],
            next_node_index: 0,
        }
    }

    fn records() -> Records {
        Records::new(Arc::new(keelson_store::memory::MemStore::new()), "/eks/")
    }

    #[tokio::test]
    async fn the_first_response_to_a_token_is_the_one_replayed() {
        let records = records();
        let first = serde_json::json!({"n": 1});
        assert_eq!(records.replay("c", "Op", Some("t")).await.unwrap(), None);
        records
            .remember("c", "Op", Some("t"), &first)
            .await
            .unwrap();
        records
            .remember("c", "Op", Some("t"), &serde_json::json!({"n": 2}))
            .await
            .unwrap();
        assert_eq!(
            records.replay("c", "Op", Some("t")).await.unwrap(),
            Some(first)
        );
        assert_eq!(
            records.replay("c", "Op", Some("other")).await.unwrap(),
            None
        );
        assert_eq!(records.replay("c", "Other", Some("t")).await.unwrap(), None);
        // Without a token nothing is remembered or replayed.
        records
            .remember("c", "Op", None, &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(records.replay("c", "Op", None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn deleting_a_cluster_forgets_its_tokens_but_not_a_prefix_sibling() {
        let records = records();
        for name in ["c", "c2"] {
            assert!(records.create(&record(name)).await.unwrap().is_ok());
            records
                .remember(name, "Op", Some("t"), &serde_json::json!({}))
                .await
                .unwrap();
        }
        records.delete("c").await.unwrap();
        assert!(records.get("c").await.unwrap().is_none());
        assert_eq!(records.replay("c", "Op", Some("t")).await.unwrap(), None);
        assert!(
            records
                .replay("c2", "Op", Some("t"))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn concurrent_changes_are_all_kept() {
        let records = records();
        assert!(records.create(&record("c")).await.unwrap().is_ok());
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let records = records.clone();
                tokio::spawn(async move {
                    records
                        .mutate("c", |r| {
                            r.tags.insert(format!("k{i}"), "v".into());
                            Ok(())
                        })
                        .await
                        .unwrap();
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let (record, _) = records.get("c").await.unwrap().unwrap();
        assert_eq!(record.tags.len(), 8);
        let duplicate = records.create(&record).await.unwrap();
        assert!(duplicate.is_err(), "a second create finds the first");
        let missing = records.mutate("nope", |_| Ok(())).await.unwrap_err();
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn a_cluster_without_a_ca_yet_omits_endpoint_and_certificate() {
        let context = crate::model::RenderContext {
            issuer_base: "http://sts/",
        };
        let creating = record("c").render(&context);
        assert!(creating.get("endpoint").is_none());
        assert!(creating.get("certificateAuthority").is_none());
        assert!(creating.get("clientRequestToken").is_none());
        assert!(creating.get("upgradePolicy").is_none());
        assert_eq!(
            creating["identity"]["oidc"]["issuer"],
            "http://sts/oidc/id/ID"
        );
        let mut active = record("c");
        active.status = ClusterStatus::Active;
        active.ca_pem = Some("PEM".into());
        let rendered = active.render(&context);
        assert_eq!(rendered["endpoint"], "https://127.0.0.1:1");
        assert_eq!(rendered["certificateAuthority"]["data"], "UEVN");
        assert!(rendered["createdAt"].is_number());
    }
}
