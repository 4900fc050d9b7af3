//! Scaling outside a rollout step (upstream's scale, for paused deployments and scaling
//! events: proportional across active ReplicaSets) and history cleanup
//! (revisionHistoryLimit).

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{DeleteParams, Preconditions};

use super::sync::{NameOrDefault, Rollout, active};
use super::util;
use crate::ControllerError;

impl Rollout<'_> {
    /// Upstream's scale: a deployment resized mid-rollout (or paused) spreads the change over
    /// its active ReplicaSets in proportion to their sizes.
    pub async fn scale(
        &mut self,
        new: Option<usize>,
        old: &[usize],
    ) -> Result<(), ControllerError> {
        let desired = util::replicas(&self.d);
        if let Some(i) = self.active_or_latest(new, old) {
            if util::rs_replicas(&self.sets[i]) != desired {
                self.scale_rs_and_record(i, desired).await?;
            }
            return Ok(());
        }
        if let Some(n) = new
            && self.saturated(n)
        {
            for &i in old {
                if active(&self.sets[i]) {
                    self.scale_rs_and_record(i, 0).await?;
                }
            }
            return Ok(());
        }
        if util::is_recreate(&self.d) {
            return Ok(());
        }
        let mut actives: Vec<usize> = old
            .iter()
            .chain(new.iter())
            .copied()
            .filter(|i| active(&self.sets[*i]))
            .collect();
        let total: i32 = actives
            .iter()
            .map(|i| util::rs_replicas(&self.sets[*i]))
            .sum();
        let allowed = if desired > 0 {
            desired + util::max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - total;
        let operation = if to_add > 0 {
            actives.sort_by(|a, b| util::by_size_newer(&self.sets[*a], &self.sets[*b]));
            "up"
        } else {
            actives.sort_by(|a, b| util::by_size_older(&self.sets[*a], &self.sets[*b]));
            "down"
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(actives.len());
        for &i in &actives {
            let size = util::rs_replicas(&self.sets[i]);
            if to_add != 0 {
                let share = util::proportion(&self.sets[i], &self.d, to_add, added);
                sizes.push(size + share);
                added += share;
            } else {
                sizes.push(size);
            }
        }
        for (k, &i) in actives.iter().enumerate() {
            let mut size = sizes[k];
            if k == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale_rs(i, size, operation).await?;
        }
        Ok(())
    }

    fn saturated(&self, i: usize) -> bool {
        let rs = &self.sets[i];
        let desired = util::replicas(&self.d);
        util::desired_annotation(rs) == Some(desired)
            && util::rs_replicas(rs) == desired
            && util::rs_available(rs) == desired
    }

    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let actives: Vec<usize> = old
            .iter()
            .chain(new.iter())
            .copied()
            .filter(|i| active(&self.sets[*i]))
            .collect();
        match actives.len() {
            0 => new.or_else(|| {
                old.iter()
                    .copied()
                    .max_by(|a, b| util::by_creation(&self.sets[*a], &self.sets[*b]))
            }),
            1 => Some(actives[0]),
            _ => None,
        }
    }

    /// Upstream's cleanupDeployment: delete the oldest scaled-down ReplicaSets beyond
    /// revisionHistoryLimit.
    pub async fn cleanup(&mut self, old: &[usize]) -> Result<(), ControllerError> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .map(|i| &self.sets[*i])
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| util::by_revision(a, b));
        let doomed: Vec<(String, Option<String>)> = cleanable
            .into_iter()
            .take(excess as usize)
            .filter(|rs| {
                util::rs_status_replicas(rs) == 0
                    && util::rs_replicas(rs) == 0
                    && rs.metadata.generation
                        <= rs.status.as_ref().and_then(|s| s.observed_generation)
            })
            .map(|rs| (rs.name_or_default(), rs.metadata.uid.clone()))
            .collect();
        for (name, uid) in doomed {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match self.rs_api().delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}
