//! Managed node groups: the API ([`api`]), and one controller task per group ([`controller`])
//! that launches nodes through a [`launcher::NodeLauncher`] until the cluster's API shows the
//! desired number Ready, drains and removes nodes on scale-in and deletion, and replaces nodes
//! that die.

pub mod api;
mod catalogue;
mod choice;
mod cluster_api;
mod controller;
pub mod launcher;
pub mod model;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::records::Records;
use launcher::NodeLauncher;

/// Starts and tracks the node groups' controllers. Cheap to clone.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    records: Records,
    launcher: Arc<dyn NodeLauncher>,
    clusters_dir: PathBuf,
    region: String,
    running: Mutex<HashMap<(String, String), u64>>,
    generation: Mutex<u64>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Manager {
    pub fn new(
        records: Records,
        launcher: Arc<dyn NodeLauncher>,
        clusters_dir: PathBuf,
        region: String,
        shutdown: CancellationToken,
    ) -> Manager {
        Manager {
            inner: Arc::new(ManagerInner {
                records,
                launcher,
                clusters_dir,
                region,
                running: Mutex::new(HashMap::new()),
                generation: Mutex::new(0),
                shutdown,
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Runs the group's controller unless it already runs.
    pub fn ensure(&self, cluster: &str, group: &str) {
        let key = (cluster.to_string(), group.to_string());
        let mut running = self.inner.running.lock().expect("running lock");
        if self.inner.shutdown.is_cancelled() || running.contains_key(&key) {
            return;
        }
        let generation = {
            let mut g = self.inner.generation.lock().expect("generation lock");
            *g += 1;
            *g
        };
        running.insert(key, generation);
        let manager = self.clone();
        let (cluster, group) = (cluster.to_string(), group.to_string());
        self.inner.tasks.spawn(async move {
            controller::run(&manager.inner, &cluster, &group).await;
            {
                let mut running = manager.inner.running.lock().expect("running lock");
                let key = (cluster.clone(), group.clone());
                if running.get(&key) == Some(&generation) {
                    running.remove(&key);
                }
            }
            // A group created again under the same name while this controller was finishing
            // gets a controller of its own.
            if let Ok(Some((record, _))) = manager.inner.records.get(&cluster).await
                && record.nodegroups.iter().any(|g| g.name == group)
            {
                manager.ensure(&cluster, &group);
            }
        });
    }

    /// Stops every controller (their nodes stop, their Node objects stay) and waits for them.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}
