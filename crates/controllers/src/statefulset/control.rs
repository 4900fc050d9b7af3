//! One sync of a StatefulSet, as upstream's defaultStatefulSetControl: create missing ordinals
//! (with their claims), repair identities, delete condemned ordinals from the highest down, then
//! roll pods onto the update revision from the highest ordinal down to the partition. With the
//! OrderedReady policy every step waits until all lower ordinals are Running and Ready.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::Context;
use super::health::{
    is_available, is_finished, is_running_and_ready, is_terminating, until_available,
};
use super::identity::{self, revision_of};
use super::revisions::Revisions;
use crate::ControllerError;
use crate::events::WARNING;
use crate::history;

/// What a sync did and when it wants to run again.
pub struct Outcome {
    pub status: StatefulSetStatus,
    /// Some step is waiting for a change we may not be told about (a deletion finishing, a
    /// pod becoming available after minReadySeconds).
    pub recheck: Option<Duration>,
}

pub(super) struct Plan<'a> {
    pub(super) set: &'a StatefulSet,
    revisions: &'a Revisions,
    current_template: PodTemplateSpec,
    start: i32,
    replicas: i32,
    partition: i32,
    rolling: bool,
    monotonic: bool,
    min_ready: i32,
    now: Timestamp,
}

impl Plan<'_> {
    /// The template and revision a missing ordinal is created from: below the partition (or,
    /// without one, below the current replica count) pods stay on the current revision.
    fn revision_for(&self, index: i32) -> (&PodTemplateSpec, &str) {
        let status = self.set.status.clone().unwrap_or_default();
        let strategy = self
            .set
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.as_ref());
        let bound = match strategy.and_then(|s| s.rolling_update.as_ref()) {
            Some(rolling) => rolling.partition.unwrap_or(0),
            None => status.current_replicas.unwrap_or(0),
        };
        let current = self
            .revisions
            .current
            .metadata
            .name
            .as_deref()
            .unwrap_or_default();
        let update = self
            .revisions
            .update
            .metadata
            .name
            .as_deref()
            .unwrap_or_default();
        if self.rolling && index < bound {
            (&self.current_template, current)
        } else {
            let template = &self.set.spec.as_ref().expect("a set with a spec").template;
            (template, update)
        }
    }
}

pub async fn sync(
    context: &Context,
    set: &StatefulSet,
    pods: Vec<Arc<Pod>>,
    revisions: &Revisions,
) -> Result<Outcome, ControllerError> {
    let spec = set.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling = strategy.type_.as_deref() != Some("OnDelete");
    let plan = Plan {
        set,
        revisions,
        current_template: history::template_of(&revisions.current)
            .unwrap_or_else(|| spec.template.clone()),
        start: spec
            .ordinals
            .as_ref()
            .and_then(|o| o.start)
            .unwrap_or(0)
            .max(0),
        replicas: spec.replicas.unwrap_or(1).max(0),
        partition: strategy
            .rolling_update
            .as_ref()
            .and_then(|r| r.partition)
            .unwrap_or(0)
            .max(0),
        rolling,
        monotonic: spec.pod_management_policy.as_deref() != Some("Parallel"),
        min_ready: spec.min_ready_seconds.unwrap_or(0),
        now: Timestamp::now(),
    };
    let mut slots: Vec<Option<Arc<Pod>>> = vec![None; usize::try_from(plan.replicas).unwrap_or(0)];
    let mut condemned = Vec::new();
    for pod in pods {
        let Some(ordinal) = identity::ordinal_of(set, &pod) else {
            continue;
        };
        let index = ordinal - plan.start;
        match usize::try_from(index).ok().filter(|i| *i < slots.len()) {
            Some(i) => slots[i] = Some(pod),
            None => condemned.push((ordinal, pod)),
        }
    }
    condemned.sort_by_key(|(ordinal, _)| std::cmp::Reverse(*ordinal));

    let mut tally = Tally::new(&plan);
    for pod in slots
        .iter()
        .flatten()
        .chain(condemned.iter().map(|(_, p)| p))
    {
        tally.count(pod);
    }
    let mut step = Step {
        context,
        plan: &plan,
        tally,
        recheck: None,
    };
    if set.metadata.deletion_timestamp.is_none() {
        step.run(&mut slots, &condemned).await?;
    }
    let Step { tally, recheck, .. } = step;
    Ok(Outcome {
        status: tally.into_status(&plan),
        recheck,
    })
}

/// The status counters, kept up to date as pods are created and deleted during the sync.
pub(super) struct Tally {
    replicas: i32,
    ready: i32,
    available: i32,
    current: i32,
    updated: i32,
    current_name: String,
    update_name: String,
    min_ready: i32,
    now: Timestamp,
}

impl Tally {
    fn new(plan: &Plan<'_>) -> Self {
        Tally {
            replicas: 0,
            ready: 0,
            available: 0,
            current: 0,
            updated: 0,
            current_name: plan.revisions.current.name_any(),
            update_name: plan.revisions.update.name_any(),
            min_ready: plan.min_ready,
            now: plan.now,
        }
    }

    fn count(&mut self, pod: &Pod) {
        self.replicas += 1;
        if is_running_and_ready(pod) {
            self.ready += 1;
            if is_available(pod, self.min_ready, self.now) {
                self.available += 1;
            }
        }
        if !is_terminating(pod) {
            self.count_revision(revision_of(pod), 1);
        }
    }

    pub(super) fn count_revision(&mut self, revision: Option<&str>, delta: i32) {
        if revision == Some(self.current_name.as_str()) {
            self.current += delta;
        }
        if revision == Some(self.update_name.as_str()) {
            self.updated += delta;
        }
    }

    fn into_status(self, plan: &Plan<'_>) -> StatefulSetStatus {
        let mut status = StatefulSetStatus {
            replicas: self.replicas,
            ready_replicas: Some(self.ready),
            available_replicas: Some(self.available),
            current_replicas: Some(self.current),
            updated_replicas: Some(self.updated),
            current_revision: Some(self.current_name),
            update_revision: Some(self.update_name),
            collision_count: Some(plan.revisions.collision_count),
            observed_generation: plan.set.metadata.generation,
            conditions: plan.set.status.as_ref().and_then(|s| s.conditions.clone()),
        };
        // A finished rolling update makes the update revision current.
        if plan.rolling && self.updated == self.replicas && self.ready == self.replicas {
            status.current_replicas = status.updated_replicas;
            status.current_revision = status.update_revision.clone();
        }
        status
    }
}

pub(super) struct Step<'a> {
    pub(super) context: &'a Context,
    pub(super) plan: &'a Plan<'a>,
    pub(super) tally: Tally,
    pub(super) recheck: Option<Duration>,
}

/// Whether the sync goes on after a step or stops there (OrderedReady waits).
enum Flow {
    Continue,
    Stop,
}

impl Step<'_> {
    fn wait(&mut self, after: Duration) {
        self.recheck = Some(self.recheck.map_or(after, |d| d.min(after)));
    }

    fn after_write(&mut self) -> Flow {
        self.wait(Duration::from_secs(1));
        if self.plan.monotonic {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Whether a pod lets OrderedReady go on to the next ordinal; asks for a recheck if the
    /// pod is ready but still inside minReadySeconds.
    fn healthy(&mut self, pod: &Pod) -> bool {
        if is_terminating(pod) || !is_running_and_ready(pod) {
            return false;
        }
        if let Some(left) = until_available(pod, self.plan.min_ready, self.plan.now) {
            self.wait(left + Duration::from_millis(100));
            return false;
        }
        true
    }

    async fn run(
        &mut self,
        slots: &mut [Option<Arc<Pod>>],
        condemned: &[(i32, Arc<Pod>)],
    ) -> Result<(), ControllerError> {
        let first_unhealthy = slots
            .iter()
            .flatten()
            .chain(condemned.iter().map(|(_, p)| p))
            .find(|p| is_terminating(p) || !is_running_and_ready(p))
            .and_then(|p| p.uid());
        for (index, slot) in slots.iter_mut().enumerate() {
            let ordinal = self.plan.start + i32::try_from(index).unwrap_or(i32::MAX);
            if let Flow::Stop = self.replica(slot, index, ordinal).await? {
                return Ok(());
            }
        }
        for (_, pod) in condemned {
            if is_terminating(pod) {
                self.wait(Duration::from_secs(1));
                if self.plan.monotonic {
                    return Ok(());
                }
                continue;
            }
            if self.plan.monotonic && !self.healthy(pod) && pod.uid() != first_unhealthy {
                return Ok(());
            }
            self.delete(pod).await?;
            if let Flow::Stop = self.after_write() {
                return Ok(());
            }
        }
        if self.plan.rolling {
            self.roll(slots).await?;
        }
        Ok(())
    }

    /// Make ordinal `ordinal` exist with its identity; `Stop` when OrderedReady must wait.
    async fn replica(
        &mut self,
        slot: &mut Option<Arc<Pod>>,
        index: usize,
        ordinal: i32,
    ) -> Result<Flow, ControllerError> {
        let set = self.plan.set;
        let Some(pod) = slot.clone() else {
            let (template, revision) = self.plan.revision_for(i32::try_from(index).unwrap_or(0));
            let pod = identity::new_pod(set, template, revision, ordinal);
            self.create_claims(ordinal, &pod).await?;
            self.create(&pod).await?;
            self.tally.replicas += 1;
            self.tally.count_revision(Some(revision), 1);
            return Ok(self.after_write());
        };
        if is_finished(&pod) && !is_terminating(&pod) {
            // Upstream recreates pods that failed or succeeded.
            self.record(
                WARNING,
                "RecreatingFailedPod",
                format!(
                    "StatefulSet {}/{} is recreating failed Pod {}",
                    set.namespace().unwrap_or_default(),
                    set.name_any(),
                    pod.name_any()
                ),
            )
            .await;
            self.delete(&pod).await?;
            *slot = None;
            return Ok(self.after_write());
        }
        if is_terminating(&pod) {
            self.wait(Duration::from_secs(1));
            return Ok(if self.plan.monotonic {
                Flow::Stop
            } else {
                Flow::Continue
            });
        }
        if !identity::identity_matches(set, &pod, ordinal)
            || !identity::storage_matches(set, &pod, ordinal)
        {
            let mut repaired = (*pod).clone();
            identity::update_identity(set, &mut repaired, ordinal);
            identity::update_storage(set, &mut repaired, ordinal);
            self.create_claims(ordinal, &repaired).await?;
            self.update(&repaired).await?;
            return Ok(self.after_write());
        }
        if self.plan.monotonic && !self.healthy(&pod) {
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }

    /// RollingUpdate: from the highest ordinal down to the partition, replace one pod at a
    /// time that is not on the update revision, waiting for each to be healthy again.
    async fn roll(&mut self, slots: &[Option<Arc<Pod>>]) -> Result<(), ControllerError> {
        let update = self.tally.update_name.clone();
        let low = usize::try_from(self.plan.partition).unwrap_or(0);
        for slot in slots.iter().skip(low).rev() {
            let Some(pod) = slot else {
                // Just created in this sync (Parallel): wait for it.
                return Ok(());
            };
            if revision_of(pod) != Some(update.as_str()) && !is_terminating(pod) {
                self.delete(pod).await?;
                self.wait(Duration::from_secs(1));
                return Ok(());
            }
            if !self.healthy(pod) {
                return Ok(());
            }
        }
        Ok(())
    }
}
