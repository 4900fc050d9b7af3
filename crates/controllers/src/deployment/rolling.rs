//! The RollingUpdate strategy (upstream's rolling.go): scale the new ReplicaSet up within
//! maxSurge, then scale old ones down within maxUnavailable, first their unhealthy pods.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::sync::Rollout;
use super::util::{self, rs_available, rs_replicas};
use crate::ControllerError;

/// Upstream's NewRSNewReplicas for RollingUpdate: how big the new ReplicaSet may be now.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let desired = util::replicas(d);
    if util::is_recreate(d) {
        return desired;
    }
    let surge = util::max_surge(d);
    // Upstream sums spec.replicas only, so pods an old ReplicaSet was just told to drop, but
    // has not deleted yet, briefly push the total past maxSurge. Counting what each
    // ReplicaSet still runs (status.replicas, while larger) keeps the bound at every moment.
    let current: i32 = all
        .iter()
        .map(|rs| rs_replicas(rs).max(util::rs_running(rs)))
        .sum();
    let max_total = desired + surge;
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let scale_up = (max_total - current).min(desired - rs_replicas(new_rs));
    rs_replicas(new_rs) + scale_up
}

impl Rollout<'_> {
    pub async fn rollout_rolling(
        &mut self,
    ) -> Result<Option<std::time::Duration>, ControllerError> {
        let new = self.sync_revision(true).await?;
        let (_, old) = self.new_and_old();
        let Some(n) = new else {
            return self.sync_rollout_status(None, &old).await;
        };
        if self.reconcile_new(n, &old).await? {
            return self.sync_rollout_status(Some(n), &old).await;
        }
        if self.reconcile_old(n, &old).await? {
            return self.sync_rollout_status(Some(n), &old).await;
        }
        if super::progress::complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(Some(n), &old).await
    }

    async fn reconcile_new(&mut self, n: usize, old: &[usize]) -> Result<bool, ControllerError> {
        let desired = util::replicas(&self.d);
        let current = rs_replicas(&self.sets[n]);
        if current == desired {
            return Ok(false);
        }
        if current > desired {
            return self.scale_rs_and_record(n, desired).await;
        }
        let target = {
            let all = self.all(Some(n), old);
            new_rs_new_replicas(&self.d, &all, &self.sets[n])
        };
        self.scale_rs_and_record(n, target).await
    }

    async fn reconcile_old(&mut self, n: usize, old: &[usize]) -> Result<bool, ControllerError> {
        let old_pods: i32 = old.iter().map(|i| rs_replicas(&self.sets[*i])).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods: i32 = old_pods + rs_replicas(&self.sets[n]);
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let new_unavailable = rs_replicas(&self.sets[n]) - rs_available(&self.sets[n]);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let cleaned = self.cleanup_unhealthy(old, max_scaled_down).await?;
        let scaled = self.scale_down_old(n, old, min_available).await?;
        Ok(cleaned + scaled > 0)
    }

    /// Scale down old ReplicaSets' unavailable replicas first (they cost no availability).
    async fn cleanup_unhealthy(
        &mut self,
        old: &[usize],
        max_cleanup: i32,
    ) -> Result<i32, ControllerError> {
        let mut order = old.to_vec();
        order.sort_by(|a, b| util::by_creation(&self.sets[*a], &self.sets[*b]));
        let mut total = 0;
        for i in order {
            if total >= max_cleanup {
                break;
            }
            let replicas = rs_replicas(&self.sets[i]);
            let available = rs_available(&self.sets[i]);
            if replicas == 0 || replicas == available {
                continue;
            }
            let count = (max_cleanup - total).min(replicas - available);
            self.scale_rs_and_record(i, replicas - count).await?;
            total += count;
        }
        Ok(total)
    }

    /// Scale down old ReplicaSets while more than minAvailable pods are available.
    async fn scale_down_old(
        &mut self,
        n: usize,
        old: &[usize],
        min_available: i32,
    ) -> Result<i32, ControllerError> {
        let available: i32 = self
            .all(Some(n), old)
            .iter()
            .map(|rs| rs_available(rs))
            .sum();
        if available <= min_available {
            return Ok(0);
        }
        let budget = available - min_available;
        let mut order = old.to_vec();
        order.sort_by(|a, b| util::by_creation(&self.sets[*a], &self.sets[*b]));
        let mut total = 0;
        for i in order {
            if total >= budget {
                break;
            }
            let replicas = rs_replicas(&self.sets[i]);
            if replicas == 0 {
                continue;
            }
            let count = replicas.min(budget - total);
            self.scale_rs_and_record(i, replicas - count).await?;
            total += count;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replica_set(spec: i32, running: i32) -> ReplicaSet {
        serde_json::from_value(json!({"spec": {"replicas": spec, "selector": {}},
                                      "status": {"replicas": running}}))
        .unwrap()
    }

    #[test]
    fn pods_an_old_set_still_runs_count_against_max_surge() {
        let d: Deployment = serde_json::from_value(json!({"spec": {"replicas": 1000,
            "selector": {}, "template": {},
            "strategy": {"rollingUpdate": {"maxSurge": 50, "maxUnavailable": 50}}}}))
        .unwrap();
        let new = replica_set(50, 50);
        // The old set was told to drop to 950 but still runs 1000 pods: no room yet.
        let old = replica_set(950, 1000);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 50);
        // Once it runs 950, the new set may grow by 50.
        let old = replica_set(950, 950);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 100);
    }
}
