//! One control-plane child process: how it is started, recorded and stopped, and how a
//! leftover from a previous (killed) service instance is recognised and stopped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::error::EksError;

/// What to run for one cluster.
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub cluster_dir: &'a Path,
    pub port: u16,
    pub version: &'a str,
    /// `--aws-auth-config FILE`, when the binary supports it.
    pub auth_config: Option<&'a Path>,
}

pub fn pid_path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("control-plane.pid")
}

pub fn log_path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("control-plane.log")
}

/// Starts the control plane, appending its output to `control-plane.log` and recording its pid.
pub fn spawn(launch: &Launch<'_>) -> Result<Child, EksError> {
    let dir = launch.cluster_dir;
    std::fs::create_dir_all(dir).map_err(|e| EksError::io("creating", dir, e))?;
    let log_file = log_path(dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .map_err(|e| EksError::io("opening", &log_file, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| EksError::io("opening", &log_file, e))?;
    let mut command = Command::new(launch.binary);
    command
        .arg("control-plane")
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", launch.port))
        .arg("--kubernetes-version")
        .arg(launch.version);
    if let Some(file) = launch.auth_config {
        command.arg("--aws-auth-config").arg(file);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| EksError::Spawn {
            binary: launch.binary.to_path_buf(),
            source,
        })?;
    if let Some(pid) = child.id() {
        let file = pid_path(dir);
        std::fs::write(&file, pid.to_string()).map_err(|e| EksError::io("writing", &file, e))?;
    }
    Ok(child)
}

/// Stops a control plane a previous service instance left running for this directory: the
/// recorded pid is killed only if that process is still `keelson control-plane --data-dir DIR`
/// (a recycled pid belongs to someone else).
pub async fn stop_stale(cluster_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(pid_path(cluster_dir)) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    if !is_control_plane_for(pid, cluster_dir) {
        return;
    }
    tracing::warn!(pid, dir = %cluster_dir.display(), "stopping a control plane left by an earlier service instance");
    signal(pid, "KILL").await;
    for _ in 0..250 {
        if !is_control_plane_for(pid, cluster_dir) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_control_plane_for(pid: u32, cluster_dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let dir = cluster_dir.as_os_str().as_encoded_bytes();
    let data_dir_matches = args
        .windows(2)
        .any(|pair| pair[0] == b"--data-dir" && pair[1] == dir);
    // A zombie (exited, not yet reaped) has an empty cmdline and is not running.
    args.contains(&b"control-plane".as_slice()) && data_dir_matches
}

/// Asks the child to stop (SIGTERM), then kills it if it has not exited within `grace`.
pub async fn terminate(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        signal(pid, "TERM").await;
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

async fn signal(pid: u32, name: &str) {
    // Sending a signal through kill(1) keeps this crate free of unsafe code.
    let result = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(error) = result {
        tracing::warn!(pid, %error, "could not run kill");
    }
}

/// A port nobody listens on right now, for a new cluster's endpoint.
pub fn free_port() -> Result<u16, EksError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| EksError::io("binding", "127.0.0.1:0", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| EksError::io("binding", "127.0.0.1:0", e))
}

/// Whether `binary control-plane --help` mentions `--aws-auth-config`.
pub async fn supports_aws_auth(binary: &Path) -> bool {
    let output = Command::new(binary)
        .args(["control-plane", "--help"])
        .stdin(Stdio::null())
        .output()
        .await;
    match output {
        Ok(output) => String::from_utf8_lossy(&output.stdout).contains("--aws-auth-config"),
        Err(error) => {
            tracing::warn!(binary = %binary.display(), %error, "cannot run the control-plane binary");
            false
        }
    }
}
