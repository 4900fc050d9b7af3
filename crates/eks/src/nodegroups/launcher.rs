//! The seam between a node group and the machines behind it. [`NodeLauncher`] starts one node
//! that joins the cluster under a given name with given labels and taints; today's
//! implementation runs `keelson sim-nodes` for it (a node without containers, as kwok), and a
//! real node agent will implement the same trait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::{Child, Command};

use super::catalogue::InstanceType;
use super::model::{NodeRecord, TaintRecord};
use crate::error::EksError;

/// Everything a launcher needs to start one node.
pub struct NodeSpec<'a> {
    /// The cluster's admin kubeconfig, which the node uses to join.
    pub kubeconfig: &'a Path,
    /// Where the node may keep its files (logs, pid).
    pub dir: &'a Path,
    pub node: &'a NodeRecord,
    pub instance: &'static InstanceType,
    pub labels: BTreeMap<String, String>,
    pub taints: &'a [TaintRecord],
}

#[async_trait]
pub trait NodeLauncher: Send + Sync {
    /// Starts the node (first stopping one a previous service instance left running for it).
    async fn launch(&self, spec: &NodeSpec<'_>) -> Result<Box<dyn RunningNode>, EksError>;
    /// Stops what an earlier service instance left running for a node this one never
    /// launched (e.g. one removed by a deletion resumed after a restart).
    async fn stop_leftover(&self, dir: &Path, node: &NodeRecord);
}

#[async_trait]
pub trait RunningNode: Send {
    /// Why the node died, once it has; `None` while it runs.
    fn exited(&mut self) -> Option<String>;
    /// Stops the node (its Node object is the caller's business).
    async fn stop(&mut self);
}

/// Runs each node as its own `keelson sim-nodes --count 1` process, so nodes come and go (and
/// die) one at a time.
pub struct SimNodesLauncher {
    pub binary: PathBuf,
}

const STOP_GRACE: Duration = Duration::from_secs(3);

/// The simulator's name prefix for a node: node names are `<prefix><index>`.
pub fn name_prefix(group: &str) -> String {
    let mut prefix: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    prefix.push('-');
    prefix
}

fn sim_args(spec: &NodeSpec<'_>, prefix: &str) -> Vec<String> {
    let node = spec.node;
    let labels: Vec<String> = spec
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let taints: Vec<String> = spec
        .taints
        .iter()
        .map(|t| match &t.value {
            Some(v) => format!("{}={v}:{}", t.key, t.kubernetes_effect()),
            None => format!("{}:{}", t.key, t.kubernetes_effect()),
        })
        .collect();
    let mut args = vec![
        "sim-nodes".to_string(),
        "--kubeconfig".into(),
        spec.kubeconfig.display().to_string(),
        "--count".into(),
        "1".into(),
        "--start-index".into(),
        node.index.to_string(),
        "--name-prefix".into(),
        prefix.to_string(),
        "--zones".into(),
        node.zone.clone(),
        "--cpu".into(),
        spec.instance.vcpu.to_string(),
        "--memory".into(),
        format!("{}Gi", spec.instance.memory_gib),
        "--pods".into(),
        spec.instance.max_pods.to_string(),
        "--instance-type".into(),
        spec.instance.name.to_string(),
    ];
    if !labels.is_empty() {
        args.extend(["--labels".into(), labels.join(",")]);
    }
    if !taints.is_empty() {
        args.extend(["--register-with-taints".into(), taints.join(",")]);
    }
    args
}

#[async_trait]
impl NodeLauncher for SimNodesLauncher {
    async fn launch(&self, spec: &NodeSpec<'_>) -> Result<Box<dyn RunningNode>, EksError> {
        let dir = spec.dir;
        std::fs::create_dir_all(dir).map_err(|e| EksError::io("creating", dir, e))?;
        let name = &spec.node.name;
        let pid_file = dir.join(format!("{name}.pid"));
        stop_stale(&pid_file, Some(spec.kubeconfig), name).await;
        let log_file = dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)
            .map_err(|e| EksError::io("opening", &log_file, e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| EksError::io("opening", &log_file, e))?;
        let prefix = spec
            .node
            .name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        let child = Command::new(&self.binary)
            .args(sim_args(spec, &prefix))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EksError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        if let Some(pid) = child.id() {
            std::fs::write(&pid_file, pid.to_string())
                .map_err(|e| EksError::io("writing", &pid_file, e))?;
        }
        Ok(Box::new(SimNode { child, pid_file }))
    }

    async fn stop_leftover(&self, dir: &Path, node: &NodeRecord) {
        let pid_file = dir.join(format!("{}.pid", node.name));
        stop_stale(&pid_file, None, &node.name).await;
        let _ = std::fs::remove_file(&pid_file);
    }
}

struct SimNode {
    child: Child,
    pid_file: PathBuf,
}

#[async_trait]
impl RunningNode for SimNode {
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(format!("the node process exited ({status})")),
            Err(error) => Some(format!("waiting for the node process failed: {error}")),
        }
    }

    async fn stop(&mut self) {
        crate::process::terminate(&mut self.child, STOP_GRACE).await;
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Kills the simulator a previous service instance left for this node, recognised by its
/// command line (a recycled pid belongs to someone else).
async fn stop_stale(pid_file: &Path, kubeconfig: Option<&Path>, node: &str) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let is_ours = || {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let prefix = node.trim_end_matches(|c: char| c.is_ascii_digit());
            let index = &node[prefix.len()..];
            args.contains(&b"sim-nodes".as_slice())
                && kubeconfig.is_none_or(|k| {
                    let k = k.as_os_str().as_encoded_bytes();
                    args.windows(2)
                        .any(|w| w[0] == b"--kubeconfig" && w[1] == k)
                })
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--name-prefix" && w[1] == prefix.as_bytes())
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--start-index" && w[1] == index.as_bytes())
        })
    };
    if !is_ours() {
        return;
    }
    tracing::warn!(
        pid,
        node,
        "stopping a simulated node left by an earlier service instance"
    );
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .await;
    for _ in 0..250 {
        if !is_ours() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodegroups::catalogue::lookup;

    #[test]
    fn the_simulator_is_asked_for_the_instance_shape_labels_and_taints() {
        let node = NodeRecord {
            name: "workers-7".into(),
            index: 7,
            zone: "us-west-2b".into(),
            instance_type: "m5.large".into(),
        };
        let taints = [TaintRecord {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NO_EXECUTE".into(),
        }];
        let spec = NodeSpec {
            kubeconfig: Path::new("/k"),
            dir: Path::new("/d"),
            node: &node,
            instance: lookup("m5.large").unwrap(),
            labels: [
                (
                    "eks.amazonaws.com/nodegroup".to_string(),
                    "workers".to_string(),
                ),
                ("a".into(), "b".into()),
            ]
            .into(),
            taints: &taints,
        };
        let args = sim_args(&spec, "workers-").join(" ");
        assert!(args.contains("--start-index 7 --name-prefix workers- --zones us-west-2b --cpu 2 --memory 8Gi --pods 29 --instance-type m5.large"), "{args}");
        assert!(
            args.contains("--labels a=b,eks.amazonaws.com/nodegroup=workers"),
            "{args}"
        );
        assert!(
            args.ends_with("--register-with-taints dedicated=gpu:NoExecute"),
            "{args}"
        );
        assert_eq!(name_prefix("My_Group"), "my-group-");
    }
}
