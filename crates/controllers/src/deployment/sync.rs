//! One sync of a deployment over its claimed ReplicaSets: finding or creating the new
//! ReplicaSet and keeping revisions (getAllReplicaSetsAndSyncRevision), scaling one
//! ReplicaSet with its event, and status writes. Everything is derived from the
//! API objects alone, so a restarted controller continues a rollout where it stopped.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::Context;
use super::progress::{self, FAILED_RS_CREATE, FOUND_NEW_RS, NEW_RS_CREATED, PROGRESSING};
use super::util::{self, POD_TEMPLATE_HASH, REVISION};
use crate::ControllerError;
use crate::events::{NORMAL, WARNING, reference_to};
use crate::podcontrol::{Owner, api_message};

pub(crate) struct Rollout<'a> {
    pub context: &'a Context,
    pub d: Deployment,
    /// The ReplicaSets this deployment controls, kept current with every write.
    pub sets: Vec<ReplicaSet>,
}

pub(super) fn active(rs: &ReplicaSet) -> bool {
    util::rs_replicas(rs) > 0
}

impl Rollout<'_> {
    fn namespace(&self) -> String {
        self.d.metadata.namespace.clone().unwrap_or_default()
    }

    fn name(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    fn template(&self) -> k8s_openapi::api::core::v1::PodTemplateSpec {
        self.d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default()
    }

    /// The new ReplicaSet (the oldest whose template equals the deployment's, ignoring the
    /// hash label) and the old ones, as indexes into `sets`.
    pub fn new_and_old(&self) -> (Option<usize>, Vec<usize>) {
        let template = self.template();
        let mut order: Vec<usize> = (0..self.sets.len()).collect();
        order.sort_by(|a, b| util::by_creation(&self.sets[*a], &self.sets[*b]));
        let new = order.iter().copied().find(|i| {
            self.sets[*i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| util::equal_ignore_hash(t, &template))
        });
        let old = order.into_iter().filter(|i| Some(*i) != new).collect();
        (new, old)
    }

    pub fn all<'s>(&'s self, new: Option<usize>, old: &[usize]) -> Vec<&'s ReplicaSet> {
        old.iter()
            .chain(new.iter())
            .map(|i| &self.sets[*i])
            .collect()
    }

    /// Upstream's getAllReplicaSetsAndSyncRevision: bring the new ReplicaSet's annotations
    /// and the deployment's revision up to date, creating the new ReplicaSet if asked.
    pub async fn sync_revision(&mut self, create: bool) -> Result<Option<usize>, ControllerError> {
        let (new, old) = self.new_and_old();
        let max_old = old
            .iter()
            .map(|i| util::revision(&self.sets[*i]))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = new {
            let mut copy = self.sets[i].clone();
            let annotations_changed =
                util::set_new_rs_annotations(&self.d, &mut copy, new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_changed =
                copy.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
            if annotations_changed || min_ready_changed {
                if let Some(spec) = copy.spec.as_mut() {
                    spec.min_ready_seconds = min_ready;
                }
                self.sets[i] = self
                    .rs_api()
                    .replace(&copy.name_or_default(), &PostParams::default(), &copy)
                    .await?;
                return Ok(Some(i));
            }
            let revision = util::annotation(&self.sets[i].metadata, REVISION)
                .unwrap_or("")
                .to_string();
            let mut status = self.d.status.clone().unwrap_or_default();
            let mut status_changed = false;
            if progress::has_progress_deadline(&self.d)
                && progress::get(&status, PROGRESSING).is_none()
            {
                let message = format!("Found new replica set {:?}", self.sets[i].name_or_default());
                progress::set(
                    &mut status,
                    progress::condition(PROGRESSING, "True", FOUND_NEW_RS, message),
                );
                status_changed = true;
            }
            self.save(Some(&revision), status_changed.then_some(status))
                .await?;
            return Ok(Some(i));
        }
        if !create {
            return Ok(None);
        }
        self.create_new_rs(new_revision).await
    }

    pub(super) fn rs_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.context.client.clone(), &self.namespace())
    }

    fn deployment_api(&self) -> Api<Deployment> {
        Api::namespaced(self.context.client.clone(), &self.namespace())
    }

    async fn create_new_rs(&mut self, new_revision: i64) -> Result<Option<usize>, ControllerError> {
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = self.template();
        let hash = util::pod_template_hash(&template, collision_count);
        let labels = template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(BTreeMap::new);
        labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let labels = labels.clone();
        let mut selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{}", self.name(), hash);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.namespace()),
                owner_references: Some(vec![Owner::of(&self.d).controller_ref()]),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: self.d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let count = {
            let (_, old) = self.new_and_old();
            let mut all = self.all(None, &old);
            all.push(&rs);
            super::rolling::new_rs_new_replicas(&self.d, &all, &rs)
        };
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(count);
        }
        util::set_new_rs_annotations(&self.d, &mut rs, new_revision, false);
        let (created, already_existed) =
            match self.rs_api().create(&PostParams::default(), &rs).await {
                Ok(created) => (created, false),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let existing = self.rs_api().get(&name).await?;
                    let ours = crate::podcontrol::controller_of(&existing.metadata)
                        .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
                    let same = existing
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .is_some_and(|t| util::equal_ignore_hash(t, &self.template()));
                    if !(ours && same) {
                        // A hash collision: a different ReplicaSet has this name. Bump the
                        // collision count so the next sync derives another name.
                        let mut status = self.d.status.clone().unwrap_or_default();
                        status.collision_count = Some(collision_count.unwrap_or(0) + 1);
                        self.save(None, Some(status)).await?;
                        return Err(kube::Error::Api(Box::new(status_conflict(&name))).into());
                    }
                    (existing, true)
                }
                Err(err) => {
                    let err = ControllerError::from(err);
                    let message = format!(
                        "Failed to create new replica set {name:?}: {}",
                        api_message(&err)
                    );
                    if progress::has_progress_deadline(&self.d) {
                        let mut status = self.d.status.clone().unwrap_or_default();
                        progress::set(
                            &mut status,
                            progress::condition(
                                PROGRESSING,
                                "False",
                                FAILED_RS_CREATE,
                                message.clone(),
                            ),
                        );
                        let _ = self.save(None, Some(status)).await;
                    }
                    self.event(WARNING, FAILED_RS_CREATE, message).await;
                    return Err(err);
                }
            };
        if !already_existed && count > 0 {
            self.event(
                NORMAL,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {count}"),
            )
            .await;
        }
        let mut status = None;
        if !already_existed && progress::has_progress_deadline(&self.d) {
            let mut s = self.d.status.clone().unwrap_or_default();
            progress::set(
                &mut s,
                progress::condition(
                    PROGRESSING,
                    "True",
                    NEW_RS_CREATED,
                    format!("Created new replica set {name:?}"),
                ),
            );
            status = Some(s);
        }
        self.sets.push(created);
        let index = self.sets.len() - 1;
        self.save(Some(&new_revision.to_string()), status).await?;
        Ok(Some(index))
    }

    pub async fn event(&self, type_: &str, reason: &str, message: String) {
        self.context
            .recorder
            .publish(reference_to(&self.d), type_, reason, message)
            .await;
    }

    /// Persist the deployment's revision annotation (an update of the object) and a new
    /// status (through the status subresource), each only if it changed.
    pub async fn save(
        &mut self,
        revision: Option<&str>,
        status: Option<DeploymentStatus>,
    ) -> Result<(), ControllerError> {
        let wanted = status.or_else(|| self.d.status.clone());
        if let Some(revision) = revision
            && util::annotation(&self.d.metadata, REVISION) != Some(revision)
        {
            let mut updated = self.d.clone();
            updated
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION.into(), revision.to_string());
            self.d = self
                .deployment_api()
                .replace(&self.name(), &PostParams::default(), &updated)
                .await?;
        }
        if wanted != self.d.status {
            let mut updated = self.d.clone();
            updated.status = wanted;
            self.d = self
                .deployment_api()
                .replace_status(&self.name(), &PostParams::default(), &updated)
                .await?;
        }
        Ok(())
    }

    /// Scale `sets[i]` to `new_scale` with the replicas annotations of the current spec;
    /// records ScalingReplicaSet when the size changed.
    pub async fn scale_rs(
        &mut self,
        i: usize,
        new_scale: i32,
        operation: &str,
    ) -> Result<bool, ControllerError> {
        let rs = &self.sets[i];
        let old_scale = util::rs_replicas(rs);
        let desired = util::replicas(&self.d);
        let max = desired + util::max_surge(&self.d);
        let size_changed = old_scale != new_scale;
        if !size_changed && !util::replicas_annotations_need_update(rs, desired, max) {
            return Ok(false);
        }
        let mut copy = rs.clone();
        if let Some(spec) = copy.spec.as_mut() {
            spec.replicas = Some(new_scale);
        }
        util::set_replicas_annotations(&mut copy, desired, max);
        let name = copy.name_or_default();
        self.sets[i] = self
            .rs_api()
            .replace(&name, &PostParams::default(), &copy)
            .await?;
        if size_changed {
            self.event(
                NORMAL,
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {name} from {old_scale} to {new_scale}"),
            )
            .await;
        }
        Ok(size_changed)
    }

    pub async fn scale_rs_and_record(
        &mut self,
        i: usize,
        new_scale: i32,
    ) -> Result<bool, ControllerError> {
        let current = util::rs_replicas(&self.sets[i]);
        if current == new_scale {
            return Ok(false);
        }
        let operation = if current < new_scale { "up" } else { "down" };
        self.scale_rs(i, new_scale, operation).await
    }
}

fn status_conflict(name: &str) -> kube::core::Status {
    kube::core::Status::failure(
        &format!("replica set {name:?} already exists with another template"),
        "AlreadyExists",
    )
    .with_code(409)
}

pub(super) trait NameOrDefault {
    fn name_or_default(&self) -> String;
}

impl NameOrDefault for ReplicaSet {
    fn name_or_default(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
}
