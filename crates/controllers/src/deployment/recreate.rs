//! The Recreate strategy (upstream's recreate.go): scale every old ReplicaSet to zero, wait
//! until none of their pods runs, then create and scale up the new ReplicaSet.

use super::sync::Rollout;
use super::util;
use crate::ControllerError;

impl Rollout<'_> {
    pub async fn rollout_recreate(
        &mut self,
    ) -> Result<Option<std::time::Duration>, ControllerError> {
        let mut new = self.sync_revision(false).await?;
        let (_, old) = self.new_and_old();
        let mut scaled_down = false;
        for &i in &old {
            if util::rs_replicas(&self.sets[i]) > 0 {
                scaled_down |= self.scale_rs_and_record(i, 0).await?;
            }
        }
        if scaled_down || self.old_pods_running(new, &old) {
            return self.sync_rollout_status(new, &old).await;
        }
        if new.is_none() {
            new = self.sync_revision(true).await?;
        }
        let (_, old) = self.new_and_old();
        if let Some(n) = new {
            self.scale_rs_and_record(n, util::replicas(&self.d)).await?;
        }
        if super::progress::complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(new, &old).await
    }

    /// Whether an old ReplicaSet still has pods that are not finished (terminating ones
    /// included), as upstream's oldPodsRunning.
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if old
            .iter()
            .any(|i| util::rs_status_replicas(&self.sets[*i]) > 0)
        {
            return true;
        }
        let new_uid = new.and_then(|n| self.sets[n].metadata.uid.clone());
        old.iter().any(|i| {
            let uid = self.sets[*i].metadata.uid.clone().unwrap_or_default();
            Some(&uid) != new_uid.as_ref()
                && self.context.pods.owned_by(&uid).iter().any(|p| {
                    !matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    )
                })
        })
    }
}
