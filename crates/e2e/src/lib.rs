//! Test harness: start and stop real `keelson control-plane` processes.
//!
//! The binary is found through `KEELSON_BIN`, else in the cargo target directory
//! (`CARGO_TARGET_DIR` or `target/`) under `debug/keelson`. The test command builds it first.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;

pub fn keelson_bin() -> PathBuf {
    if let Ok(path) = std::env::var("KEELSON_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug").join("keelson")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A control plane process with its own data directory; killed when dropped.
pub struct ControlPlane {
    pub data_dir: tempfile::TempDir,
    pub port: u16,
    pub version: String,
    child: Option<Child>,
}

impl ControlPlane {
    pub fn start(version: &str) -> anyhow::Result<ControlPlane> {
        let mut plane = ControlPlane {
            data_dir: tempfile::tempdir()?,
            port: free_port()?,
            version: version.into(),
            child: None,
        };
        plane.launch()?;
        Ok(plane)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.path().join("admin.kubeconfig")
    }

    /// A kube-rs client with the admin credentials.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("control-plane.log"))?;
        let child = Command::new(keelson_bin())
            .arg("control-plane")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--kubernetes-version")
            .arg(&self.version)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", keelson_bin().display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("control plane exited with {status}: {}", self.log_tail());
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.kubeconfig().exists();
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("control plane not ready: {}", self.log_tail())
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir.path().join("control-plane.log"))
            .unwrap_or_default();
        log.chars()
            .rev()
            .take(4000)
            .collect::<String>()
            .chars()
            .rev()
            .collect()
    }

    /// Stop (SIGKILL when `crash`, else SIGTERM) and start again on the same data directory.
    pub fn restart(&mut self, crash: bool) -> anyhow::Result<()> {
        self.stop(crash);
        self.launch()
    }

    pub fn stop(&mut self, crash: bool) {
        if let Some(mut child) = self.child.take() {
            if crash {
                let _ = child.kill();
            } else {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Poll `check` until it yields a value or `timeout` passes; the error names what was awaited
/// and the last thing `check` reported.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => {
                bail!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Wait until `namespace` has its default ServiceAccount, which the service-account controller
/// creates and without which the ServiceAccount admission refuses pods there.
pub async fn wait_for_default_service_account(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), namespace);
    eventually(
        &format!("the default service account in {namespace}"),
        timeout,
        || async {
            let account = accounts
                .get_opt("default")
                .await
                .map_err(|e| e.to_string())?;
            account.map(|_| ()).ok_or_else(|| "absent".to_string())
        },
    )
    .await
}

/// Make sure `namespace` can hold pods: give the service-account controller a few seconds to
/// add the default account, then add it as a cluster admin could, so tests about other things
/// do not depend on that controller's timing.
pub async fn ensure_default_service_account(
    client: &kube::Client,
    namespace: &str,
) -> anyhow::Result<()> {
    let waited = wait_for_default_service_account(client, namespace, Duration::from_secs(5)).await;
    if waited.is_ok() {
        return Ok(());
    }
    let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), namespace);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop(true);
    }
}
