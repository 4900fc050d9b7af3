//! What a Job's last sync wrote and the shared caches have not shown yet (upstream's
//! ControllerExpectations and finalizer expectations). A Job is not synced again until the
//! caches have caught up, so no pod is created, deleted or counted twice; after five minutes
//! the expectations are dropped, as upstream's do, in case a watch event was lost.
//!
//! Private to the job controller until the shared `podcontrol` module offers the same.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::tracking::TRACKING_FINALIZER;

const EXPIRY: Duration = Duration::from_secs(5 * 60);

#[derive(Default)]
struct Pending {
    /// Names of pods created by the last sync.
    created: HashSet<String>,
    /// Uids of pods deleted by the last sync.
    deleted: HashSet<String>,
    /// Uids of pods whose tracking finalizer the last sync removed.
    unfinalized: HashSet<String>,
    /// The resourceVersion of the Job status the last sync wrote.
    status_version: Option<u64>,
    since: Option<Instant>,
}

#[derive(Default)]
pub struct Expectations {
    by_job: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    pub fn created(&self, job_uid: &str, pod_name: String) {
        self.with(job_uid, |p| {
            p.created.insert(pod_name);
        });
    }

    pub fn deleted(&self, job_uid: &str, pod_uid: String) {
        self.with(job_uid, |p| {
            p.deleted.insert(pod_uid);
        });
    }

    pub fn unfinalized(&self, job_uid: &str, pod_uid: String) {
        self.with(job_uid, |p| {
            p.unfinalized.insert(pod_uid);
        });
    }

    pub fn status_written(&self, job_uid: &str, resource_version: Option<&str>) {
        if let Some(version) = resource_version.and_then(|v| v.parse().ok()) {
            self.with(job_uid, |p| p.status_version = Some(version));
        }
    }

    pub fn forget(&self, job_uid: &str) {
        self.lock().remove(job_uid);
    }

    /// Whether the caches show everything the last sync of this Job wrote.
    pub fn satisfied(
        &self,
        job_uid: &str,
        job_version: Option<&str>,
        pods: &[std::sync::Arc<Pod>],
    ) -> bool {
        let mut by_job = self.lock();
        let Some(pending) = by_job.get_mut(job_uid) else {
            return true;
        };
        if pending.since.is_some_and(|since| since.elapsed() > EXPIRY) {
            tracing::warn!(job_uid, "job expectations expired; resyncing");
            by_job.remove(job_uid);
            return true;
        }
        let by_name: HashMap<String, &Pod> =
            pods.iter().map(|p| (p.name_any(), p.as_ref())).collect();
        let by_uid: HashMap<String, &Pod> = pods
            .iter()
            .filter_map(|p| Some((p.uid()?, p.as_ref())))
            .collect();
        pending.created.retain(|name| !by_name.contains_key(name));
        pending.deleted.retain(|uid| {
            by_uid
                .get(uid)
                .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        });
        pending.unfinalized.retain(|uid| {
            by_uid
                .get(uid)
                .is_some_and(|p| p.finalizers().iter().any(|f| f == TRACKING_FINALIZER))
        });
        let seen_version = job_version.and_then(|v| v.parse::<u64>().ok());
        if let (Some(wanted), Some(seen)) = (pending.status_version, seen_version)
            && seen >= wanted
        {
            pending.status_version = None;
        }
        let done = pending.created.is_empty()
            && pending.deleted.is_empty()
            && pending.unfinalized.is_empty()
            && pending.status_version.is_none();
        if done {
            by_job.remove(job_uid);
        }
        done
    }

    fn with(&self, job_uid: &str, change: impl FnOnce(&mut Pending)) {
        let mut by_job = self.lock();
        let pending = by_job.entry(job_uid.to_string()).or_default();
        pending.since.get_or_insert_with(Instant::now);
        change(pending);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.by_job.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
