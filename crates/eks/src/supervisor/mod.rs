//! Keeps every cluster's control plane running: one task per cluster starts its process,
//! waits for `/readyz`, marks the cluster ACTIVE, and restarts the process with back-off
//! whenever it exits (showing a ClusterUnreachable health issue meanwhile). Each control plane
//! is its own OS process (and cgroup, where possible), so one tenant's crash or memory blow-up
//! does not touch another.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cgroup::Cgroups;
use crate::model::{ClusterRecord, ClusterStatus, HealthIssue, ISSUE_UNREACHABLE};
use crate::records::Records;
use crate::{authfile, probe, process};

mod run;
use run::run_cluster;

pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(200);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A process that stayed up this long after becoming ready counts as healthy again.
pub(super) const STABLE_AFTER: Duration = Duration::from_secs(30);
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(120);
pub(super) const POLL: Duration = Duration::from_millis(15);
/// How long a stopping control plane may take before it is killed. Its store is crash-safe,
/// and a graceful stop can otherwise wait on clients' idle connections.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(3);
/// Launches that never become ready before a new cluster is declared FAILED.
pub(super) const CREATE_ATTEMPTS: u32 = 5;
/// Launches at a new version that never become ready before the version update is rolled back.
pub(super) const UPGRADE_ATTEMPTS: u32 = 3;

pub struct Settings {
    pub binary: PathBuf,
    pub clusters_dir: PathBuf,
    pub sts_endpoint: String,
    pub pass_auth_config: bool,
    pub cgroups: Cgroups,
}

#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    records: Records,
    settings: Settings,
    runtimes: Mutex<HashMap<String, Runtime>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

struct Runtime {
    stop: CancellationToken,
    restart: Arc<Notify>,
    handle: JoinHandle<()>,
}

pub(super) enum Outcome {
    Ready,
    Exited(String),
    Stop,
    Restart,
}

impl Supervisor {
    pub fn new(records: Records, settings: Settings, shutdown: CancellationToken) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                records,
                settings,
                runtimes: Mutex::new(HashMap::new()),
                shutdown,
                tasks: TaskTracker::new(),
            }),
        }
    }

    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.inner.cluster_dir(name)
    }

    pub fn sts_endpoint(&self) -> &str {
        &self.inner.settings.sts_endpoint
    }

    /// Starts supervising `name` unless it already is.
    pub fn ensure(&self, name: &str) {
        let mut runtimes = self.inner.runtimes.lock().expect("runtimes lock");
        if self.inner.shutdown.is_cancelled() || runtimes.contains_key(name) {
            return;
        }
        let stop = self.inner.shutdown.child_token();
        let restart = Arc::new(Notify::new());
        let handle = self.inner.tasks.spawn(run_cluster(
            self.inner.clone(),
            name.to_string(),
            stop.clone(),
            restart.clone(),
        ));
        runtimes.insert(
            name.to_string(),
            Runtime {
                stop,
                restart,
                handle,
            },
        );
    }

    /// Supervises a cluster found in the store when the service opens. An ACTIVE one shows a
    /// health issue from now until its control plane answers again.
    pub async fn resume(&self, record: &ClusterRecord) {
        if record.status == ClusterStatus::Active {
            self.inner
                .mark_unreachable(&record.name, "The control plane is starting.".into())
                .await;
        }
        self.ensure(&record.name);
    }

    /// Restarts the control plane (e.g. at a new version), without back-off.
    pub fn restart(&self, name: &str) {
        let runtimes = self.inner.runtimes.lock().expect("runtimes lock");
        match runtimes.get(name) {
            Some(runtime) => runtime.restart.notify_one(),
            None => {
                drop(runtimes);
                self.ensure(name);
            }
        }
    }

    /// Stops the control plane, removes its data and then the cluster's record. Runs in the
    /// background; the record (status DELETING) stays until the data is gone, so a service
    /// restart in between finishes the job.
    pub fn delete(&self, name: &str) {
        let runtime = self
            .inner
            .runtimes
            .lock()
            .expect("runtimes lock")
            .remove(name);
        let inner = self.inner.clone();
        let name = name.to_string();
        self.inner.tasks.spawn(async move {
            if let Some(runtime) = runtime {
                runtime.stop.cancel();
                let _ = runtime.handle.await;
            }
            if inner.shutdown.is_cancelled() {
                return;
            }
            let dir = inner.cluster_dir(&name);
            process::stop_stale(&dir).await;
            if let Err(error) = std::fs::remove_dir_all(&dir)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!(cluster = %name, %error, "removing the cluster's data");
                return;
            }
            inner.settings.cgroups.remove(&name);
            if let Err(error) = inner.records.delete(&name).await {
                tracing::error!(cluster = %name, %error, "removing the cluster's record");
            }
            tracing::info!(cluster = %name, "cluster deleted");
        });
    }

    /// Stops every control plane and waits for all supervision tasks.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

impl Inner {
    fn cluster_dir(&self, name: &str) -> PathBuf {
        self.settings.clusters_dir.join(name)
    }

    async fn launch(&self, record: &ClusterRecord, dir: &Path) -> Result<Child, String> {
        let auth_file = authfile::path(dir);
        authfile::write(dir, record, &self.settings.sts_endpoint).map_err(|e| e.to_string())?;
        process::stop_stale(dir).await;
        let launch = process::Launch {
            binary: &self.settings.binary,
            cluster_dir: dir,
            port: record.port,
            version: record.running_version(),
            auth_config: self
                .settings
                .pass_auth_config
                .then_some(auth_file.as_path()),
        };
        let child = process::spawn(&launch).map_err(|e| e.to_string())?;
        if let Some(pid) = child.id() {
            self.settings.cgroups.confine(&record.name, pid);
        }
        Ok(child)
    }

    async fn mark_ready(&self, name: &str, dir: &Path) {
        let ca = std::fs::read_to_string(probe::ca_path(dir)).ok();
        let result = self
            .records
            .mutate(name, |record| {
                if ca.is_some() {
                    record.ca_pem = ca.clone();
                }
                if let Some(version) = record.target_version.take() {
                    record.version = version;
                }
                for update in &mut record.updates {
                    if update.status == "InProgress" && update.update_type == "VersionUpdate" {
                        update.status = "Successful".into();
                    }
                }
                if matches!(
                    record.status,
                    ClusterStatus::Creating | ClusterStatus::Updating
                ) {
                    record.status = ClusterStatus::Active;
                }
                record.health_issues.retain(|i| i.code != ISSUE_UNREACHABLE);
                Ok(())
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(
                cluster = name,
                ?error,
                "recording the control plane as ready"
            );
        }
    }

    async fn mark_unreachable(&self, name: &str, message: String) {
        let result = self
            .records
            .mutate(name, |record| {
                record.health_issues.retain(|i| i.code != ISSUE_UNREACHABLE);
                record.health_issues.push(HealthIssue {
                    code: ISSUE_UNREACHABLE.into(),
                    message: message.clone(),
                    resource_ids: vec![record.name.clone()],
                });
                Ok(())
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(
                cluster = name,
                ?error,
                "recording the control plane as unreachable"
            );
        }
    }

    /// Gives up on a launch that never became ready: a new cluster becomes FAILED, a version
    /// update is rolled back to the running version. Returns whether supervision should end.
    async fn give_up(&self, name: &str, record: &ClusterRecord, failures: u32) -> bool {
        let creating = record.status == ClusterStatus::Creating && failures >= CREATE_ATTEMPTS;
        let upgrading = record.target_version.is_some() && failures >= UPGRADE_ATTEMPTS;
        if !creating && !upgrading {
            return false;
        }
        let log = process::log_path(&self.cluster_dir(name));
        let result = self
            .records
            .mutate(name, |record| {
                if creating {
                    record.status = ClusterStatus::Failed;
                    record.health_issues.push(HealthIssue {
                        code: "InternalFailure".into(),
                        message: format!(
                            "The control plane did not start after {failures} attempts; see {}",
                            log.display()
                        ),
                        resource_ids: vec![record.name.clone()],
                    });
                } else if let Some(version) = record.target_version.take() {
                    for update in &mut record.updates {
                        if update.status == "InProgress" && update.update_type == "VersionUpdate" {
                            update.status = "Failed".into();
                            update.errors.push((
                                "Unknown".into(),
                                format!("The control plane did not start at version {version}; the cluster stays at {}", record.version),
                            ));
                        }
                    }
                    record.status = ClusterStatus::Active;
                }
                Ok(())
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(cluster = name, ?error, "recording a failed launch");
        }
        creating
    }
}
