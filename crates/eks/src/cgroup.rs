//! Memory containment per control plane with cgroup v2: each cluster's process goes into
//! `/sys/fs/cgroup/<parent>/<cluster>` with `memory.max`, so a runaway tenant is OOM-killed
//! alone (and then restarted by the supervisor). Without a writable cgroup v2 hierarchy the
//! service runs the processes uncontained and says so once in its log.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

pub struct Cgroups {
    parent: Option<PathBuf>,
    memory_max: u64,
}

impl Cgroups {
    /// Prepares `/sys/fs/cgroup/<parent_name>` with the memory controller enabled for its
    /// children, if cgroup v2 is mounted and writable.
    pub fn detect(parent_name: &str, memory_max: u64) -> Cgroups {
        let root = Path::new(ROOT);
        let parent = root.join(parent_name);
        let usable = std::fs::read_to_string(root.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
            && enable_memory(root).is_ok()
            && std::fs::create_dir_all(&parent).is_ok()
            && enable_memory(&parent).is_ok();
        if usable {
            tracing::info!(cgroup = %parent.display(), memory_max, "control planes run in their own cgroups");
            Cgroups {
                parent: Some(parent),
                memory_max,
            }
        } else {
            tracing::warn!(
                "cgroup v2 is not writable here: control planes run without a memory limit"
            );
            Cgroups {
                parent: None,
                memory_max,
            }
        }
    }

    /// Moves `pid` into the cluster's cgroup (created with `memory.max`).
    pub fn confine(&self, cluster: &str, pid: u32) {
        let Some(parent) = &self.parent else { return };
        let group = parent.join(cluster);
        let result = std::fs::create_dir_all(&group)
            .and_then(|_| std::fs::write(group.join("memory.max"), self.memory_max.to_string()))
            .and_then(|_| std::fs::write(group.join("cgroup.procs"), pid.to_string()));
        if let Err(error) = result {
            tracing::warn!(cluster, pid, %error, "could not confine the control plane to its cgroup");
        }
    }

    /// Removes the cluster's (empty) cgroup.
    pub fn remove(&self, cluster: &str) {
        if let Some(parent) = &self.parent {
            let _ = std::fs::remove_dir(parent.join(cluster));
        }
    }
}

fn enable_memory(group: &Path) -> std::io::Result<()> {
    let control = group.join("cgroup.subtree_control");
    if std::fs::read_to_string(&control)?
        .split_whitespace()
        .any(|c| c == "memory")
    {
        return Ok(());
    }
    std::fs::write(control, "+memory")
}
