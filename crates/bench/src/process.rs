//! The control plane as a child process: spawn, wait for `/readyz`, read its RSS, stop it with
//! SIGTERM. The child is killed if this handle is dropped, so an error anywhere in the bench never
//! leaves a server behind.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::Method;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use crate::BenchError;
use crate::client::Endpoint;
use crate::kubeconfig;

/// How to start a control plane.
#[derive(Clone, Debug)]
pub struct ControlPlaneSpec {
    pub exe: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
    /// `--store etcd --etcd-endpoints URL`, or embedded when `None`.
    pub etcd_endpoint: Option<String>,
}

pub struct ControlPlane {
    child: Child,
    pub pid: u32,
    pub endpoint: Endpoint,
    /// From spawn to the first 200 from `/readyz`.
    pub ready_after: Duration,
}

impl ControlPlaneSpec {
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.with_extension("log")
    }

    /// Spawn and wait until ready (at most `timeout`).
    pub async fn start(&self, timeout: Duration) -> Result<ControlPlane, BenchError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(BenchError::io(format!(
                "opening {}",
                self.log_path().display()
            )))?;
        let mut command = Command::new(&self.exe);
        command
            .arg("control-plane")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        if let Some(url) = &self.etcd_endpoint {
            command.args(["--store", "etcd", "--etcd-endpoints", url]);
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(BenchError::io(format!("spawning {}", self.exe.display())))?;
        let pid = child.id().unwrap_or_default();
        let mut endpoint = None;
        let endpoint = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(BenchError::io("polling the control plane"))?
            {
                return Err(self.died(status));
            }
            if started.elapsed() > timeout {
                return Err(BenchError::Timeout(format!(
                    "control plane not ready in {timeout:?}; log: {}",
                    self.log_path().display()
                )));
            }
            if endpoint.is_none() {
                // The kubeconfig appears once the server has its credentials (on a restart the
                // old one is valid: same CA); parse it once, not on every probe.
                endpoint = kubeconfig::load(&self.kubeconfig_path())
                    .ok()
                    .and_then(|c| Endpoint::new(&c).ok());
            }
            if let Some(ep) = &endpoint
                && probe(ep).await
            {
                break ep.clone();
            }
            // Short: the poll interval bounds the resolution of the start-to-ready figure.
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        Ok(ControlPlane {
            child,
            pid,
            endpoint,
            ready_after: started.elapsed(),
        })
    }

    fn died(&self, status: std::process::ExitStatus) -> BenchError {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        BenchError::ControlPlane(format!(
            "exited with {status} before ready:\n{}",
            tail.join("\n")
        ))
    }
}

/// One readiness probe on a fresh connection, as a load balancer's health check would do.
async fn probe(endpoint: &Endpoint) -> bool {
    let mut drivers = JoinSet::new();
    match endpoint.connect(&mut drivers).await {
        Ok(conn) => conn.call(Method::GET, "/readyz", None).await.is_ok(),
        Err(_) => false,
    }
}

impl ControlPlane {
    /// Resident set size now, from /proc/PID/status.
    pub fn rss_bytes(&self) -> Result<u64, BenchError> {
        rss_bytes(self.pid)
    }

    /// SIGTERM, then wait for a clean exit (SIGKILL after `grace`).
    pub async fn stop(mut self, grace: Duration) -> Result<(), BenchError> {
        // `kill(1)` rather than libc: the workspace forbids unsafe code, and this is not timed.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                status.map_err(BenchError::io("waiting for the control plane"))?;
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                Err(BenchError::Timeout(format!(
                    "control plane did not exit within {grace:?} of SIGTERM"
                )))
            }
        }
    }
}

pub fn rss_bytes(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).map_err(BenchError::io(format!("reading {path}")))?;
    parse_vm_rss(&status).ok_or_else(|| BenchError::ControlPlane(format!("no VmRSS in {path}")))
}

/// `VmRSS:    12345 kB` → bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A free loopback TCP port (bind to 0, read, release). Racy in principle; fine on a bench box.
pub fn free_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(BenchError::io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(BenchError::io("finding a free port"))?
        .port())
}

pub fn ensure_dir(path: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(path).map_err(BenchError::io(format!("creating {}", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn vm_rss() {
        let status = "Name:\tkeelson\nVmPeak:\t  99999 kB\nVmRSS:\t   34816 kB\nThreads:\t3\n";
        assert_eq!(super::parse_vm_rss(status), Some(34816 * 1024));
        assert_eq!(super::parse_vm_rss("Name: x\n"), None);
    }
}
