//! The boilerplate `Store` implementation of a backend that is an [`super::Engine`] plus a
//! [`super::LeaseReaper`].

/// Implement [`crate::Store`] for a backend struct with `engine: Engine` and
/// `reaper: LeaseReaper` fields by delegating to the engine.
macro_rules! delegate_store_to_engine {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $backend {
            async fn create(
                &self,
                key: &str,
                value: bytes::Bytes,
                lease: Option<$crate::LeaseId>,
            ) -> Result<$crate::KeyValue, $crate::StoreError> {
                self.engine.create(key, value, lease).await
            }

            async fn update(
                &self,
                key: &str,
                value: bytes::Bytes,
                expected_mod_revision: $crate::Revision,
                lease: Option<$crate::LeaseId>,
            ) -> Result<$crate::KeyValue, $crate::StoreError> {
                self.engine
                    .update(key, value, expected_mod_revision, lease)
                    .await
            }

            async fn delete(
                &self,
                key: &str,
                expected_mod_revision: Option<$crate::Revision>,
            ) -> Result<($crate::KeyValue, $crate::Revision), $crate::StoreError> {
                self.engine.delete(key, expected_mod_revision).await
            }

            async fn get(
                &self,
                key: &str,
                revision: Option<$crate::Revision>,
            ) -> Result<(Option<$crate::KeyValue>, $crate::Revision), $crate::StoreError> {
                self.engine.get(key, revision)
            }

            async fn range(
                &self,
                request: $crate::RangeRequest,
            ) -> Result<$crate::RangeResponse, $crate::StoreError> {
                self.engine.range(&request)
            }

            async fn watch(
                &self,
                prefix: &str,
                after_revision: $crate::Revision,
            ) -> Result<$crate::WatchStream, $crate::StoreError> {
                self.engine.watch(prefix, after_revision)
            }

            async fn current_revision(&self) -> Result<$crate::Revision, $crate::StoreError> {
                Ok(self.engine.current_revision())
            }

            async fn compact(&self, revision: $crate::Revision) -> Result<(), $crate::StoreError> {
                self.engine.compact(revision).await
            }

            async fn lease_grant(
                &self,
                ttl_seconds: i64,
            ) -> Result<$crate::LeaseId, $crate::StoreError> {
                self.reaper.ensure_started(&self.engine);
                self.engine.lease_grant(ttl_seconds).await
            }

            async fn lease_keep_alive(
                &self,
                lease: $crate::LeaseId,
            ) -> Result<i64, $crate::StoreError> {
                self.engine.lease_keep_alive(lease)
            }

            async fn lease_revoke(&self, lease: $crate::LeaseId) -> Result<(), $crate::StoreError> {
                self.engine.lease_revoke(lease).await
            }
        }
    };
}
pub(crate) use delegate_store_to_engine;
