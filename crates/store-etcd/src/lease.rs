//! Leases: grant, one keep-alive, revoke.

use keelson_store::{LeaseId, StoreError};

use crate::EtcdStore;
use crate::error::Facts;

impl EtcdStore {
    pub(crate) async fn grant_lease(&self, ttl_seconds: i64) -> Result<LeaseId, StoreError> {
        let result = self.lease_client().grant(ttl_seconds, None).await;
        let response = self.checked(result, Facts::default()).await?;
        if !response.error().is_empty() {
            return Err(StoreError::Backend(format!(
                "etcd refused the lease: {}",
                response.error()
            )));
        }
        Ok(response.id())
    }

    /// One refresh over a short-lived keep-alive stream. etcd-client's `keep_alive` sends the
    /// first request and checks its response (failing if the lease is gone) but keeps that
    /// response's TTL to itself, so a second request on the same stream reads the TTL.
    pub(crate) async fn keep_lease_alive(&self, lease: LeaseId) -> Result<i64, StoreError> {
        let facts = Facts::lease(lease);
        let result = self.lease_client().keep_alive(lease).await;
        let (mut keeper, mut responses) = self.checked(result, facts).await?;
        self.checked(keeper.keep_alive().await, facts).await?;
        let response = self.checked(responses.message().await, facts).await?;
        match response {
            Some(response) if response.ttl() > 0 => Ok(response.ttl()),
            // It expired between the two requests.
            Some(_) => Err(StoreError::LeaseNotFound(lease)),
            None => Err(StoreError::Backend(
                "etcd closed the lease keep-alive stream".into(),
            )),
        }
    }

    pub(crate) async fn revoke_lease(&self, lease: LeaseId) -> Result<(), StoreError> {
        let result = self.lease_client().revoke(lease).await;
        self.checked(result, Facts::lease(lease)).await?;
        Ok(())
    }
}
