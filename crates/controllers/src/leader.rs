//! Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
//! acquire when the lease is free or expired, renew well before it expires, and treat a failed
//! renewal past the deadline as lost leadership.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const LEASE_DURATION: Duration = Duration::from_secs(15);
const RENEW_INTERVAL: Duration = Duration::from_secs(2);
const RETRY_INTERVAL: Duration = Duration::from_secs(2);

pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
}

/// Held while leading; `lost` is cancelled when renewal fails past the lease duration.
pub struct Leadership {
    pub lost: CancellationToken,
    renewer: tokio::task::JoinHandle<()>,
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl Leadership {
    /// Stop renewing and hand the lease back so another instance can take over at once.
    pub async fn release(self) {
        self.renewer.abort();
        if let Ok(mut lease) = self.api.get(&self.name).await
            && lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(self.identity.as_str())
        {
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = None;
            }
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }
}

impl LeaderElector {
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: String) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity,
        }
    }

    /// Wait until this instance holds the lease (or `shutdown`).
    pub async fn acquire(&self, shutdown: &CancellationToken) -> Option<Leadership> {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    let lost = CancellationToken::new();
                    let renewer = tokio::spawn(renew_loop(
                        LeaderElector {
                            api: self.api.clone(),
                            name: self.name.clone(),
                            identity: self.identity.clone(),
                        },
                        lost.clone(),
                    ));
                    return Some(Leadership {
                        lost,
                        renewer,
                        api: self.api.clone(),
                        name: self.name.clone(),
                        identity: self.identity.clone(),
                    });
                }
                Ok(false) => {}
                Err(err) => tracing::debug!(%err, "leader election attempt failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(RETRY_INTERVAL) => {}
            }
        }
    }

    /// One compare-and-swap round on the lease; true if we hold it afterwards.
    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": self.name},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_DURATION.as_secs(),
                         "acquireTime": MicroTime(now), "renewTime": MicroTime(now), "leaseTransitions": 0},
            }))
            .expect("lease literal is valid");
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let duration = i64::from(
            spec.lease_duration_seconds
                .unwrap_or(LEASE_DURATION.as_secs() as i32),
        );
        let expired = spec
            .renew_time
            .as_ref()
            .is_none_or(|t| t.0 + SignedDuration::from_secs(duration) < now);
        if holder != self.identity && !holder.is_empty() && !expired {
            return Ok(false);
        }
        if holder != self.identity {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion carried by `lease` makes this a compare-and-swap.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }
}

async fn renew_loop(elector: LeaderElector, lost: CancellationToken) {
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(RENEW_INTERVAL).await;
        match elector.try_acquire_or_renew().await {
            Ok(true) => last_renewal = tokio::time::Instant::now(),
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(err) => {
                tracing::warn!(%err, "renewing the leader lease failed");
                if last_renewal.elapsed() > LEASE_DURATION - RENEW_INTERVAL {
                    lost.cancel();
                    return;
                }
            }
        }
    }
}
